"""Per-class AUROC and their mean, for radiograph diagnosis (NIH ChestX-ray14, Table 3).

AUROC is undefined for a class whose targets hold a single value in the evaluated data (a
rare finding absent from a small test split): such classes are reported as NaN, left out of
the mean, and counted (``AUROC_num_excluded``) and named (``AUROC_excluded``) so a mean over
fewer classes is never mistaken for one over all of them. A NaN *target* marks an unknown
label: that cell is ignored for its class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from cbf.fields import NIH_LABELS


class MultiLabelAUROC(Metric):
    """``update(preds, target)`` with (N, K) scores (probabilities or logits: AUROC only uses
    their order) and (N, K) 0/1 targets. ``compute()`` returns ``AUROC_<class>`` per class,
    ``AUROC_mean``, ``AUROC_num_classes`` (in the mean), ``AUROC_num_excluded`` and the string
    ``AUROC_excluded`` (comma-separated names, "" when none)."""

    @dataclass
    class Config:
        #: class names in column order; None: the NIH ChestX-ray14 order of the paper's Table 3
        #: (``cbf.fields.NIH_LABELS``), or ``class_0``… when ``num_classes`` differs from 14.
        class_names: Optional[list[str]] = None
        #: number of columns; None: ``len(class_names)`` (14 by default).
        num_classes: Optional[int] = None

        def validate(self) -> None:
            if self.num_classes is not None and self.num_classes < 1:
                raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
            if self.class_names is not None:
                if not self.class_names:
                    raise ValueError("class_names must not be empty")
                if len(set(self.class_names)) != len(self.class_names):
                    raise ValueError(f"class_names has duplicates: {self.class_names}")
                if self.num_classes is not None and self.num_classes != len(self.class_names):
                    raise ValueError(f"num_classes={self.num_classes} but {len(self.class_names)} "
                                     "class_names were given")

        def names(self) -> list[str]:
            if self.class_names is not None:
                return list(self.class_names)
            if self.num_classes is None or self.num_classes == len(NIH_LABELS):
                return list(NIH_LABELS)
            return [f"class_{i}" for i in range(self.num_classes)]

    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    full_state_update: ClassVar[bool] = False

    def __init__(self, config: Optional["MultiLabelAUROC.Config"] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config if config is not None else self.Config()
        self.config.validate()
        self.class_names = self.config.names()
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        preds = torch.as_tensor(preds)
        target = torch.as_tensor(target)
        k = self.num_classes
        if preds.ndim == 1 and k == 1:
            preds, target = preds[:, None], target.reshape(-1, 1)
        if preds.ndim != 2 or preds.shape[1] != k or target.shape != preds.shape:
            raise ValueError(f"MultiLabelAUROC.update: expected preds and target of shape (N, {k}), "
                             f"got {tuple(preds.shape)} and {tuple(target.shape)}")
        if not torch.isfinite(preds).all():
            raise ValueError("MultiLabelAUROC.update: preds contain NaN or inf")
        target = target.to(torch.float32)
        known = target[~torch.isnan(target)]
        if ((known != 0) & (known != 1)).any():
            raise ValueError("MultiLabelAUROC.update: targets must be 0, 1 (or NaN for unknown)")
        self.preds.append(preds.detach().to(torch.float64))  # float32 could tie distinct scores
        self.target.append(target.detach())

    def compute(self) -> dict[str, Any]:
        if not self.preds:
            raise ValueError("MultiLabelAUROC.compute: no data were given to update()")
        preds = dim_zero_cat(self.preds).cpu()
        target = dim_zero_cat(self.target).cpu()
        out: dict[str, Any] = {}
        used: list[float] = []
        excluded: list[str] = []
        for j, name in enumerate(self.class_names):
            valid = ~torch.isnan(target[:, j])
            t = target[valid, j]
            if t.numel() == 0 or t.min() == t.max():  # one label value only: AUROC undefined
                out[f"AUROC_{name}"] = math.nan
                excluded.append(name)
                continue
            value = rank_auroc(preds[valid, j], t.bool())
            out[f"AUROC_{name}"] = value
            used.append(value)
        out["AUROC_mean"] = sum(used) / len(used) if used else math.nan
        out["AUROC_num_classes"] = float(len(used))
        out["AUROC_num_excluded"] = float(len(excluded))
        out["AUROC_excluded"] = ",".join(excluded)
        return out


def rank_auroc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Exact AUROC as the Mann–Whitney statistic: P(score of a positive > score of a negative),
    ties counting one half (average ranks). Works on the raw scores, so no sigmoid can squash
    large logits into ties. Both classes must be present."""
    scores = scores.to(torch.float64).flatten()
    positive = positive.flatten().bool()
    order = torch.argsort(scores)
    _, inverse, counts = torch.unique_consecutive(scores[order], return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).to(torch.float64)  # 1-based rank of each tie group's last member
    average = ends - (counts.to(torch.float64) - 1) / 2
    ranks = torch.empty_like(scores)
    ranks[order] = average[inverse]
    n_pos = float(positive.sum())
    n_neg = float(positive.numel()) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise ValueError("rank_auroc needs both positive and negative examples")
    return (float(ranks[positive].sum()) - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


__all__ = ["MultiLabelAUROC", "rank_auroc"]
