"""Reading radiographs (PNG, JPG, DICOM) into uint8 grayscale, and turning views into tensors.

Every dataset and the ``generate``/``diagnose`` commands read images through :func:`read_image`,
so a bad file always fails the same way: a :class:`cbf.errors.DataError` naming the file and
why. :class:`BadImageLog` lets a recipe choose whether such a file stops the run or is skipped
and reported at the end. :class:`ImageTransform` runs in the data loader for every sample, so
it works on small uint8 tensors with torchvision's functional v2 ops and draws its randomness
from an explicit ``torch.Generator`` (reproducible runs, resumable data order).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from cbf.errors import DataError

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_DICOM_SUFFIXES = {".dcm", ".dicom", ".dic"}


# --------------------------------------------------------------------------- reading

def read_image(path: str | Path, min_side: int | None = None) -> np.ndarray:
    """Read a PNG/JPG (any PIL mode, 16-bit included) or DICOM file as uint8 grayscale (H, W).

    ``min_side``: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (libjpeg's cheap draft mode)
    as long as both sides stay >= ``min_side``; pass the transform's size when the image will
    be resized anyway (full-size MIMIC-CXR JPEGs decode much faster). Other formats ignore it.

    High bit-depth images (16-bit PNG, DICOM) are min-max scaled to 0..255: clinical files
    rarely use the full 16-bit range, so dividing by 257 would give near-black images, and
    PIL's own ``I;16 → L`` conversion clips instead of scaling.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file not found")
    if path.suffix.lower() in _DICOM_SUFFIXES or _has_dicom_magic(path):
        return _read_dicom(path)
    try:
        with Image.open(path) as img:
            if min_side is not None and img.format == "JPEG":
                img.draft("L", (min_side, min_side))
            img.load()  # decode now, so a truncated file fails here and not later
            img = ImageOps.exif_transpose(img)
            return pil_to_gray_uint8(img)
    except DataError:
        raise
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise DataError(f"{path}: cannot read image ({type(exc).__name__}: {exc})") from exc


def pil_to_gray_uint8(img: Image.Image) -> np.ndarray:
    """A PIL image of any mode → uint8 (H, W); colour via ITU-R 601 luma, deep modes min-max."""
    if img.mode == "L":
        return np.array(img, dtype=np.uint8)
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return minmax_uint8(np.asarray(img))
    if img.mode == "LA":
        return np.array(img.getchannel("L"), dtype=np.uint8)
    return np.array(img.convert("L"), dtype=np.uint8)  # 1, P, RGB, RGBA, CMYK, YCbCr, ...


def minmax_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale any numeric array to 0..255 uint8 by its own min and max (a flat image → zeros)."""
    arr = np.asarray(arr, dtype=np.float64)
    lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
    if not math.isfinite(lo) or not math.isfinite(hi) or hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (np.nan_to_num(arr, nan=lo) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _has_dicom_magic(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def _read_dicom(path: Path) -> np.ndarray:
    """DICOM → modality LUT (rescale) → VOI LUT/window → min-max → MONOCHROME1 inverted."""
    try:
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut
    except ImportError as exc:  # pragma: no cover - pydicom is a dependency
        raise DataError(f"{path}: reading DICOM needs pydicom (pip install pydicom)") from exc
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # InvalidDicomError, EOFError, struct.error, ...
        raise DataError(f"{path}: cannot read DICOM ({type(exc).__name__}: {exc})") from exc
    if "PixelData" not in ds:
        raise DataError(f"{path}: DICOM file has no pixel data")
    try:
        arr = ds.pixel_array
    except Exception as exc:
        syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
        name = getattr(syntax, "name", syntax)
        raise DataError(f"{path}: cannot decode DICOM pixel data (transfer syntax {name}; "
                        f"{type(exc).__name__}: {exc})") from exc
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        arr = arr[0]  # a multi-frame file: the first frame is the radiograph
    if arr.ndim == 3:  # colour (pydicom gives RGB): luma, no LUTs
        gray = arr[..., 0] * 0.299 + arr[..., 1] * 0.587 + arr[..., 2] * 0.114
        return minmax_uint8(gray)
    if arr.ndim != 2:
        raise DataError(f"{path}: unexpected DICOM pixel array shape {tuple(arr.shape)}")
    try:
        values = apply_modality_lut(arr, ds)
        values = apply_voi_lut(values, ds)
    except Exception as exc:
        raise DataError(f"{path}: bad DICOM rescale/VOI attributes ({type(exc).__name__}: {exc})") from exc
    out = minmax_uint8(values)
    if photometric == "MONOCHROME1":  # high values are dark: invert to the usual look
        out = 255 - out
    return out


# --------------------------------------------------------------------------- bad images

#: A recipe option of datasets: stop the run on a bad image, or skip it and report it.
BadImagePolicy = Literal["error", "skip"]


class BadImage(NamedTuple):
    path: str
    reason: str


class BadImageLog:
    """Applies a dataset's ``on_bad_image`` policy and remembers what was skipped.

    ``"error"``: :meth:`record` raises a :class:`DataError` naming the file (the run stops).
    ``"skip"``: it remembers ``(path, reason)`` once per file; :meth:`summary` reports them.

    The log lives in one process. Under a multi-worker DataLoader (or several DDP ranks) each
    process has its own: hand :meth:`drain`'s entries back with the sample (or gather them)
    and :meth:`extend` the main process's log with them, then print :meth:`summary` at the end.
    """

    def __init__(self, on_bad_image: BadImagePolicy = "error", max_listed: int = 20) -> None:
        if on_bad_image not in ("error", "skip"):
            raise ValueError(f"on_bad_image must be 'error' or 'skip', not {on_bad_image!r}")
        self.policy: BadImagePolicy = on_bad_image
        self.max_listed = max_listed
        self._bad: dict[str, str] = {}
        self._undrained: list[BadImage] = []

    def read(self, path: str | Path, min_side: int | None = None) -> np.ndarray | None:
        """:func:`read_image`, or ``None`` for a bad file under ``"skip"``."""
        try:
            return read_image(path, min_side=min_side)
        except DataError as exc:
            self.record(path, exc)
            return None

    def record(self, path: str | Path, exc: BaseException | str) -> None:
        """Note a bad file; under ``"error"`` raise a :class:`DataError` naming it instead."""
        reason = str(exc)
        prefix = f"{path}: "
        if reason.startswith(prefix):
            reason = reason[len(prefix):]
        if self.policy == "error":
            if isinstance(exc, DataError) and str(exc).startswith(prefix):
                raise exc
            raise DataError(f"{path}: {reason}") from (exc if isinstance(exc, BaseException) else None)
        self._add(BadImage(str(path), reason))

    def extend(self, entries: Sequence[BadImage | tuple[str, str]]) -> None:
        """Merge entries recorded elsewhere (a worker's :meth:`drain`, another rank)."""
        for path, reason in entries:
            self._add(BadImage(str(path), str(reason)))

    def drain(self) -> list[BadImage]:
        """Entries recorded since the last drain (to send from a worker to the main process)."""
        out, self._undrained = self._undrained, []
        return out

    def _add(self, entry: BadImage) -> None:
        if entry.path not in self._bad:
            self._bad[entry.path] = entry.reason
            self._undrained.append(entry)

    @property
    def entries(self) -> list[BadImage]:
        return [BadImage(p, r) for p, r in self._bad.items()]

    def __len__(self) -> int:
        return len(self._bad)

    def summary(self) -> str:
        """One line when nothing was skipped; else the count and the first files with reasons."""
        if not self._bad:
            return "no bad images"
        lines = [f"{len(self._bad)} bad image(s) skipped:"]
        for path, reason in list(self._bad.items())[: self.max_listed]:
            lines.append(f"  {path}: {reason}")
        if len(self._bad) > self.max_listed:
            lines.append(f"  ... and {len(self._bad) - self.max_listed} more")
        return "\n".join(lines)

    def to_json(self) -> list[dict[str, str]]:
        return [{"path": p, "reason": r} for p, r in self._bad.items()]


# --------------------------------------------------------------------------- transform

@dataclass
class ImageTransform:
    """Views (uint8 arrays or PIL images, (H, W) or (H, W, 3)) → float tensor (V, 3, size, size).

    Eval: resize the shorter side to ``size``, centre crop. Train: a random crop whose side is
    ``sqrt(s)`` × the shorter side (``s`` in ``scale``) with a near-square aspect (``ratio``,
    kept mild because stretching changes the cardiothoracic ratio; no flips, the heart is on
    the left), resized to ``size``, then a small rotation (±``degrees``) and translation
    (±``translate`` × size). Grayscale is replicated to 3 channels; ImageNet-normalised.
    """

    size: int
    train: bool = False
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    scale: tuple[float, float] = (0.8, 1.0)
    ratio: tuple[float, float] = (0.9, 1.0 / 0.9)
    degrees: float = 5.0
    translate: float = 0.05
    _mean_t: torch.Tensor = field(init=False, repr=False)
    _std_t: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"size must be positive, got {self.size}")
        if not 0 < self.scale[0] <= self.scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {self.scale}")
        if not 0 < self.ratio[0] <= self.ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < lo <= hi, got {self.ratio}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError("mean and std need 3 values each, std > 0")
        self._mean_t = torch.tensor(self.mean, dtype=torch.float32).view(3, 1, 1)
        self._std_t = torch.tensor(self.std, dtype=torch.float32).view(3, 1, 1)

    def __call__(self, views: Sequence[Any], generator: torch.Generator | None = None) -> torch.Tensor:
        if len(views) == 0:
            raise ValueError("ImageTransform needs at least one view")
        return torch.stack([self.one(v, generator) for v in views])

    def one(self, view: Any, generator: torch.Generator | None = None) -> torch.Tensor:
        """One view → (3, size, size) float32."""
        img = _to_uint8_chw(view)
        already_sized = img.shape[-2] == img.shape[-1] == self.size
        zoom = 1.0
        if self.train:
            if already_sized:  # crop folded into the affine below as a zoom: one resampling, not two
                u = torch.rand(1, generator=generator)
                zoom = 1.0 / math.sqrt(self.scale[0] + float(u[0]) * (self.scale[1] - self.scale[0]))
            else:
                img = self._random_crop(img, generator)
        elif not already_sized:
            img = TF.resize(img, [self.size], interpolation=InterpolationMode.BILINEAR, antialias=True)
            img = TF.center_crop(img, [self.size, self.size])
        x = img.to(torch.float32).div_(255.0)
        if self.train and (self.degrees > 0 or self.translate > 0 or zoom != 1.0):
            u = torch.rand(3, generator=generator) * 2 - 1
            shift = [float(u[1]) * self.translate * self.size, float(u[2]) * self.translate * self.size]
            x = TF.affine(x, angle=float(u[0]) * self.degrees, translate=shift, scale=zoom,
                          shear=[0.0, 0.0], interpolation=InterpolationMode.BILINEAR, fill=0.0)
        if x.shape[0] == 1:
            x = x.expand(3, -1, -1)
        return (x - self._mean_t) / self._std_t

    def _random_crop(self, img: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        h, w = img.shape[-2:]
        u = torch.rand(4, generator=generator)
        s = self.scale[0] + float(u[0]) * (self.scale[1] - self.scale[0])
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        r = math.exp(log_lo + float(u[1]) * (log_hi - log_lo))
        side = min(h, w) * math.sqrt(s)
        cw = max(1, min(w, round(side * math.sqrt(r))))
        ch = max(1, min(h, round(side / math.sqrt(r))))
        top = int(float(u[2]) * (h - ch + 1)) if h > ch else 0
        left = int(float(u[3]) * (w - cw + 1)) if w > cw else 0
        top, left = min(top, h - ch), min(left, w - cw)
        return TF.resized_crop(img, top, left, ch, cw, [self.size, self.size],
                               interpolation=InterpolationMode.BILINEAR, antialias=True)


def _to_uint8_chw(view: Any) -> torch.Tensor:
    """uint8 array / PIL image, (H, W) or (H, W, 3) → uint8 tensor (1 or 3, H, W)."""
    if isinstance(view, Image.Image):
        arr = np.array(view) if view.mode in ("L", "RGB") else pil_to_gray_uint8(view)
    elif isinstance(view, np.ndarray):
        arr = view
    elif isinstance(view, torch.Tensor):
        arr = view.cpu().numpy()
    else:
        raise TypeError(f"an image view must be a numpy array or PIL image, not {type(view).__name__}")
    if arr.dtype != np.uint8:
        raise TypeError(f"an image array must be uint8, not {arr.dtype} (use read_image or minmax_uint8)")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = arr[None]
    elif arr.ndim == 3 and arr.shape[2] == 3:
        arr = arr.transpose(2, 0, 1)
    else:
        raise ValueError(f"an image array must be (H, W) or (H, W, 3), got shape {arr.shape}")
    if arr.shape[1] == 0 or arr.shape[2] == 0:
        raise ValueError(f"an image has an empty side: shape {arr.shape}")
    arr = np.ascontiguousarray(arr)
    if not arr.flags.writeable:  # torch.from_numpy warns on read-only memory
        arr = arr.copy()
    return torch.from_numpy(arr)


__all__ = [
    "BadImage",
    "BadImageLog",
    "BadImagePolicy",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ImageTransform",
    "minmax_uint8",
    "pil_to_gray_uint8",
    "read_image",
]
