"""Which attention view each training step uses: s2s : bi : MMM with the recipe's ratios.

The draw for step ``s`` depends only on (seed, s), so a resumed run, or another DDP rank,
draws exactly the same views without carrying sampler state around.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cbf.api import VIEW_ATTENTION


class WeightedViewSampler:
    @dataclass
    class Config:
        ratios: dict[str, float] = field(default_factory=lambda: {"s2s": 0.5, "bi": 0.25, "mmm": 0.25})

        def validate(self) -> None:
            unknown = sorted(set(self.ratios) - set(VIEW_ATTENTION))
            if unknown:
                raise ValueError(f"unknown view(s) {unknown}; known views: {sorted(VIEW_ATTENTION)}")
            if any(r < 0 for r in self.ratios.values()) or sum(self.ratios.values()) <= 0:
                raise ValueError("view ratios must be >= 0 and sum to more than 0")

    def __init__(self, config: "WeightedViewSampler.Config | None" = None, *args: object, **kwargs: object) -> None:
        self.config = config or self.Config()
        self.views = [v for v, r in self.config.ratios.items() if r > 0]
        self.weights = torch.tensor([self.config.ratios[v] for v in self.views], dtype=torch.float64)

    def sample(self, step: int, seed: int) -> str:
        g = torch.Generator().manual_seed((seed * 1_000_003 + step * 7919 + 17) % (2**63))
        return self.views[int(torch.multinomial(self.weights, 1, generator=g))]
