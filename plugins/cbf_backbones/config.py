"""The options every torchvision backbone takes (bound from a recipe's ``backbone`` block)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BackboneConfig:
    """``pretrained``: ``null`` (random init), ``"imagenet"`` (torchvision's default ImageNet
    weights, from torch's hub cache or downloaded there), a torchvision weights name such as
    ``"IMAGENET1K_V1"``, or a path to a local state dict (``.pth``/``.pt``/``.safetensors``).
    ``freeze``: no gradients and BatchNorm kept in eval mode (its running stats stay fixed).
    ``channels_last``: NHWC memory format for module and input (faster convs on GPU, bf16)."""

    pretrained: str | None = None
    freeze: bool = False
    channels_last: bool = True

    def validate(self) -> None:
        if self.pretrained is not None and not self.pretrained.strip():
            raise ValueError("pretrained must be null, 'imagenet' or a path to a weights file, "
                             "not an empty string")
