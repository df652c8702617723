"""What every torchvision backbone shares: weights, freezing, channels_last, input checks."""
from __future__ import annotations

from typing import ClassVar

import torch
from torchvision.models import WeightsEnum

from cbf.api import Backbone

from .config import BackboneConfig
from .weights import align_state_dict, imagenet_state_dict, read_state_dict


class TorchvisionBackbone(Backbone):
    """A torchvision classifier's convolutional trunk, without pooling or classifier.

    Submodules keep torchvision's names, so this module's state dict is torchvision's minus
    the classifier: torchvision files load as they are. Subclasses build the trunk in
    :meth:`build` and say which keys belong to the classifier they left out.
    """

    Config = BackboneConfig
    arch: ClassVar[str]
    weights_enum: ClassVar[type[WeightsEnum]]
    #: State-dict prefixes of the torchvision classifier that this trunk drops.
    head_prefixes: ClassVar[tuple[str, ...]] = ()
    #: Input pixels per grid cell along each side (224 px → 7×7).
    reduction: ClassVar[int] = 32

    def __init__(self, config: BackboneConfig | None = None) -> None:
        super().__init__()
        config = config if config is not None else self.Config()
        config.validate()
        self.config = config
        self._frozen = False
        self.build(config)
        if config.pretrained is not None:
            self.load_pretrained(config.pretrained)
        if config.channels_last:
            self.to(memory_format=torch.channels_last)
        if config.freeze:
            self.freeze()

    # -- to implement ---------------------------------------------------------------------
    def build(self, config: BackboneConfig) -> None:
        raise NotImplementedError

    def trunk(self, images: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def remap_key(self, key: str) -> str:
        """Rename a legacy key of an old torchvision file (identity by default)."""
        return key

    # -- shared ---------------------------------------------------------------------------
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"{self.arch} expects images (N, 3, H, W), got {tuple(images.shape)}")
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        if self._frozen:
            with torch.no_grad():  # nothing to learn here: keep no activations for backward
                return self.trunk(images)
        return self.trunk(images)

    def load_pretrained(self, pretrained: str) -> None:
        """``"imagenet"``, a torchvision weights name, or a local file (see :class:`BackboneConfig`)."""
        members = self.weights_enum.__members__
        if pretrained == "imagenet" or pretrained in members:
            weights = self.weights_enum.DEFAULT if pretrained == "imagenet" else members[pretrained]
            sd, source = imagenet_state_dict(weights, self.arch)
        else:
            sd, source = read_state_dict(pretrained), pretrained
        expected = self.state_dict()
        aligned = align_state_dict(sd, expected, source=source, arch=self.arch,
                                   ignore_prefixes=self.head_prefixes, remap=self.remap_key)
        self.load_state_dict(aligned, strict=False)  # align_state_dict has checked the fit

    def freeze(self) -> None:
        """No gradients, and eval mode for good: BatchNorm statistics stay as loaded."""
        self._frozen = True
        super().freeze()

    @property
    def frozen(self) -> bool:
        return self._frozen

    def train(self, mode: bool = True) -> "TorchvisionBackbone":
        return super().train(mode and not self._frozen)
