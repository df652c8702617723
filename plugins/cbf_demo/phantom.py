"""Synthetic chest radiograph phantoms (synthetic images, not patient data), pure numpy.

``render_study(signs, rng, size)`` draws one study as two uint8 views, a frontal (PA) and a
lateral, from the signs of :mod:`cbf_demo.findings`. The study's random generator first
splits into independent streams for anatomy, lesions and noise, so a finding changes only
what it draws: the same generator state with and without "Cardiomegaly" gives the same
patient with a wider heart. Image convention as in real PA films: the patient's right is
on the image's left.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from cbf_demo.findings import Sign

#: Bump when the drawing changes: it is part of the cache key.
RENDERER_VERSION = 2

#: Kinds drawn as localised lesions (a position in a lung); the others change the anatomy.
LESION_KINDS = frozenset({"effusion", "blunted_angle", "pneumothorax", "opacity", "atelectasis",
                          "granuloma", "nodule", "mass", "fracture", "catheter", "tube",
                          "pacemaker", "port", "clips", "spine_degenerative", "hiatal_hernia",
                          "aortic_calcification", "edema"})

_ZONE_T = {"upper": (0.12, 0.35), "middle": (0.4, 0.62), "lower": (0.68, 0.88),
           "hilum": (0.35, 0.5), None: (0.15, 0.85)}


@dataclass
class Anatomy:
    """One patient's body and pose; findings adjust it before drawing. Lengths are fractions
    of the image side, v downwards; ``dome`` maps the patient's side to the dome top."""

    tw: float                      # thorax half width
    apex: float                    # lung apex height
    dome: dict[str, float]         # diaphragm dome top per side ("right", "left")
    dome_h: float                  # dome height: lateral costophrenic angle lies this much lower
    ctr: float                     # cardiothoracic ratio (heart width / thorax width)
    heart_h: float                 # heart half height
    med_w: float                   # upper mediastinum half width
    lung_dark: float               # how much air lowers the density
    markings: float                # vascular-marking strength
    knob_r: float                  # aortic knob radius
    knob_shift: float = 0.0        # extra lateral shift of the knob (tortuous aorta)
    scoliosis: float = 0.0         # lateral spine curvature amplitude
    kyphosis: float = 0.0          # sagittal spine curvature (lateral view)
    ap_depth: float = 0.34         # half the antero-posterior depth (lateral view)
    rib_spacing: float = 0.07
    rib_phase: float = 0.0
    angle: float = 0.0             # pose: rotation (radians), shift, scale
    shift: tuple[float, float] = (0.0, 0.0)
    scale: float = 1.0
    exposure: float = 1.6          # tone-mapping strength
    gamma: float = 1.0
    noise: float = 0.02
    gastric_gas: float = 0.0       # stomach bubble under the left dome
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Lesion:
    """A placed sign: ``s`` is -1 for the patient's right (image left), +1 for the left;
    ``t`` runs apex → dome (0 → 1), ``w`` medial → lateral, ``depth`` anterior → posterior."""

    kind: str
    s: int
    t: float
    w: float
    depth: float
    severity: float
    zone: str | None
    seed: int


def sample_anatomy(rng: np.random.Generator) -> Anatomy:
    """A normal patient: anatomy, pose, contrast and noise vary within plausible ranges."""
    d_right = rng.uniform(0.64, 0.69)
    return Anatomy(
        tw=rng.uniform(0.35, 0.41), apex=rng.uniform(0.13, 0.18),
        dome={"right": d_right, "left": d_right + rng.uniform(0.01, 0.035)},
        dome_h=rng.uniform(0.07, 0.1), ctr=rng.uniform(0.40, 0.47), heart_h=rng.uniform(0.11, 0.135),
        med_w=rng.uniform(0.05, 0.065), lung_dark=rng.uniform(0.55, 0.68),
        markings=rng.uniform(0.8, 1.2), knob_r=rng.uniform(0.025, 0.033),
        ap_depth=rng.uniform(0.3, 0.36), rib_spacing=rng.uniform(0.062, 0.074),
        rib_phase=rng.uniform(0.0, 1.0), angle=rng.uniform(-0.05, 0.05),
        shift=(rng.uniform(-0.03, 0.03), rng.uniform(-0.03, 0.03)), scale=rng.uniform(0.95, 1.05),
        exposure=rng.uniform(1.3, 1.9), gamma=rng.uniform(0.8, 1.25), noise=rng.uniform(0.01, 0.03),
        gastric_gas=rng.uniform(0.0, 0.4),
    )


def apply_global_signs(an: Anatomy, signs: list[Sign], rng: np.random.Generator) -> Anatomy:
    """Findings that change the anatomy rather than add a lesion."""
    an = replace(an, dome=dict(an.dome), extra=dict(an.extra))
    for sign in signs:
        sev = sign.severity
        if sign.kind == "cardiomegaly":
            an.ctr = max(an.ctr, 0.52 + 0.07 * sev)
            an.heart_h *= 1.0 + 0.12 * min(sev, 1.5)
        elif sign.kind == "hyperinflation":
            lift = 0.05 + 0.02 * min(sev, 1.5)
            an.dome = {k: v + lift for k, v in an.dome.items()}
            an.dome_h *= 0.35
            an.lung_dark += 0.08
            an.ctr -= 0.04
            an.markings *= 0.7
            an.ap_depth += 0.04
            an.rib_spacing *= 1.12
        elif sign.kind == "hypoinflation":
            drop = 0.05 + 0.03 * min(sev, 1.5)
            an.dome = {k: v - drop for k, v in an.dome.items()}
            an.dome_h *= 1.25
            an.ctr += 0.04
            an.markings *= 1.3
            an.rib_spacing *= 0.9
        elif sign.kind == "elevated_diaphragm":
            for side in _side_names(sign, rng):
                an.dome[side] -= 0.06 * min(sev, 1.5)
        elif sign.kind in ("edema", "markings"):
            an.markings = min(an.markings * (1.4 + 0.4 * min(sev, 1.5)), 2.0)
        elif sign.kind == "tortuous_aorta":
            an.knob_r *= 1.35
            an.knob_shift = 0.02
        elif sign.kind == "scoliosis":
            an.scoliosis = float(rng.choice([-1.0, 1.0])) * 0.03 * min(sev, 1.5)
        elif sign.kind == "kyphosis":
            an.kyphosis = 0.05 * min(sev, 1.5)
        elif sign.kind == "poor_quality":
            an.noise *= 2.2
            an.exposure *= float(rng.choice([0.6, 1.6]))
            an.angle *= 2.0
    return an


def _side_names(sign: Sign, rng: np.random.Generator) -> list[str]:
    if sign.side == "bilateral":
        return ["right", "left"]
    if sign.side in ("right", "left"):
        return [sign.side]
    return [str(rng.choice(["right", "left"]))]


def place_lesions(signs: list[Sign], rng: np.random.Generator) -> list[Lesion]:
    """Concrete positions for localised signs (shared by both views)."""
    out = []
    for sign in signs:
        if sign.kind not in LESION_KINDS:
            continue
        default_side = {"pacemaker": "left", "port": "right", "catheter": "right"}.get(sign.kind)
        if sign.side is None and default_side and sign.kind != "clips":
            sides = [default_side]
        else:
            sides = _side_names(sign, rng)
        for side in sides:
            lo, hi = _ZONE_T.get(sign.zone, _ZONE_T[None])
            w_lo = 0.05 if sign.zone == "hilum" else 0.25
            w_hi = 0.3 if sign.zone == "hilum" else 0.85
            out.append(Lesion(kind=sign.kind, s=-1 if side == "right" else 1,
                              t=float(rng.uniform(lo, hi)), w=float(rng.uniform(w_lo, w_hi)),
                              depth=float(rng.uniform(0.2, 0.8)), severity=sign.severity,
                              zone=sign.zone, seed=int(rng.integers(0, 2**31 - 1))))
    return out


def render_study(signs: list[Sign], rng: np.random.Generator, size: int = 128
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Two synthetic views (frontal, lateral), each uint8 (size, size), of one study."""
    from cbf_demo.frontal import render_frontal
    from cbf_demo.lateral import render_lateral

    anatomy_rng, lesion_rng, noise_rng, global_rng = (
        np.random.default_rng(s) for s in rng.integers(0, 2**63 - 1, size=4))
    an = apply_global_signs(sample_anatomy(anatomy_rng), signs, global_rng)
    lesions = place_lesions(signs, lesion_rng)
    frontal = render_frontal(an, lesions, size, noise_rng)
    lateral = render_lateral(an, lesions, size, noise_rng)
    return frontal, lateral


def to_uint8(density: np.ndarray, an: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Tone-map a density map like film (brighter where more attenuating), then exposure
    drift, noise and the study's gamma (a lookup table on the uint8 result)."""
    from cbf_demo.draw import blur3, noise_window, smooth_noise

    size = density.shape[0]
    img = blur3(density)
    np.maximum(img, 0.0, out=img)
    img *= np.float32(-an.exposure)
    np.exp(img, out=img)
    img = np.float32(1.0) - img
    img += np.float32(0.03) * smooth_noise(rng, size, 3)
    img += np.float32(an.noise) * noise_window(rng, size)
    img *= np.float32(255.0)
    img += np.float32(0.5)
    np.clip(img, 0.0, 255.0, out=img)
    return _gamma_lut(round(an.gamma, 2))[img.astype(np.uint8)]


@lru_cache(maxsize=256)
def _gamma_lut(gamma: float) -> np.ndarray:
    return np.round((np.arange(256) / 255.0) ** gamma * 255.0).astype(np.uint8)


__all__ = ["Anatomy", "Lesion", "RENDERER_VERSION", "apply_global_signs", "place_lesions",
           "render_study", "sample_anatomy", "to_uint8"]
