"""torchvision backbones: shapes, weights (local files, the hub cache, offline errors), freeze,
channels_last. Nothing here downloads: weights are random or saved to tmp_path."""
from __future__ import annotations

import importlib.metadata
from urllib.error import URLError

import pytest
import torch
import torch.nn.functional as F
import torchvision

from cbf.errors import CheckpointError
from cbf_backbones import DenseNet121, ResNet18, ResNet50


def _same_params(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    shared = [k for k in a if k in b]
    assert len(shared) == len(a), "model keys missing from the reference"
    for k in shared:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("cls, size, n, grid", [
    (DenseNet121, 224, 1, 7), (ResNet50, 224, 1, 7), (ResNet18, 128, 2, 4)])
def test_feature_shapes(cls, size, n, grid):
    model = cls(cls.Config()).eval()
    out = model(torch.randn(n, 3, size, size))
    assert out.shape == (n, cls.out_channels, grid, grid)
    assert {DenseNet121: 1024, ResNet50: 2048, ResNet18: 512}[cls] == model.out_channels


def test_densenet_features_are_what_torchvision_classifier_pools():
    ours = DenseNet121(DenseNet121.Config(channels_last=False)).eval()
    ref = torchvision.models.densenet121(weights=None).eval()
    missing, unexpected = ref.load_state_dict(ours.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("classifier.") for k in missing)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        feats = ours(x)
        logits = ref.classifier(F.adaptive_avg_pool2d(feats, 1).flatten(1))
        assert (feats >= 0).all()  # after the final ReLU
        torch.testing.assert_close(logits, ref(x), rtol=1e-4, atol=1e-4)


def test_resnet_features_are_the_last_stage_before_pooling():
    ours = ResNet18(ResNet18.Config(channels_last=False)).eval()
    ref = torchvision.models.resnet18(weights=None).eval()
    ref.load_state_dict({**ref.state_dict(), **ours.state_dict()})
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        logits = ref.fc(ref.avgpool(ours(x)).flatten(1))
        torch.testing.assert_close(logits, ref(x), rtol=1e-4, atol=1e-4)


def test_freeze_no_grads_and_batchnorm_stays_in_eval():
    model = ResNet18(ResNet18.Config(freeze=True))
    model.train()
    assert model.frozen and not model.training
    assert not any(m.training for m in model.modules())
    assert not any(p.requires_grad for p in model.parameters())
    before = model.bn1.running_mean.clone()
    out = model(torch.randn(2, 3, 64, 64) * 3 + 1)
    assert not out.requires_grad
    assert torch.equal(model.bn1.running_mean, before)  # eval BN: running stats untouched


def test_unfrozen_trains_and_gets_gradients():
    model = ResNet18(ResNet18.Config()).train()
    assert model.training and model.bn1.training
    model(torch.randn(2, 3, 64, 64)).mean().backward()
    assert model.conv1.weight.grad is not None and model.conv1.weight.grad.abs().sum() > 0


def test_channels_last_matches_contiguous_and_backprops():
    a = ResNet18(ResNet18.Config(channels_last=True)).eval()
    b = ResNet18(ResNet18.Config(channels_last=False)).eval()
    b.load_state_dict(a.state_dict())
    assert a.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    assert not b.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 96, 96, requires_grad=True)
    out = a(x)
    torch.testing.assert_close(out, b(x), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_rejects_wrong_input_shape():
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        ResNet18(ResNet18.Config())(torch.randn(1, 1, 64, 64))


def test_empty_pretrained_is_rejected_by_validate():
    with pytest.raises(ValueError, match="pretrained"):
        ResNet18.Config(pretrained="  ").validate()


# ---------------------------------------------------------------------------- local weights

def test_local_file_round_trip(tmp_path):
    ref = torchvision.models.resnet18(weights=None)  # torchvision format, with the fc head
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    model = ResNet18(ResNet18.Config(pretrained=str(path)))
    _same_params(model.state_dict(), ref.state_dict())
    assert not torch.equal(model.conv1.weight, ResNet18(ResNet18.Config()).conv1.weight)


@pytest.mark.parametrize("wrap", ["ddp_module_prefix", "nested_state_dict", "whole_model_prefix"])
def test_local_file_prefix_mismatch_handled(tmp_path, wrap):
    ref = torchvision.models.resnet18(weights=None)
    sd = ref.state_dict()
    if wrap == "ddp_module_prefix":
        obj = {f"module.{k}": v for k, v in sd.items()}
    elif wrap == "nested_state_dict":
        obj = {"state_dict": sd, "epoch": 3}
    else:  # a whole model's checkpoint: only the backbone's subtree is used
        obj = {**{f"visual.backbone.{k}": v for k, v in sd.items()}, "encoder.weight": torch.zeros(2)}
    path = tmp_path / "w.pth"
    torch.save(obj, path)
    _same_params(ResNet18(ResNet18.Config(pretrained=str(path))).state_dict(), sd)


def test_densenet_trunk_only_and_legacy_torchvision_keys(tmp_path):
    ref = torchvision.models.densenet121(weights=None)
    sd = ref.state_dict()
    # torchvision's published file names dense layers 'norm.1', 'conv.2', ...
    legacy = {k.replace(".norm1.", ".norm.1.").replace(".conv2.", ".conv.2."): v for k, v in sd.items()}
    assert legacy.keys() != sd.keys()
    torch.save(legacy, tmp_path / "legacy.pth")
    _same_params(DenseNet121(DenseNet121.Config(pretrained=str(tmp_path / "legacy.pth"))).state_dict(), sd)
    torch.save(ref.features.state_dict(), tmp_path / "trunk.pth")  # keys without 'features.'
    _same_params(DenseNet121(DenseNet121.Config(pretrained=str(tmp_path / "trunk.pth"))).state_dict(), sd)


def test_weights_of_another_architecture_are_rejected(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
    with pytest.raises(CheckpointError, match=r"resnet18\.pth.*do not fit resnet50.*missing"):
        ResNet50(ResNet50.Config(pretrained=str(path)))


def test_missing_weights_file_names_path(tmp_path):
    path = tmp_path / "nope" / "densenet121.pth"
    with pytest.raises(CheckpointError, match="not found") as info:
        ResNet18(ResNet18.Config(pretrained=str(path)))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", ["garbage", "truncated", "code"])
def test_corrupt_weights_file_names_path(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content == "garbage":
        path.write_bytes(b"this is not a checkpoint" * 10)
    elif content == "truncated":
        torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)
        path.write_bytes(path.read_bytes()[:50_000])
    else:  # a pickle that would run code: weights_only refuses it
        torch.save({"conv1.weight": torch.zeros(1), "obj": URLError("x")}, path)
    with pytest.raises(CheckpointError) as info:
        ResNet18(ResNet18.Config(pretrained=str(path)))
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------- "imagenet"

@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """torch's hub cache in an empty folder, and any download fails as it does offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def offline(url, dst, *args, **kwargs):
        raise URLError("network is unreachable")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "torch_home" / "hub" / "checkpoints"


def test_imagenet_offline_says_where_to_put_the_file(empty_hub):
    with pytest.raises(CheckpointError) as info:
        ResNet18(ResNet18.Config(pretrained="imagenet"))
    msg = str(info.value)
    expected = empty_hub / "resnet18-f37072fd.pth"
    assert str(expected) in msg and "download.pytorch.org/models/resnet18" in msg
    assert "pretrained" in msg and "URLError" in msg


def test_imagenet_loads_from_the_hub_cache_without_network(empty_hub):
    ref = torchvision.models.resnet18(weights=None)
    empty_hub.mkdir(parents=True)
    torch.save(ref.state_dict(), empty_hub / "resnet18-f37072fd.pth")
    _same_params(ResNet18(ResNet18.Config(pretrained="imagenet")).state_dict(), ref.state_dict())
    _same_params(ResNet18(ResNet18.Config(pretrained="IMAGENET1K_V1")).state_dict(), ref.state_dict())


def test_corrupt_cached_imagenet_file_is_named(empty_hub):
    empty_hub.mkdir(parents=True)
    (empty_hub / "resnet18-f37072fd.pth").write_bytes(b"half a download")
    with pytest.raises(CheckpointError, match="resnet18-f37072fd.pth.*delete the file"):
        ResNet18(ResNet18.Config(pretrained="imagenet"))


def test_entry_points_load_these_classes():
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="cbf.backbones")}
    assert eps["densenet121"].load() is DenseNet121
    assert eps["resnet50"].load() is ResNet50
    assert eps["resnet18"].load() is ResNet18


def test_recipe_block_binds_and_swaps_backbone_by_type():
    from cbf.config.binding import ConfigError, bind_component

    dense = bind_component("backbones", {"type": "densenet121", "freeze": True,
                                         "memory_efficient": True}, "$.model.backbone")
    small = bind_component("backbones", {"type": "resnet18"}, "$.model.backbone")
    assert dense.factory is DenseNet121 and dense.config.freeze and dense.config.memory_efficient
    model = small.build()
    assert isinstance(model, ResNet18) and model.out_channels == 512 and not model.frozen
    with pytest.raises(ConfigError, match=r"\$\.model\.backbone\.fre"):
        bind_component("backbones", {"type": "resnet18", "fre": True}, "$.model.backbone")
