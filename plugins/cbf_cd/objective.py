"""CD: the joint representation E[CLS] ⊙ E[first SEP] of a bi-encoded study goes through
FC → ReLU → FC to 14 logits; binary cross-entropy against the U-Zeros CheXpert targets,
averaged over the 14 observations and the batch (eq. 1)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from cbf.api import BuildContext, Objective, check_objective_options
from cbf.errors import DataError
from cbf.fields import CHEXPERT, CHEXPERT_LABELS
from cbf.targets import uncertainty_targets


class ClinicalDiagnosis(Objective):
    @dataclass
    class Config:
        weight: float = 1.0
        #: the paper trains CD with the bidirectional objective only
        views: list[str] = field(default_factory=lambda: ["bi"])
        #: width of the hidden FC layer; None = the encoder width
        hidden: int | None = None
        #: "zeros" = U-Zeros (paper), "ones" = U-Ones
        policy: Literal["zeros", "ones"] = "zeros"

        def validate(self) -> None:
            check_objective_options(self.views, self.weight)
            if self.hidden is not None and self.hidden < 1:
                raise ValueError("hidden must be >= 1 (or null for the encoder width)")

    num_labels = len(CHEXPERT_LABELS)

    def __init__(self, config: "ClinicalDiagnosis.Config", ctx: BuildContext) -> None:
        super().__init__(config)
        width = ctx.hidden_size
        hidden = config.hidden or width
        self.classifier = nn.Sequential(nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, self.num_labels))

    def logits(self, out: Any) -> torch.Tensor:
        """(B, 14) logits from the encoder output (sigmoid gives the paper's p_i)."""
        return self.classifier(out.cls * out.first_sep)

    def forward(self, out: Any, batch: dict[str, Any], view: str) -> torch.Tensor | None:
        if CHEXPERT not in batch:
            raise DataError("objective 'cd' needs CheXpert labels (batch field 'chexpert'): add a labeler "
                            "annotator such as {type: 'chexpert_rules'} to data.annotators, or use a dataset "
                            "that provides labels")
        labels = batch[CHEXPERT]
        if labels.ndim != 2 or labels.shape[1] != self.num_labels:
            raise DataError(f"objective 'cd': batch field 'chexpert' has shape {tuple(labels.shape)}, "
                            f"expected (batch, {self.num_labels}) in cbf.fields.CHEXPERT_LABELS order")
        targets = uncertainty_targets(labels, self.config.policy).to(out.hidden.device)
        return F.binary_cross_entropy_with_logits(self.logits(out).float(), targets)
