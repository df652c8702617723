"""Pulmonary vessel markings: a small fixed bank of branching trees drawn once per image size.

Drawing a branching tree per study would cost more than the rest of the phantom, so a
fixed-seed bank of ``BANK`` textures (both hila, image coordinates) is drawn on first use
and each study picks one, possibly mirrored; the lung masks then cut them to the lungs.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from cbf_demo.draw import F32, grid, polyline_distance

BANK = 12
HILUM_V = 0.42
HILUM_DU = 0.085


def _tree(rng: np.random.Generator, start, angle: float, length: float, width: float, depth: int,
          out: list, strength: float = 1.0) -> None:
    end = (start[0] + length * np.cos(angle), start[1] + length * np.sin(angle))
    out.append((start, end, width, strength))
    if depth == 0:
        return
    for turn in (-1, 1):
        _tree(rng, end, angle + turn * rng.uniform(0.25, 0.55), length * rng.uniform(0.65, 0.85),
              width * 0.72, depth - 1, out, strength * 0.7)


def _draw(rng: np.random.Generator, size: int) -> np.ndarray:
    v, u = grid(size)
    img = np.zeros((size, size), dtype=F32)
    for s in (-1, 1):
        segments: list = []
        hilum = (0.5 + s * HILUM_DU, HILUM_V)
        for base in np.linspace(-1.3, 1.3, 7):  # fan out: up, lateral, down
            angle = (np.pi if s < 0 else 0.0) - s * (base + rng.uniform(-0.15, 0.15))
            _tree(rng, hilum, angle, rng.uniform(0.06, 0.09), 0.0055, 3, segments)
        for a, b, w, strength in segments:
            d = polyline_distance(u, v, np.array([a, b]))
            np.maximum(img, np.clip(1.0 - (d - F32(w)) * F32(1.0 / 0.004), 0.0, 1.0)
                       * F32(strength), out=img)
    return img


@lru_cache(maxsize=4)
def vessel_bank(size: int) -> np.ndarray:
    """(BANK, size, size) float32 vessel textures in [0, 1] (read-only, fixed seed)."""
    rng = np.random.default_rng(7)
    bank = np.stack([_draw(rng, size) for _ in range(BANK)])
    bank.setflags(write=False)
    return bank


def vessels(rng: np.random.Generator, size: int) -> np.ndarray:
    """One study's vessel texture, taken from the bank (possibly mirrored left-right)."""
    k, flip = (int(x) for x in rng.integers(0, BANK, size=2))
    tex = vessel_bank(size)[k]
    return tex[:, ::-1] if flip % 2 else tex


__all__ = ["BANK", "HILUM_DU", "HILUM_V", "vessel_bank", "vessels"]
