"""The findings plan: the decoder writes the study's positive findings first, then the report.

Not in the paper; an option of the RRG head (``findings_plan: true``) for small data and short
runs. Trained as the paper's decoder is, a model learns the report's template long before it
learns to look at the image: the words that depend on the image are few and late ("the heart
is *enlarged*"), so beam search writes the most frequent report for every study. With a plan
the first words the decoder writes — "cardiomegaly effusion ." or "normal ." — have no left
context at all and depend on the image alone, a dense, diagnosis-like signal on every study;
the report is then written conditioned on the plan. The plan is cut from the output, so that
evaluation sees a report only.

The plan's words are ordinary report words (``PLAN_WORDS``, one per CheXpert observation, in
CheXpert order, at most ``MAX_PLAN_WORDS``) ended by ".", so that no vocabulary change is
needed. "normal" and "." must be in the vocabulary; a finding whose word is not (the training
reports hardly name it) is left out of the plans, with a warning that names it.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import torch

from cbf.api import Tokenizer
from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS

#: One report word per CheXpert observation ("No Finding" → "normal"), CheXpert order.
PLAN_WORDS: dict[str, str] = {
    "No Finding": "normal",
    "Enlarged Cardiomediastinum": "mediastinum",
    "Cardiomegaly": "cardiomegaly",
    "Lung Lesion": "nodule",
    "Lung Opacity": "opacity",
    "Edema": "edema",
    "Consolidation": "consolidation",
    "Pneumonia": "pneumonia",
    "Atelectasis": "atelectasis",
    "Pneumothorax": "pneumothorax",
    "Pleural Effusion": "effusion",
    "Pleural Other": "thickening",
    "Fracture": "fracture",
    "Support Devices": "device",
}
PLAN_END = "."
#: findings beyond this many (in CheXpert order) are left out of the plan
MAX_PLAN_WORDS = 4


class FindingsPlan:
    def __init__(self, tokenizer: Tokenizer) -> None:
        def known(word: str) -> bool:
            return tokenizer.token_id(word) != tokenizer.unk_id

        required = [w for w in (PLAN_WORDS["No Finding"], PLAN_END) if not known(w)]
        if required:
            raise ValueError(f"rrg findings_plan: the vocabulary lacks {required}, which every plan needs; "
                             f"lower the tokenizer's min_count or turn findings_plan off")
        unknown = [f"{label} ({PLAN_WORDS[label]!r})" for label in CHEXPERT_LABELS if not known(PLAN_WORDS[label])]
        if unknown:
            warnings.warn(f"rrg findings_plan: no vocabulary word for {', '.join(unknown)}; these findings are "
                          f"left out of the plans", stacklevel=2)
        #: plan word id per CheXpert observation, None where the vocabulary lacks the word
        self.word_ids: list[int | None] = [tokenizer.token_id(PLAN_WORDS[label]) if known(PLAN_WORDS[label])
                                           else None for label in CHEXPERT_LABELS]
        self.end_id = tokenizer.token_id(PLAN_END)
        self.pad_id = tokenizer.pad_id
        #: the longest plan, its end included
        self.max_length = MAX_PLAN_WORDS + 1

    def words(self, chexpert_row: Sequence[float]) -> list[int]:
        """Plan ids of one study: its positive findings (1.0; uncertain and blank are not),
        "normal" when there are none, then the end word."""
        positive = [self.word_ids[i] for i, v in enumerate(chexpert_row)
                    if i > 0 and v == 1 and self.word_ids[i] is not None]
        return (positive[:MAX_PLAN_WORDS] or [self.word_ids[0]]) + [self.end_id]

    def prepend(self, batch: dict[str, Any]) -> None:
        """Rewrite the batch's report fields to plan + report (before any masking)."""
        if "chexpert" not in batch:
            raise DataError("rrg findings_plan needs CheXpert labels (batch field 'chexpert'): add a labeler "
                            "annotator such as {type: 'chexpert_rules'} to data.annotators")
        text, real = batch["text_ids"], batch["text_mask"].bool()
        if not torch.equal(batch["input_ids"], text) or "text_positions" in batch:
            raise ValueError("rrg findings_plan must rewrite the report before any objective changes it; "
                             "another objective changed the text on this view first")
        plans = [self.words(row) for row in batch["chexpert"].tolist()]
        width = max(len(p) for p in plans) + text.shape[1]
        new_text = torch.full((text.shape[0], width), self.pad_id, dtype=text.dtype, device=text.device)
        new_real = torch.zeros(text.shape[0], width, dtype=torch.bool, device=text.device)
        tags = batch.get("mesh_tags")
        new_tags = torch.zeros_like(new_text) if tags is not None else None
        for b, plan in enumerate(plans):
            n, m = len(plan), int(real[b].sum())
            new_text[b, :n] = torch.tensor(plan, dtype=text.dtype)
            new_text[b, n:n + m] = text[b, real[b]]
            new_real[b, :n + m] = True
            if new_tags is not None:
                new_tags[b, n:n + m] = tags[b, real[b]]
        used = int(new_real.sum(1).max())
        batch["text_ids"], batch["input_ids"] = new_text[:, :used], new_text[:, :used].clone()
        batch["text_mask"] = new_real[:, :used]
        if new_tags is not None:
            batch["mesh_tags"] = new_tags[:, :used]

    def strip(self, ids: list[int]) -> list[int]:
        """The report after the plan: everything after the first end word within the plan's
        length (unchanged when the decoder wrote no plan end there)."""
        head = ids[: self.max_length]
        return ids[head.index(self.end_id) + 1:] if self.end_id in head else ids
