"""The lateral view of a synthetic phantom: a simpler silhouette with the same heart size,
lung volume, fluid, lesions and devices as the frontal view. Anterior is on the image left.
"""
from __future__ import annotations

import numpy as np

from cbf_demo.draw import F32, bezier, blob, ellipse, grid, line, ramp, rectangle, smooth_noise
from cbf_demo.phantom import Anatomy, Lesion, to_uint8


def render_lateral(an: Anatomy, lesions: list[Lesion], size: int, rng: np.random.Generator) -> np.ndarray:
    """The lateral view as uint8 (size, size)."""
    v0, u0 = grid(size)
    c, s = np.cos(an.angle * 0.5), np.sin(an.angle * 0.5)
    du, dv = (u0 - 0.5) / an.scale, (v0 - 0.5) / an.scale
    u = (c * du - s * dv + 0.5 - an.shift[0]).astype(F32)
    v = (s * du + c * dv + 0.5 - an.shift[1]).astype(F32)

    dome = 0.5 * (an.dome["right"] + an.dome["left"])
    front, back = 0.5 - an.ap_depth, 0.5 + an.ap_depth
    body = ellipse(u, v, 0.5, 0.6, an.ap_depth + 0.07, 1.0, eps=0.08)
    arms = ramp(v - F32(an.apex + 0.02), 0.1) * ramp(np.abs(u - F32(0.5)) - F32(an.ap_depth + 0.1), 0.05)
    # lungs: one large lucent region, the diaphragm lowest posteriorly
    lung_cu, lung_a = 0.5 + 0.02, an.ap_depth * 0.88
    dome_curve = F32(dome - 0.02) + F32(an.dome_h * 1.2) * ((u - F32(0.42)) / F32(lung_a)) ** 2
    lung = ellipse(u, v, lung_cu, dome + 0.05, lung_a, dome + 0.05 - an.apex + 0.02, eps=0.1)
    lung *= ramp(v - dome_curve, 0.012)
    heart_a = 0.12 * an.ctr / 0.44
    heart_c = (front + 0.04 + heart_a, dome - an.heart_h * 0.7)
    heart = ellipse(u, v, *heart_c, heart_a, an.heart_h * 1.1, eps=0.08, angle=-0.35)
    lung *= 1.0 - heart
    # spine: vertebral bodies posteriorly, with a kyphotic bow
    xs = F32(back - 0.07) - F32(an.kyphosis) * np.sin(np.pi * np.clip(v, 0, 1))
    bodies = np.clip(np.cos(F32(2 * np.pi / 0.055) * v) * 3.0 + 2.0, 0.0, 1.0)
    spine = ramp(np.abs(u - xs) - F32(0.04), 0.008) * bodies
    sternum = (ramp(np.abs(u - F32(front + 0.025)) - F32(0.008), 0.006) * ramp(v - F32(dome - 0.05), 0.02)
               * ramp(F32(an.apex + 0.06) - v, 0.02))
    trachea = ramp(np.abs(u - F32(0.5 - 0.04 * (1 - v))) - F32(0.016), 0.01) * ramp(v - F32(an.apex + 0.15), 0.03)
    vessels = np.clip(smooth_noise(rng, size, 18), 0, None) * blob(u, v, 0.52, an.apex + 0.3, 0.14)

    density = F32(0.95) * body + F32(0.25) * arms - F32(an.lung_dark * 0.85) * lung + F32(0.06) * heart
    density += F32(0.3) * spine + F32(0.25) * sternum - F32(0.2) * trachea
    density += F32(0.07 * an.markings) * vessels * lung

    for les in lesions:
        r = np.random.default_rng(les.seed + 1)
        sev = float(min(les.severity, 1.8))
        pv = an.apex + les.t * (dome - an.apex)
        pu = front + 0.06 + les.depth * (2 * an.ap_depth - 0.14)
        k = les.kind
        if k in ("effusion", "blunted_angle"):
            depth = 0.02 if k == "blunted_angle" else 0.04 + 0.07 * sev
            post = np.clip((u - F32(0.42)) / F32(lung_a), 0.0, 1.0)
            top = F32(dome + an.dome_h * 1.2 - depth) + F32(0.1) * (1 - post) ** 2
            density += F32(an.lung_dark * 0.8) * ramp(top - v, 0.012) * lung
        elif k == "opacity":
            spots = sum(blob(u, v, pu + 0.05 * r.standard_normal(), pv + 0.04 * r.standard_normal(),
                             r.uniform(0.02, 0.04)) for _ in range(2 + int(2 * sev)))
            density += F32(0.3) * np.clip(spots, 0, 1) * lung
        elif k == "atelectasis":
            density += F32(0.35) * line(u, v, [(pu - 0.06, pv - 0.01), (pu + 0.06, pv + 0.015)], 0.005) * lung
        elif k == "granuloma":
            density += F32(1.0) * ellipse(u, v, pu, pv, 0.007, 0.007, eps=0.4)
        elif k in ("nodule", "mass"):
            rad = 0.02 if k == "nodule" else 0.055
            density += F32(0.4) * ellipse(u, v, pu, pv, rad, rad, eps=0.5)
        elif k == "edema":
            density += F32(0.2 * sev) * blob(u, v, 0.52, an.apex + 0.3, 0.1) * lung
        elif k in ("pacemaker", "port"):
            cu, cv = front + 0.01, an.apex + 0.03
            if k == "pacemaker":
                density += F32(1.4) * rectangle(u, v, cu, cv, 0.012, 0.03)
                density += F32(0.8) * line(u, v, bezier((cu, cv), (0.5, an.apex + 0.15), heart_c), 0.003)
            else:
                density += F32(1.3) * rectangle(u, v, cu, cv + 0.05, 0.01, 0.022)
        elif k == "catheter":
            density += F32(0.7) * line(u, v, bezier((0.45, 0.0), (0.48, an.apex + 0.08),
                                                    (0.5, an.apex + 0.27)), 0.004)
        elif k == "tube":
            density += F32(0.6) * line(u, v, [(0.44, 0.0), (0.5 - 0.04 * (1 - an.apex - 0.1), an.apex + 0.1)], 0.005)
        elif k == "clips":
            if les.zone is None and les.seed % 2 == 0:
                for j in range(5):
                    density += F32(1.2) * ellipse(u, v, front + 0.025, an.apex + 0.12 + 0.07 * j, 0.006, 0.01, eps=0.5)
            else:
                density += F32(1.2) * ellipse(u, v, pu, pv, 0.01, 0.006, eps=0.5)
        elif k == "spine_degenerative":
            for j in range(4):
                vv = an.apex + 0.1 + 0.052 * int(r.integers(0, 8))
                xv = float(back - 0.07 - an.kyphosis * np.sin(np.pi * vv))
                density += F32(0.5) * ellipse(u, v, xv - 0.045, vv + 0.026, 0.01, 0.007, eps=0.6)
        elif k == "hiatal_hernia":
            cv = dome - 0.04
            bubble = ellipse(u, v, 0.55, cv, 0.05, 0.04, eps=0.2)
            density -= F32(0.35) * bubble * ramp(v - F32(cv + 0.01), 0.004)
        elif k == "pneumothorax" and les.zone in (None, "upper"):
            density -= F32(0.1) * ellipse(u, v, lung_cu, an.apex + 0.05, lung_a * 0.7, 0.05, eps=0.3) * lung
    return to_uint8(density, an, rng)


__all__ = ["render_lateral"]
