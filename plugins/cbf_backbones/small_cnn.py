"""A small VGG-style CNN for CPU demos: five stride-2 conv-BN-ReLU stages (H/32 grid), about
10× fewer FLOPs than ResNet-18 at the same input size. It exists because the bundled demo
must learn in minutes on a laptop CPU without ImageNet weights; the paper's DenseNet-121
stays the default in the paper recipes."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from cbf.api import Backbone
from cbf.errors import CheckpointError

from .weights import read_state_dict


class SmallCNN(Backbone):
    @dataclass
    class Config:
        channels: list[int] = field(default_factory=lambda: [32, 64, 128, 192, 256])
        pretrained: str | None = None  # a local state dict saved from this module
        freeze: bool = False
        channels_last: bool = True

        def validate(self) -> None:
            if len(self.channels) < 1 or min(self.channels) < 1:
                raise ValueError("channels must be a non-empty list of positive widths")

    reduction = 2 ** 5

    def __init__(self, config: "SmallCNN.Config | None" = None, *args: object, **kwargs: object) -> None:
        super().__init__()
        self.config = config or self.Config()
        layers: list[nn.Module] = []
        c_in = 3
        for c in self.config.channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            c_in = c
        self.features = nn.Sequential(*layers)
        self.reduction = 2 ** len(self.config.channels)
        self.out_channels = c_in
        if self.config.pretrained:
            state = read_state_dict(self.config.pretrained)
            missing, unexpected = self.load_state_dict(state, strict=False)
            if missing or unexpected:
                raise CheckpointError(f"{self.config.pretrained}: does not fit small_cnn "
                                      f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
        if self.config.channels_last:
            self.to(memory_format=torch.channels_last)
        self._frozen = False
        if self.config.freeze:
            self._frozen = True
            self.freeze()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.features(images)

    def train(self, mode: bool = True) -> "SmallCNN":
        return super().train(mode and not getattr(self, "_frozen", False))
