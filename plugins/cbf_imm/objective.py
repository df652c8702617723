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
  (one-stream encoder), so a negative pair is not fully independent of its own image: the
  encoder can score the true pair high from what each side saw of the other, and that learns
  nothing that separates pairs when they are encoded jointly (retrieval stays at chance).
  On the ``dual`` view (image and report each attend only to themselves) that leak is gone
  and the in-batch form is sound: give IMM ``views: ['dual']`` and a ``dual`` sampler ratio.
- ``mode="matched"``: the one-stream way (as image–text matching in UNITER/ALBEF): each
  negative pair is *encoded jointly* — image i with report i+s, s = 1..``negatives``, one extra
  encoder pass per s on the step's own view — and S/τ of the true pair is ranked against
  them by cross-entropy, image→report and report→image. This is the comparison retrieval
  makes on the s2s and bi views; on the demo it did not lift retrieval above chance (with
  the printed pooling; the contrastive mode on ``dual`` with ``pooling="weighted"`` did,
  see recipes/demo_imm.jsonnet).
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
from cbf_imm.matching import contrastive_loss, matched_loss, matching_score, paper_loss, score_matrix

#: Batch fields that belong to the report: rolled together to pair image i with report i+s.
REPORT_FIELDS = ("input_ids", "text_ids", "text_mask", MESH_TAGS, "text_positions", "text_visibility")


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
        mode: Literal["paper", "contrastive", "matched"] = "paper"
        #: "printed": eq. 7 as printed (s_l = β_l·cos, so S carries a log(n)/ρ2 length term that
        #: swamps the image's share, ≤ ~2/n); "weighted" (ours): S = (1/ρ2)·log Σ β_l·exp(ρ2·cos_l),
        #: no length term — see cbf_imm.matching
        pooling: Literal["printed", "weighted"] = "printed"
        #: ``mode="matched"`` only: negative pairs per true pair, each one more encoder pass
        negatives: int = 1
        #: not in the paper: subtract the mean word vector and the mean region vector before
        #: the cosines (batch means while training, running means at inference, as batch norm
        #: does). The encoder's outputs share one large common direction (between the demo's
        #: visual tokens the mean pairwise cosine is 0.999), which puts every cosine near 1
        #: whatever the image; centring leaves the part that differs between studies.
        center: bool = False
        center_momentum: float = 0.1

        def validate(self) -> None:
            check_objective_options(self.views, self.weight)
            if "mmm" in self.views:
                raise ValueError("IMM must not run on the 'mmm' view: the paper excludes MMM samples from "
                                 "eq. 7 (their MeSH words were replaced)")
            if self.k < 1:
                raise ValueError("k must be >= 1")
            if self.rho1 <= 0 or self.rho2 <= 0 or self.tau <= 0:
                raise ValueError("rho1, rho2 and tau must be > 0")
            if self.negatives < 1:
                raise ValueError("negatives must be >= 1")
            if not 0 < self.center_momentum <= 1:
                raise ValueError("center_momentum must be in (0, 1]")

    def __init__(self, config: "ImageMeshMatching.Config", ctx: BuildContext) -> None:
        super().__init__(config)
        self.sep_id = ctx.tokenizer.sep_id
        # the model, for the negative pairs' extra passes; kept out of this module's parameters
        self._shared = {"model": getattr(ctx, "model", None)}
        self.last_attention: torch.Tensor | None = None
        self.last_word_mask: torch.Tensor | None = None
        self.last_scores: torch.Tensor | None = None
        if config.center:
            hidden = ctx.hidden_size
            self.register_buffer("word_mean", torch.zeros(hidden))
            self.register_buffer("region_mean", torch.zeros(hidden))

    def score_options(self) -> dict[str, Any]:
        """The configured keyword arguments of :func:`matching_score` / :func:`score_matrix`."""
        cfg = self.config
        return dict(k=cfg.k, rho1=cfg.rho1, rho2=cfg.rho2, sparse=cfg.sparsity, pooling=cfg.pooling)

    def features(self, words: torch.Tensor, regions: torch.Tensor, word_mask: torch.Tensor,
                 region_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The vectors the score compares: the encoder outputs, centred when ``center``."""
        if not self.config.center:
            return words, regions
        if self.training:
            word_mean = words[word_mask.bool()].float().mean(0)
            region_mean = regions[region_mask.bool()].float().mean(0)
            with torch.no_grad():
                m = self.config.center_momentum
                self.word_mean.lerp_(word_mean.detach().to(self.word_mean.dtype), m)
                self.region_mean.lerp_(region_mean.detach().to(self.region_mean.dtype), m)
        else:
            word_mean, region_mean = self.word_mean, self.region_mean
        return words.float() - word_mean, regions.float() - region_mean

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
        words, regions = self.features(words, regions, word_mask, region_mask)
        args = dict(self.score_options(), region_mask=region_mask, return_attention=True)
        if cfg.mode == "paper":
            scores, alpha = matching_score(words, regions, tags, word_mask, **args)
            loss = paper_loss(scores, cfg.tau)
        elif cfg.mode == "matched":
            n = min(cfg.negatives, int(rows.sum()) - 1)
            if n < 1:
                return None  # nothing to contrast with
            scores, alpha = matching_score(words, regions, tags, word_mask, **args)
            subset = {k: v[rows] for k, v in batch.items() if k in REPORT_FIELDS or k in ("images", "image_mask")}
            negatives = [self._negative_scores(subset, out.attention, shift) for shift in range(1, n + 1)]
            loss = matched_loss(scores, negatives, cfg.tau)
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

    def _negative_scores(self, batch: dict[str, Any], attention: str, shift: int) -> torch.Tensor:
        """S(image i, report i+shift) for every row, from one joint encoder pass of those pairs."""
        model = self._shared["model"]
        if model is None:
            raise RuntimeError("imm mode 'matched' encodes negative pairs and needs the model (BuildContext.model)")
        rolled = {k: (torch.roll(v, -shift, dims=0) if k in REPORT_FIELDS and torch.is_tensor(v) else v)
                  for k, v in batch.items()}
        out = model(rolled, attention)
        word_mask = imm_word_mask(rolled, self.sep_id)
        words, regions = self.features(out.text, out.visual, word_mask, out.visual_valid)
        return matching_score(words, regions, rolled[MESH_TAGS], word_mask, region_mask=out.visual_valid,
                              **self.score_options())

