"""Vectorised numpy drawing primitives for the phantoms (no per-pixel Python loops).

Every shape is evaluated on float32 coordinate grids ``(u, v)`` in [0, 1] (u to the right,
v downwards) and returns a soft mask or a profile in [0, 1]; the views add them, weighted,
to a density map. Soft edges (linear ramps of width ``eps``) stand in for blur.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

F32 = np.float32


@lru_cache(maxsize=8)
def grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (v, u), each (size, size) float32 in [0, 1]."""
    t = (np.arange(size, dtype=F32) + F32(0.5)) / F32(size)
    v, u = np.meshgrid(t, t, indexing="ij")
    v.setflags(write=False)
    u.setflags(write=False)
    return v, u


@lru_cache(maxsize=16)
def _interp_matrix(size: int, n: int) -> np.ndarray:
    """(size, n) linear-interpolation weights from an n-point lattice onto ``size`` pixels."""
    pos = (np.arange(size, dtype=np.float64) + 0.5) / size * (n - 1)
    lo = np.clip(np.floor(pos).astype(int), 0, n - 2)
    frac = pos - lo
    m = np.zeros((size, n), dtype=F32)
    m[np.arange(size), lo] = 1 - frac
    m[np.arange(size), lo + 1] = frac
    return m


def smooth_noise(rng: np.random.Generator, size: int, cells: int | tuple[int, int]) -> np.ndarray:
    """Band-limited noise (about unit variance): a random lattice of ``cells`` points per
    axis, bilinearly upsampled with two small matrix products."""
    ch, cw = (cells, cells) if isinstance(cells, int) else cells
    lattice = rng.standard_normal((ch, cw)).astype(F32)
    return _interp_matrix(size, ch) @ lattice @ _interp_matrix(size, cw).T


def ramp(f: np.ndarray, eps: float) -> np.ndarray:
    """Soft inside-indicator of the region ``f < 0``: 1 inside, 0 outside, linear over ``eps``."""
    x = f * F32(-1.0 / eps)
    x += F32(0.5)
    return np.clip(x, F32(0.0), F32(1.0), out=x)


def ellipse(u, v, cu, cv, au, av, eps=0.02, angle=0.0) -> np.ndarray:
    """Soft filled ellipse (``eps`` in units of the normalised radius)."""
    du, dv = u - F32(cu), v - F32(cv)
    if angle:
        c, s = F32(np.cos(angle)), F32(np.sin(angle))
        du, dv = c * du + s * dv, -s * du + c * dv
    du *= F32(1.0 / au)
    dv *= F32(1.0 / av)
    du *= du
    dv *= dv
    du += dv
    du -= F32(1.0)
    return ramp(du, eps)


def blob(u, v, cu, cv, r) -> np.ndarray:
    """Gaussian spot of radius ``r`` (sigma)."""
    return np.exp(((u - F32(cu)) ** 2 + (v - F32(cv)) ** 2) * F32(-0.5 / (r * r)))


def polyline_distance(u, v, points: np.ndarray) -> np.ndarray:
    """Distance from every pixel to a polyline of (u, v) ``points`` (K, 2)."""
    best = np.full(u.shape, np.inf, dtype=F32)
    for (u0, v0), (u1, v1) in zip(points[:-1], points[1:]):
        du, dv = F32(u1 - u0), F32(v1 - v0)
        length2 = max(float(du * du + dv * dv), 1e-12)
        t = np.clip(((u - F32(u0)) * du + (v - F32(v0)) * dv) * F32(1.0 / length2), 0.0, 1.0)
        np.minimum(best, (u - F32(u0) - t * du) ** 2 + (v - F32(v0) - t * dv) ** 2, out=best)
    return np.sqrt(best)


def line(u, v, points, width: float) -> np.ndarray:
    """Soft line of half-width ``width`` along a polyline."""
    return ramp(polyline_distance(u, v, np.asarray(points, dtype=np.float64)) - F32(width),
                width * 0.8)


def bezier(p0, p1, p2, n: int = 12) -> np.ndarray:
    """``n`` points on the quadratic Bézier curve p0 → p2 pulled towards p1."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2 = (np.asarray(p, dtype=np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def rectangle(u, v, cu, cv, hu, hv, eps=0.006, angle=0.0) -> np.ndarray:
    """Soft filled rectangle of half-sizes (hu, hv), rotated by ``angle`` radians."""
    du, dv = u - F32(cu), v - F32(cv)
    if angle:
        c, s = F32(np.cos(angle)), F32(np.sin(angle))
        du, dv = c * du + s * dv, -s * du + c * dv
    return ramp(np.maximum(np.abs(du) - F32(hu), np.abs(dv) - F32(hv)), eps)


def blur3(img: np.ndarray) -> np.ndarray:
    """A separable [1, 2, 1]/4 blur of the interior (softens the rendering a little)."""
    h = img * F32(0.5)
    h[:, 1:-1] += (img[:, :-2] + img[:, 2:]) * F32(0.25)
    out = h * F32(0.5)
    out[1:-1] += (h[:-2] + h[2:]) * F32(0.25)
    return out


@lru_cache(maxsize=4)
def noise_bank(size: int) -> np.ndarray:
    """A fixed (2·size, 2·size) standard-normal field; images take random windows of it
    (drawing fresh Gaussian noise per image costs more than the whole phantom)."""
    bank = np.random.default_rng(20240613).standard_normal((2 * size, 2 * size), dtype=F32)
    bank.setflags(write=False)
    return bank


def noise_window(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random (size, size) window of :func:`noise_bank`, randomly flipped."""
    oy, ox, flip = (int(x) for x in rng.integers(0, size, size=3))
    win = noise_bank(size)[oy:oy + size, ox:ox + size]
    return win[:, ::-1] if flip % 2 else win


__all__ = ["bezier", "blob", "blur3", "ellipse", "grid", "line", "noise_bank", "noise_window",
           "polyline_distance", "ramp", "rectangle", "smooth_noise"]
