"""Token corruption shared by every masked-prediction objective (MLM, MMM, fine-tuning).

BERT's recipe: choose target positions, then replace 80% of them with [MASK], 10% with a
random token from a pool, and keep 10%. Plugins call this rather than re-implementing it so
that the statistics are the same everywhere (and tested once).
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def ordinary_ids(tokenizer: Any) -> list[int]:
    """Every vocabulary id but the tokenizer's special tokens: the default replacement pool."""
    special = tokenizer.special_ids
    return [i for i in range(len(tokenizer.vocab)) if i not in special]


def choose_positions(candidates: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """Pick ``max(1, round(rate·n))`` of each row's ``n`` candidate positions uniformly.

    A fixed count per row (VLP's choice) rather than independent coin flips keeps short
    reports from getting no target at all. Rows without candidates get none.
    """
    candidates = candidates.bool()
    n = candidates.sum(dim=1)
    k = torch.clamp(torch.round(n.float() * rate), min=1).long()
    k = torch.minimum(k, n)
    scores = torch.rand(candidates.shape, generator=generator, device="cpu").to(candidates.device)
    scores = scores.masked_fill(~candidates, -1.0)
    order = scores.argsort(dim=1, descending=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(order.shape[1], device=order.device).expand_as(order))
    return (ranks < k[:, None]) & candidates


def corrupt(input_ids: torch.Tensor, targets: torch.Tensor, mask_id: int, pool: torch.Tensor,
            generator: torch.Generator, mask_prob: float = 0.8, random_prob: float = 0.1
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt ``targets`` positions of ``input_ids``; returns (new input ids, labels).

    Labels hold the original id at target positions and ``IGNORE_INDEX`` elsewhere. Random
    replacements are drawn uniformly from ``pool`` (1-D tensor of token ids).
    """
    targets = targets.bool()
    labels = torch.where(targets, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    u = torch.rand(input_ids.shape, generator=generator, device="cpu").to(input_ids.device)
    to_mask = targets & (u < mask_prob)
    to_random = targets & (u >= mask_prob) & (u < mask_prob + random_prob)
    out = input_ids.clone()
    out[to_mask] = mask_id
    if pool.numel() and to_random.any():
        pick = torch.randint(pool.numel(), (int(to_random.sum()),), generator=generator, device="cpu")
        out[to_random] = pool.to(input_ids.device)[pick.to(input_ids.device)]
    return out, labels


def check_probs(mask_token_prob: float, random_token_prob: float) -> None:
    """ValueError unless the 80/10/10-style probabilities are >= 0 and sum to <= 1."""
    if min(mask_token_prob, random_token_prob) < 0:
        raise ValueError("mask_token_prob and random_token_prob must be >= 0")
    if mask_token_prob + random_token_prob > 1:
        raise ValueError("mask_token_prob + random_token_prob must be <= 1")


def masked_token_loss(head: Callable[[torch.Tensor], torch.Tensor], text_hidden: torch.Tensor,
                      labels: torch.Tensor) -> torch.Tensor | None:
    """Cross-entropy of ``head`` (the shared prediction head) at the labelled text slots;
    ``None`` when nothing is labelled. Logits in float32, whatever the autocast dtype."""
    selected = labels != IGNORE_INDEX
    if not selected.any():
        return None
    return F.cross_entropy(head(text_hidden[selected]).float(), labels[selected])
