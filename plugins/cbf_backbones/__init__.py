"""torchvision backbones for cbf (entry points ``cbf.backbones``: densenet121, resnet50,
resnet18). Each maps images (N, 3, H, W) to grid features (N, out_channels, H/32, W/32)."""
from .base import TorchvisionBackbone
from .config import BackboneConfig
from .densenet import DenseNet121
from .resnet import ResNet18, ResNet50
from .small_cnn import SmallCNN

__all__ = ["BackboneConfig", "DenseNet121", "ResNet18", "ResNet50", "SmallCNN", "TorchvisionBackbone"]
