"""Precision/recall/F1 from binary label matrices: the three averagings, stated exactly.

Kept apart from the metric so the definitions can be read (and tested) in one place.

* **micro**: pool every (report, class) cell: P = ΣTP / (ΣTP + ΣFP), R = ΣTP / (ΣTP + ΣFN),
  F1 = 2PR / (P + R).
* **macro**: P, R, F1 per class, then their unweighted mean over the classes scored (sklearn's
  ``average="macro"``: the mean of per-class F1, not the F1 of mean P and R).
* **example-based**: per report, with Ŷ its predicted and Y its reference positive sets,
  P = |Ŷ∩Y| / |Ŷ|, R = |Ŷ∩Y| / |Y|, F1 = 2|Ŷ∩Y| / (|Ŷ| + |Y|), averaged over reports.

Empty cases: any 0/0 ratio above is 0 (sklearn's ``zero_division=0``), except one: a report
whose predicted and reference positive sets are *both* empty scores P = R = F1 = 1 in the
example-based average (the two agree exactly). A class that never occurs in the references and
is never predicted scores 0 in the macro average (it is still one of the classes scored; its
support, 0, is reported beside it).
"""
from __future__ import annotations

import torch


def _ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """num / den elementwise, 0 where den == 0."""
    num = num.to(torch.float64)
    den = den.to(torch.float64)
    return torch.where(den > 0, num / den.clamp_min(1e-300), torch.zeros_like(num))


def f1_from(precision: torch.Tensor, recall: torch.Tensor) -> torch.Tensor:
    return _ratio(2 * precision * recall, precision + recall)


def confusion_counts(pred: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class TP, FP, FN of boolean (N, C) matrices."""
    tp = (pred & ref).sum(0)
    fp = (pred & ~ref).sum(0)
    fn = (~pred & ref).sum(0)
    return tp, fp, fn


def example_scores(pred: torch.Tensor, ref: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-report P, R, F1 of boolean (N, C) matrices (float64, length N)."""
    hit = (pred & ref).sum(1)
    n_pred = pred.sum(1)
    n_ref = ref.sum(1)
    both_empty = (n_pred == 0) & (n_ref == 0)
    one = torch.ones(pred.shape[0], dtype=torch.float64)
    precision = torch.where(both_empty, one, _ratio(hit, n_pred))
    recall = torch.where(both_empty, one, _ratio(hit, n_ref))
    f1 = torch.where(both_empty, one, _ratio(2 * hit, n_pred + n_ref))
    return precision, recall, f1


def averaged_scores(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> dict[str, torch.Tensor]:
    """Micro and macro P/R/F1 and the per-class ones, from per-class counts."""
    p_class = _ratio(tp, tp + fp)
    r_class = _ratio(tp, tp + fn)
    f_class = f1_from(p_class, r_class)
    p_micro = _ratio(tp.sum(), (tp + fp).sum())
    r_micro = _ratio(tp.sum(), (tp + fn).sum())
    return {
        "micro_precision": p_micro,
        "micro_recall": r_micro,
        "micro_f1": f1_from(p_micro, r_micro),
        "macro_precision": p_class.mean(),
        "macro_recall": r_class.mean(),
        "macro_f1": f_class.mean(),
        "class_precision": p_class,
        "class_recall": r_class,
        "class_f1": f_class,
    }


__all__ = ["averaged_scores", "confusion_counts", "example_scores", "f1_from"]
