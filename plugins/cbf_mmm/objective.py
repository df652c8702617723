"""MMM: every MeSH-tagged word of a report is a target; 80% become [MASK], 10% a random
MeSH word, 10% stay (the core's shared corruption). Targets are predicted through the
prediction head the core model shares with MLM, under the s2s attention (view ``mmm``), so
each sees the image and the words to its left only (eq. 2). Rows without a MeSH word
contribute nothing; a batch without any returns no loss.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import torch

from cbf.api import BuildContext, Objective, check_objective_options
from cbf.errors import DataError
from cbf.fields import MESH_TAGS
from cbf.masking import corrupt, check_probs, masked_token_loss, ordinary_ids


def mesh_targets(batch: dict[str, Any]) -> torch.Tensor:
    """(B, L) bool: MeSH-tagged real words that no earlier objective has corrupted."""
    if MESH_TAGS not in batch:
        raise DataError("objective 'mmm' needs MeSH tags (batch field 'mesh_tags'): add a MeSH tagger "
                        "annotator such as {type: 'mesh'} to data.annotators")
    return (batch[MESH_TAGS] == 1) & batch["text_mask"].bool() & (batch["input_ids"] == batch["text_ids"])


class MaskedMeshModeling(Objective):
    @dataclass
    class Config:
        weight: float = 1.0
        #: view "mmm" runs the s2s attention on its own share of the steps (paper: s2s:bi:MMM = .5:.25:.25)
        views: list[str] = field(default_factory=lambda: ["mmm"])
        mask_token_prob: float = 0.8
        random_token_prob: float = 0.1

        def validate(self) -> None:
            check_objective_options(self.views, self.weight)
            check_probs(self.mask_token_prob, self.random_token_prob)

    labels_key = "mmm_labels"

    def __init__(self, config: "MaskedMeshModeling.Config", ctx: BuildContext) -> None:
        super().__init__(config)
        tok = ctx.tokenizer
        self.mask_id = tok.mask_id
        pool = sorted(set(ctx.mesh_token_ids) - tok.special_ids)
        if not pool:
            warnings.warn("objective 'mmm': no MeSH word in the training vocabulary (did a MeSH tagger run?); "
                          "random replacements are drawn from the whole vocabulary instead", stacklevel=2)
            pool = ordinary_ids(tok)
        self.register_buffer("pool", torch.tensor(pool, dtype=torch.long), persistent=False)
        # shared with MLM (and fine-tuning), so kept out of this module's parameters
        self._shared = {"head": ctx.model.prediction_head}

    def prepare(self, batch: dict[str, Any], view: str, generator: torch.Generator) -> None:
        targets = mesh_targets(batch)
        batch["input_ids"], labels = corrupt(batch["input_ids"], targets, self.mask_id, self.pool,
                                             generator, self.config.mask_token_prob,
                                             self.config.random_token_prob)
        batch[self.labels_key] = labels

    def forward(self, out: Any, batch: dict[str, Any], view: str) -> torch.Tensor | None:
        return masked_token_loss(self._shared["head"], out.text, batch[self.labels_key])
