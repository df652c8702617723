"""ResNet trunks: the last conv stage before global pooling (stride 32)."""
from __future__ import annotations

import torch
import torchvision
from torchvision.models import ResNet18_Weights, ResNet50_Weights

from .base import TorchvisionBackbone
from .config import BackboneConfig


class _ResNet(TorchvisionBackbone):
    head_prefixes = ("fc.",)

    def build(self, config: BackboneConfig) -> None:
        net = getattr(torchvision.models, self.arch)(weights=None)
        # torchvision's own attribute names, so its state dicts load unchanged
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(images))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


class ResNet50(_ResNet):
    """torchvision ``resnet50``: 2048×7×7 at 224 px."""

    arch = "resnet50"
    weights_enum = ResNet50_Weights
    out_channels = 2048


class ResNet18(_ResNet):
    """torchvision ``resnet18``: 512×4×4 at 128 px; cheap enough for the CPU demo."""

    arch = "resnet18"
    weights_enum = ResNet18_Weights
    out_channels = 512


__all__ = ["ResNet18", "ResNet50"]
