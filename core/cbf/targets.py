"""CheXpert values (1 positive, 0 negative, -1 uncertain, nan not mentioned; the ``chexpert``
field) → 0/1 training targets, for every objective, head and stage that learns or scores them.

The paper uses "U-Zeros": only positives are 1. "U-Ones" (uncertain counts as positive) is
the other policy of the CheXpert paper, offered for comparison.
"""
from __future__ import annotations

import torch


def u_zeros(chexpert: torch.Tensor) -> torch.Tensor:
    """1 → 1; 0, -1 and nan → 0 (the paper's policy)."""
    return (chexpert == 1).to(torch.float32)


def u_ones(chexpert: torch.Tensor) -> torch.Tensor:
    """1 and -1 → 1; 0 and nan → 0."""
    return ((chexpert == 1) | (chexpert == -1)).to(torch.float32)


def uncertainty_targets(chexpert: torch.Tensor, policy: str) -> torch.Tensor:
    if policy == "zeros":
        return u_zeros(chexpert)
    if policy == "ones":
        return u_ones(chexpert)
    raise ValueError(f"unknown uncertainty policy {policy!r}; use 'zeros' (U-Zeros) or 'ones' (U-Ones)")


__all__ = ["u_ones", "u_zeros", "uncertainty_targets"]
