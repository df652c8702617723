"""Getting a state dict for a backbone: torchvision's ImageNet weights or a local file.

Nothing here downloads behind the user's back except torchvision's own weights, and only when
the recipe asks for ``"imagenet"`` and the file is not yet in torch's hub cache; offline, the
error says where torchvision looks for the file and how to put it there.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping
import torch
from torchvision.models import WeightsEnum

from cbf.errors import CheckpointError

#: Keys under which training scripts commonly nest the model's state dict.
_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module", "net")


def hub_cache_file(url: str) -> Path:
    """Where ``torch.hub.load_state_dict_from_url`` (and so torchvision) keeps ``url``'s file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def imagenet_state_dict(weights: WeightsEnum, arch: str) -> tuple[dict[str, torch.Tensor], str]:
    """torchvision's weights for ``arch`` from the hub cache (downloading them there if missing).

    Returns the state dict and the file it came from (for error messages)."""
    cached = hub_cache_file(weights.url)
    was_cached = cached.is_file()
    try:
        sd = torch.hub.load_state_dict_from_url(weights.url, progress=True, check_hash=True,
                                                map_location="cpu", weights_only=True)
    except Exception as exc:  # URLError offline, or any unpickling error of a bad cached file
        reason = f"{type(exc).__name__}: {exc}"
        if was_cached:
            raise CheckpointError(
                f"{cached}: cannot read torchvision's cached ImageNet weights for {arch} ({reason}); "
                f"delete the file to download it again, or copy a good one there") from exc
        raise CheckpointError(
            f"ImageNet weights for {arch} are not in torch's cache and could not be downloaded "
            f"({reason}). torchvision looks for {cached} (torch.hub.get_dir()/checkpoints/; set "
            f"TORCH_HOME to move it). On a machine with network, download {weights.url} "
            f"and copy it to that path, or set the backbone's pretrained option to the local "
            f"file's path instead of \"imagenet\".") from exc
    return dict(sd), str(cached)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A local weights file (torch pickle with ``weights_only=True``, or safetensors) → tensors."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise CheckpointError(f"{p}: weights file not found")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            obj = load_file(str(p), device="cpu")
        else:
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, pickle with code, wrong format, ...
        raise CheckpointError(f"{p}: cannot read weights ({type(exc).__name__}: {exc})") from exc
    return _unwrap(obj, p)


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    for _ in range(3):
        if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
        if not isinstance(obj, Mapping):
            break
        inner = next((obj[k] for k in _WRAPPER_KEYS if isinstance(obj.get(k), Mapping)), None)
        if inner is None:
            break
        obj = inner
    raise CheckpointError(f"{path}: not a state dict of tensors (got {type(obj).__name__}"
                          + (f" with keys {sorted(map(str, obj))[:8]}" if isinstance(obj, Mapping) else "")
                          + ")")


def align_state_dict(sd: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], *,
                     source: str, arch: str, ignore_prefixes: tuple[str, ...] = (),
                     remap: Callable[[str], str] = lambda k: k) -> dict[str, torch.Tensor]:
    """Map a file's keys onto the model's, tolerating a prefix mismatch, or fail clearly.

    The best (strip, add) prefix pair is chosen: a wrapper prefix such as ``module.`` (DDP) or
    ``backbone.`` (a whole model's checkpoint; only that subtree is used) is stripped, and a
    missing ``features.`` is added (DenseNet trunks saved on their own). Classifier keys
    (``ignore_prefixes``) are dropped; missing ``num_batches_tracked`` buffers are allowed.
    Anything else that does not fit raises :class:`CheckpointError` naming ``source``.
    """
    keys = {remap(k): v for k, v in sd.items()}
    adds = {""} | {e.split(".", 1)[0] + "." for e in expected if "." in e}
    candidates: set[tuple[str, str]] = {("", "")}
    for k in keys:
        for i, ch in enumerate(k):
            if ch == ".":
                rest = k[i + 1:]
                candidates.update((k[: i + 1], a) for a in adds if a + rest in expected)
        candidates.update(("", a) for a in adds if a + k in expected)

    def score(c: tuple[str, str]) -> tuple[int, int]:
        strip, add = c
        hits = sum(add + k[len(strip):] in expected for k in keys if k.startswith(strip))
        return hits, -len(strip) - len(add)

    strip, add = max(sorted(candidates), key=score)
    mapped = {add + k[len(strip):]: v for k, v in keys.items() if k.startswith(strip)}
    if not any(k in expected for k in mapped):
        raise CheckpointError(f"{source}: no {arch} weights found (first keys: {list(keys)[:5]})")
    unexpected = [k for k in mapped if k not in expected and not k.startswith(ignore_prefixes)]
    missing = [k for k in expected if k not in mapped and not k.endswith("num_batches_tracked")]
    bad_shape = [f"{k} {tuple(mapped[k].shape)} in the file vs {tuple(v.shape)} in the model"
                 for k, v in expected.items() if k in mapped and mapped[k].shape != v.shape]
    if unexpected or missing or bad_shape:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), e.g. {unexpected[:3]}")
        if bad_shape:
            parts.append(f"{len(bad_shape)} shape mismatch(es), e.g. {bad_shape[0]}")
        hint = f" (after stripping {strip!r})" if strip else ""
        raise CheckpointError(f"{source}: weights do not fit {arch}{hint}: " + "; ".join(parts))
    return {k: v for k, v in mapped.items() if k in expected}
