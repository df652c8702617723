"""IMM as a training objective: scores this step's encoder outputs (IMM adds no masking of
its own) and turns them into a loss.

- Words: the text slots of the report's real words, i.e. ``text_mask`` without the closing
  [SEP] (it is no word of the report and never a MeSH word) and without padding. Words that
  MLM corrupted on the same step still count (MLM leaves MeSH words alone by default).
- Regions: the visual tokens of the study's existing views (``visual_valid``).
- ``mode="paper"``: loss = −S/τ averaged over the batch (eq. 7 as printed, positives only).
  ``mode="contrastive"``: S(image_i, report_j) for all B×B pairs; cross-entropy of S/τ with the
  true pair as the class, image→report and report→image, averaged. Negatives are the other
  studies of the same (micro-)batch. The words of report j were encoded together with image j
  (one-stream encoder), so a negative pair is not fully independent of its own image.
- Never on the ``mmm`` view: "the calculation of formula (7) excludes the samples involved in
  the MMM", whose MeSH words have been replaced.

``last_attention`` keeps the α (B, L, R) of the latest call (detached) for attention maps,
with ``last_word_mask`` (B, L) saying which word slots counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from cbf.api import BuildContext, Objective, check_objective_options
from cbf.errors import DataError
from cbf.fields import MESH_TAGS
from cbf_imm.matching import contrastive_loss, matching_score, paper_loss, score_matrix


def imm_word_mask(batch: dict[str, Any], sep_id: int) -> torch.Tensor:
    """(B, L) bool: the report's real words (no closing [SEP], no padding)."""
    return batch["text_mask"].bool() & (batch["text_ids"] != sep_id)


class ImageMeshMatching(Objective):
    @dataclass
    class Config:
        weight: float = 1.0
        views: list[str] = field(default_factory=lambda: ["s2s", "bi"])
        #: regions kept per word by the sparse attention (eq. 6); Table 5 sweeps 6..24
        k: int = 12
        rho1: float = 4.0
        rho2: float = 4.0
        tau: float = 0.01
        #: false: all regions with α from eq. 5 (Table 4's "w/o sparsity")
        sparsity: bool = True
        mode: Literal["paper", "contrastive"] = "paper"

        def validate(self) -> None:
            check_objective_options(self.views, self.weight)
            if "mmm" in self.views:
                raise ValueError("IMM must not run on the 'mmm' view: the paper excludes MMM samples from "
                                 "eq. 7 (their MeSH words were replaced)")
            if self.k < 1:
                raise ValueError("k must be >= 1")
            if self.rho1 <= 0 or self.rho2 <= 0 or self.tau <= 0:
                raise ValueError("rho1, rho2 and tau must be > 0")

    def __init__(self, config: "ImageMeshMatching.Config", ctx: BuildContext) -> None:
        super().__init__()
        self.config = config
        self.weight = config.weight
        self.views = frozenset(config.views)
        self.sep_id = ctx.tokenizer.sep_id
        self.last_attention: torch.Tensor | None = None
        self.last_word_mask: torch.Tensor | None = None
        self.last_scores: torch.Tensor | None = None

    def forward(self, out: Any, batch: dict[str, Any], view: str) -> torch.Tensor | None:
        if MESH_TAGS not in batch:
            raise DataError("objective 'imm' needs MeSH tags (batch field 'mesh_tags'): add a MeSH tagger "
                            "annotator such as {type: 'mesh'} to data.annotators")
        cfg = self.config
        word_mask = imm_word_mask(batch, self.sep_id)
        rows = word_mask.any(dim=1)
        if not rows.any():
            return None
        words, tags, word_mask = out.text[rows], batch[MESH_TAGS][rows], word_mask[rows]
        regions, region_mask = out.visual[rows], out.visual_valid[rows]
        args = dict(k=cfg.k, rho1=cfg.rho1, rho2=cfg.rho2, sparse=cfg.sparsity, region_mask=region_mask,
                    return_attention=True)
        if cfg.mode == "paper":
            scores, alpha = matching_score(words, regions, tags, word_mask, **args)
            loss = paper_loss(scores, cfg.tau)
        else:
            if words.shape[0] < 2:
                return None  # nothing to contrast with
            matrix, alpha_all = score_matrix(words, regions, tags, word_mask, **args)
            diag = torch.arange(matrix.shape[0], device=matrix.device)
            scores, alpha = matrix[diag, diag], alpha_all[diag, diag]
            loss = contrastive_loss(matrix, cfg.tau)
        self.last_attention = alpha.detach()
        self.last_word_mask = word_mask.detach()
        self.last_scores = scores.detach()
        return loss
