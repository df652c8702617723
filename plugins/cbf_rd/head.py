"""Radiograph diagnosis (paper, "Downstream Tasks"): the encoder runs on ``[CLS] f… [SEP]`` only
(``uses_text = False``) under the bi view, one FC layer maps E[CLS] to K logits, and a sigmoid
gives each finding's probability; a finding is positive at ``threshold`` (paper: 0.5).

Targets are the dataset's task labels (``batch["labels"]``: NIH ChestX-ray14's 14 findings in
:data:`cbf.fields.NIH_LABELS` order, COV-CTR's COVID label, …) or, with ``target: "chexpert"``,
the 14 CheXpert observations under U-Zeros (1 → 1; 0, -1 uncertain and blank → 0), e.g. for
the demo set whose labels come from the labeler. A NaN task label is left out of the loss.

``features: "visual_mean"`` (not in the paper) classifies the mean of the projected backbone
features instead of E[CLS], bypassing the encoder, as a linear probe of the backbone does. It
exists to teach a backbone that starts from scratch (the demo's CNN; no ImageNet weights
offline): on the demo's phantoms this path reaches Cardiomegaly AUROC 0.8 within 50 steps,
while through E[CLS] a from-scratch model is still near 0.6 after 300.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from cbf.api import BuildContext, Head, check_objective_options
from cbf.errors import DataError
from cbf.fields import CHEXPERT, CHEXPERT_LABELS, LABELS, NIH_LABELS
from cbf.model.clinical_bert import mean_visual
from cbf.targets import u_zeros


class RadiographDiagnosisHead(Head):
    task: ClassVar[str] = "classification"
    uses_text = False

    @dataclass
    class Config:
        weight: float = 1.0
        views: list[str] = field(default_factory=lambda: ["bi"])
        #: "labels": the dataset's task labels; "chexpert": CheXpert observations, U-Zeros
        target: Literal["labels", "chexpert"] = "labels"
        num_labels: int = 14
        #: names of the K outputs; default: NIH ChestX-ray14 (target labels, K = 14) or the
        #: CheXpert observations (target chexpert), else label_0 … label_{K-1}
        label_names: list[str] | None = None
        threshold: float = 0.5
        #: "cls": FC on E[CLS] (the paper); "visual_mean": FC on the mean projected backbone
        #: feature, before the encoder (a backbone warm-up for from-scratch CNNs)
        features: Literal["cls", "visual_mean"] = "cls"

        def validate(self) -> None:
            if self.num_labels < 1:
                raise ValueError(f"num_labels must be >= 1, got {self.num_labels}")
            if self.target == "chexpert" and self.num_labels != len(CHEXPERT_LABELS):
                raise ValueError(f"target 'chexpert' has {len(CHEXPERT_LABELS)} labels; num_labels is "
                                 f"{self.num_labels}")
            if self.label_names is not None:
                if len(self.label_names) != self.num_labels:
                    raise ValueError(f"label_names has {len(self.label_names)} names for num_labels="
                                     f"{self.num_labels}")
                if len(set(self.label_names)) != len(self.label_names):
                    raise ValueError("label_names must be unique")
            if not 0 < self.threshold < 1:
                raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")
            check_objective_options(self.views, self.weight)

        def names(self) -> list[str]:
            if self.label_names is not None:
                return list(self.label_names)
            if self.target == "chexpert":
                return list(CHEXPERT_LABELS)
            if self.num_labels == len(NIH_LABELS):
                return list(NIH_LABELS)
            return [f"label_{i}" for i in range(self.num_labels)]

    def __init__(self, config: "RadiographDiagnosisHead.Config", ctx: BuildContext) -> None:
        super().__init__(config)
        self.label_names: list[str] = config.names()
        self.threshold = config.threshold
        self.classifier = nn.Linear(ctx.hidden_size, config.num_labels)
        nn.init.normal_(self.classifier.weight, std=0.02)
        nn.init.zeros_(self.classifier.bias)

    def logits(self, out: Any) -> torch.Tensor:
        if self.config.features == "cls":
            return self.classifier(out.cls)
        return self.classifier(mean_visual(out.visual_input, out.visual_valid))

    def targets(self, batch: dict[str, Any]) -> torch.Tensor:
        """(B, K) float targets, NaN where unknown (left out of the loss)."""
        key = CHEXPERT if self.config.target == "chexpert" else LABELS
        if key not in batch:
            hint = (" (use target: 'chexpert' when the labels come from a labeler)" if key == LABELS
                    else " (add a CheXpert labeler to data.annotators)")
            raise DataError(f"head 'rd' with target {self.config.target!r} needs the batch field {key!r}, "
                            f"which this dataset does not provide{hint}")
        y = batch[key].float()
        if y.dim() != 2 or y.shape[1] != self.config.num_labels:
            raise DataError(f"head 'rd': batch field {key!r} has shape {tuple(y.shape)}, expected "
                            f"(batch, {self.config.num_labels}) (set num_labels to the dataset's label count)")
        if self.config.target == "chexpert":  # U-Zeros: positive stays 1; negative, uncertain, blank → 0
            return u_zeros(y)
        return y

    def forward(self, out: Any, batch: dict[str, Any], view: str) -> torch.Tensor | None:
        y = self.targets(batch).to(out.hidden.device)
        known = ~torch.isnan(y)
        if not known.any():
            return None
        logits = self.logits(out).float()
        return F.binary_cross_entropy_with_logits(logits[known], y[known])

    @torch.no_grad()
    def predict(self, model: Any, batch: dict[str, Any]) -> torch.Tensor:
        """(B, K) probabilities for ``batch`` (``images``, ``image_mask``), in ``label_names`` order."""
        device = next(model.parameters()).device
        inputs = {"images": batch["images"].to(device), "image_mask": batch["image_mask"].to(device)}
        was_training, head_training = model.training, self.training
        model.eval()
        self.eval()
        try:
            out = model(inputs, "bi", use_text=False)
            return torch.sigmoid(self.logits(out).float())
        finally:
            model.train(was_training)
            self.train(head_training)
