"""Render the demo's synthetic phantoms once into a cache folder and memory-map them after.

Layout of one cache folder (``<cache_dir>/demo/<settings hash>/``):

- ``phantoms.npy``: uint8 (N, 2, S, S), row i = study ``ids[i]``, views (frontal, lateral);
- ``index.json``: ``{"settings": ..., "ids": [...], "shape": [...]}``, written last.

Both files are written to a temporary name and moved into place with ``os.replace``, so a
crash never leaves a half-written cache that looks complete. A cache that is missing,
unreadable, truncated or made for other settings/studies is re-rendered (with a warning
when files were there but unusable): a cache is disposable, re-rendering is always safe.
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

INDEX = "index.json"
ARRAY = "phantoms.npy"


def settings_hash(settings: dict) -> str:
    """A short stable hash of the JSON settings (names the cache folder)."""
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _tmp(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _load(folder: Path, settings: dict, ids: Sequence[str], size: int) -> np.ndarray | None:
    """The memory-mapped array if the cache is complete and matches, else None."""
    index_path, array_path = folder / INDEX, folder / ARRAY
    if not index_path.exists() and not array_path.exists():
        return None
    problem = None
    try:
        index = json.loads(index_path.read_text())
        expected_shape = [len(ids), 2, size, size]
        if index.get("settings") != settings or index.get("ids") != list(ids):
            problem = "it was made for other settings or studies"
        elif index.get("shape") != expected_shape:
            problem = f"index shape {index.get('shape')} != {expected_shape}"
        else:
            arr = np.load(array_path, mmap_mode="r")
            if list(arr.shape) != expected_shape or arr.dtype != np.uint8:
                problem = f"{ARRAY} holds {arr.dtype} {list(arr.shape)}, expected uint8 {expected_shape}"
            else:
                return arr
    except (OSError, ValueError, json.JSONDecodeError, AttributeError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
    warnings.warn(f"demo cache {folder} is unusable ({problem}); re-rendering the synthetic images",
                  RuntimeWarning, stacklevel=3)
    return None


def load_or_render(folder: Path, settings: dict, ids: Sequence[str], size: int,
                   render: Callable[[int], tuple[np.ndarray, np.ndarray]],
                   progress: bool = True) -> np.ndarray:
    """The (N, 2, size, size) phantoms for ``ids``: loaded from ``folder`` when a matching
    cache exists, else rendered with ``render(i)`` (with a progress bar), saved atomically
    and then loaded memory-mapped."""
    arr = _load(folder, settings, ids, size)
    if arr is not None:
        return arr
    folder.mkdir(parents=True, exist_ok=True)
    array_path, index_path = folder / ARRAY, folder / INDEX
    tmp_array, tmp_index = _tmp(array_path), _tmp(index_path)
    try:
        out = np.lib.format.open_memmap(tmp_array, mode="w+", dtype=np.uint8,
                                        shape=(len(ids), 2, size, size))
        from tqdm.auto import tqdm

        for i in tqdm(range(len(ids)), desc="demo: rendering synthetic phantoms", unit="study",
                      disable=not progress, mininterval=0.5):
            out[i, 0], out[i, 1] = render(i)
        out.flush()
        del out
        if index_path.exists():  # never leave an index that describes another array
            index_path.unlink()
        os.replace(tmp_array, array_path)
        tmp_index.write_text(json.dumps({"settings": settings, "ids": list(ids),
                                         "shape": [len(ids), 2, size, size]}))
        os.replace(tmp_index, index_path)
    finally:
        for tmp in (tmp_array, tmp_index):
            if tmp.exists():
                tmp.unlink()
    return np.load(array_path, mmap_mode="r")


__all__ = ["ARRAY", "INDEX", "load_or_render", "settings_hash"]
