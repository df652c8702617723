"""DenseNet-121, the paper's visual backbone: 1024×7×7 grid features at 224 px."""
from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision
from torchvision.models import DenseNet121_Weights

from .base import TorchvisionBackbone
from .config import BackboneConfig

# torchvision's published DenseNet files use the old names 'norm.1', 'conv.2', ...
_LEGACY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\."
                     r"((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$")


class DenseNet121(TorchvisionBackbone):
    """torchvision ``densenet121`` up to the final norm + ReLU (what its classifier pools)."""

    @dataclass
    class Config(BackboneConfig):
        #: Recompute dense layers' concatenations in backward (less memory, slower).
        memory_efficient: bool = False

    arch = "densenet121"
    weights_enum = DenseNet121_Weights
    head_prefixes = ("classifier.",)
    out_channels = 1024

    def build(self, config: BackboneConfig) -> None:
        efficient = bool(getattr(config, "memory_efficient", False))
        self.features = torchvision.models.densenet121(weights=None, memory_efficient=efficient).features

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        return F.relu(self.features(images))

    def remap_key(self, key: str) -> str:
        m = _LEGACY.match(key)
        return m.group(1) + m.group(2) if m else key
