"""Report length from the image: a small, real objective written outside cbf.

Generated reports that are too short or too long are a known failure of report generation
(the paper's Fig. 7 compares length distributions). This objective asks the image-only
summary E[CLS] to predict the report's length bucket. Under the s2s view the image segment
cannot see the text, so the task is not trivially solvable from the words.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cbf.api import BuildContext, Objective


class ReportLength(Objective):
    @dataclass
    class Config:
        weight: float = 0.1
        views: list[str] = field(default_factory=lambda: ["s2s"])
        bucket_edges: list[int] = field(default_factory=lambda: [10, 20, 30, 45, 60])

        def validate(self) -> None:
            if self.bucket_edges != sorted(self.bucket_edges):
                raise ValueError("bucket_edges must be increasing")

    def __init__(self, config: "ReportLength.Config", ctx: BuildContext) -> None:
        super().__init__(config)
        self.register_buffer("edges", torch.tensor(config.bucket_edges), persistent=False)
        self.classifier = nn.Linear(ctx.hidden_size, len(config.bucket_edges) + 1)

    def forward(self, out: Any, batch: dict[str, Any], view: str) -> torch.Tensor:
        lengths = batch["text_mask"].sum(dim=1)  # report tokens + closing [SEP]
        target = torch.bucketize(lengths, self.edges)
        return F.cross_entropy(self.classifier(out.cls).float(), target)
