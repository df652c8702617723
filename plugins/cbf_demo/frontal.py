"""The frontal (PA) view of a synthetic phantom: thorax, lungs, heart, bones, and the signs.

Density map conventions: 0 = air outside the body, ~0.95 = soft tissue, lungs lower it by
``lung_dark``, bones and devices add. The patient's right (s = -1) is on the image left.
"""
from __future__ import annotations

import numpy as np

from cbf_demo.draw import F32, bezier, blob, ellipse, grid, line, ramp, rectangle, smooth_noise
from cbf_demo.phantom import Anatomy, Lesion, to_uint8
from cbf_demo.vessels import vessels

_SIDE = {-1: "right", 1: "left"}
_RIB_A, _RIB_B = F32(-0.15), F32(1.5)  # posterior rib curve: v = apex + A·d + B·d² from midline


class _Frontal:
    """Geometry of one frontal view, evaluated on the posed grid."""

    def __init__(self, an: Anatomy, size: int) -> None:
        v0, u0 = grid(size)
        c, s = F32(np.cos(an.angle) / an.scale), F32(np.sin(an.angle) / an.scale)
        du, dv = u0 - F32(0.5), v0 - F32(0.5)
        self.u = c * du - s * dv + F32(0.5 - an.shift[0])
        self.v = s * du + c * dv + F32(0.5 - an.shift[1])
        self.an, self.size = an, size
        self.dome_mean = 0.5 * (an.dome["right"] + an.dome["left"])
        hw = an.ctr * an.tw
        self.heart_c = (0.5 + 0.3 * hw, self.dome_mean - 0.2 * an.heart_h)
        self.heart_a = (hw, an.heart_h)
        self.heart = ellipse(self.u, self.v, *self.heart_c, *self.heart_a, eps=0.06)
        self.knob_c = (0.5 + an.med_w + an.knob_shift, an.apex + 0.12)
        self.knob = ellipse(self.u, self.v, *self.knob_c, an.knob_r, an.knob_r * 1.2, eps=0.2)
        self.lungs = {s: self._lung(s) for s in (-1, 1)}

    def lung_geometry(self, s: int) -> tuple[float, float, float, float, float]:
        """(centre u, centre v, half width, half height, dome top) of one lung's ellipse."""
        an = self.an
        dome = an.dome[_SIDE[s]]
        cv = dome + 0.03
        return 0.5 + s * 0.5 * an.tw, cv, 0.52 * an.tw, cv - an.apex, dome

    def dome_curve(self, s: int) -> np.ndarray:
        cu, _, a, _, dome = self.lung_geometry(s)
        return dome + self.an.dome_h * ((self.u - F32(cu)) / F32(a)) ** 2

    def _lung(self, s: int) -> np.ndarray:
        cu, cv, a, b, _ = self.lung_geometry(s)
        shape = ellipse(self.u, self.v, cu, cv, a, b, eps=0.1)
        above_dome = ramp(self.v - self.dome_curve(s), 0.012)
        lateral_of_mediastinum = ramp(F32(self.an.med_w) - s * (self.u - F32(0.5)), 0.012)
        solid = self.heart if s < 0 else np.maximum(self.heart, self.knob)
        return shape * above_dome * lateral_of_mediastinum * (1.0 - solid)

    def point(self, les: Lesion) -> tuple[float, float]:
        """Image position of a lesion inside its lung."""
        cu, cv, a, b, dome = self.lung_geometry(les.s)
        v = self.an.apex + les.t * (dome - self.an.apex)
        half = a * np.sqrt(max(1.0 - ((v - cv) / b) ** 2, 0.05))
        medial, lateral = 0.5 + les.s * (self.an.med_w + 0.03), cu + les.s * half * 0.85
        return medial + les.w * (lateral - medial), v


def _body(f: _Frontal) -> np.ndarray:
    an, u, v = f.an, f.u, f.v
    neck, chest = 0.1, an.tw + 0.08
    rise = np.clip((v - F32(an.apex - 0.16)) * F32(1 / 0.14), 0.0, 1.0)
    half = neck + (chest + 0.06 - neck) * rise * rise * (3 - 2 * rise)
    half -= F32(0.06) * np.clip((v - F32(an.apex)) * F32(1 / 0.3), 0.0, 1.0)
    return ramp(np.abs(u - F32(0.5)) - half, 0.03)


def _spine_u(an: Anatomy, v: np.ndarray) -> np.ndarray:
    return F32(0.5) + F32(an.scoliosis) * np.sin(np.pi * (v - F32(0.05)) / F32(0.9))


def _bones(f: _Frontal, lesions: list[Lesion]) -> np.ndarray:
    an, u, v = f.an, f.u, f.v
    xs = _spine_u(an, v)
    bodies = F32(0.75) + F32(0.25) * np.cos(F32(2 * np.pi / 0.052) * v)
    spine = ramp(np.abs(u - xs) - F32(0.032), 0.01) * bodies
    # posterior ribs: one periodic band pattern along curves that fall laterally
    d = np.abs(u - F32(0.5))
    curve = _RIB_A * d + _RIB_B * d * d
    phase = (v - curve - F32(an.apex - 0.035)) * F32(1.0 / an.rib_spacing)
    ribs = np.clip(np.cos(F32(2 * np.pi) * phase), 0.0, 1.0)
    ribs *= ribs
    # anterior ribs: fainter bands running the other way (down towards the sternum)
    front = np.clip(np.cos(F32(2 * np.pi / an.rib_spacing / 1.3) * (v + F32(0.5) * d - F32(an.rib_phase * 0.05))), 0.0, 1.0)
    front *= front
    ribs += F32(0.35) * front * front
    cage = ramp(d - F32(an.tw + 0.02), 0.02) * ramp(F32(0.045) - d, 0.01)
    cage *= ramp(v - F32(max(an.dome.values()) + an.dome_h + 0.02), 0.04) * ramp(F32(an.apex - 0.04) - v, 0.03)
    for les in lesions:
        if les.kind == "fracture":
            fu, fv = f.point(les)
            c = float(_RIB_A) * abs(fu - 0.5) + float(_RIB_B) * (fu - 0.5) ** 2
            fv = float(np.round((fv - c - an.apex + 0.035) / an.rib_spacing) * an.rib_spacing
                       + c + an.apex - 0.035)
            gap = rectangle(u, v, fu, fv, 0.006, 0.03, eps=0.004)
            ribs = ribs * (1.0 - gap) + F32(0.6) * blob(u, v, fu + les.s * 0.012, fv + 0.006, 0.007)
    # clavicles: S-shaped bands from the sternum to the shoulders
    clav_v = F32(an.apex - 0.045) + F32(0.05) * (d - F32(0.2)) ** 2 - F32(0.12) * (d - F32(0.05))
    clav = ramp(np.abs(v - clav_v) - F32(0.011), 0.008) * ramp(F32(0.04) - d, 0.01) * ramp(d - F32(0.3), 0.03)
    return F32(0.28) * spine + F32(0.11) * ribs * cage + F32(0.3) * clav


def _markings(f: _Frontal, rng: np.random.Generator) -> np.ndarray:
    """Vessel trees from the hila (a fixed bank), fading towards the periphery, in the lungs."""
    lungs = f.lungs[-1] + f.lungs[1]
    tex = vessels(rng, f.size) * (F32(0.16 * f.an.markings) * lungs)
    return tex + F32(0.03) * np.clip(smooth_noise(rng, f.size, 20), 0, None) * lungs


def _mediastinum(f: _Frontal) -> np.ndarray:
    an, u, v = f.an, f.u, f.v
    trachea = ramp(np.abs(u - F32(0.5)) - F32(0.014), 0.01) * ramp(v - F32(an.apex + 0.13), 0.03)
    gas = ellipse(u, v, 0.5 + 0.2, an.dome["left"] + an.dome_h * 0.5 + 0.05, 0.045, 0.025, eps=0.5)
    return F32(0.06) * f.knob + F32(0.08) * f.heart - F32(0.25) * trachea - F32(an.gastric_gas) * gas


def _lesions(f: _Frontal, lesions: list[Lesion]) -> np.ndarray:
    an, u, v = f.an, f.u, f.v
    out = np.zeros_like(u)
    for les in lesions:
        rng = np.random.default_rng(les.seed)
        s, sev = les.s, float(min(les.severity, 1.8))
        lung = f.lungs[s]
        pu, pv = f.point(les)
        k = les.kind
        if k in ("effusion", "blunted_angle"):
            cu, cv, a, b, dome = f.lung_geometry(s)
            depth = (0.03 if k == "blunted_angle" else 0.07 + 0.09 * sev) * (1 + 0.1 * rng.standard_normal())
            lat = np.clip((s * (u - F32(cu)) / F32(a) + 1) * 0.5, 0.0, 1.0)
            top = F32(dome + an.dome_h - depth) + F32(0.06 + 0.04 * sev) * (1 - lat) ** 2
            fluid = ramp(top - v, 0.012) * ramp(-s * (u - F32(0.5)), 0.01)
            out += F32(an.lung_dark * 0.95) * fluid * lung + F32(0.12) * ramp(top - v - 0.06, 0.06) * lung
        elif k == "pneumothorax":
            cu, cv, a, b, _ = f.lung_geometry(s)
            shrink = 0.14 + 0.08 * sev
            a2, b2 = a * (1 - shrink), b * (1 - shrink * 0.8)
            fin = ((u - F32(cu - s * (a - a2) * 0.9)) / F32(a2)) ** 2 + ((v - F32(cv + (b - b2) * 0.95)) / F32(b2)) ** 2 - 1
            rim = lung * np.clip(fin * 8.0, 0.0, 1.0)
            out -= F32(0.12) * rim + f.markings_img * rim
            out += F32(0.4) * np.clip(1 - np.abs(fin) / 0.045, 0.0, 1.0) * lung
        elif k == "opacity":
            n = 2 + int(2 * sev) + int(rng.integers(0, 3))
            spots = sum(blob(u, v, pu + 0.05 * rng.standard_normal(), pv + 0.04 * rng.standard_normal(),
                             rng.uniform(0.018, 0.04)) for _ in range(n))
            patchy = np.clip(0.6 + 0.5 * smooth_noise(rng, f.size, 16), 0.0, 1.2)
            out += F32(0.4 + 0.1 * sev) * np.clip(spots, 0, 1.2) * patchy * lung
        elif k == "atelectasis":
            for _ in range(1 + int(rng.integers(0, 2 + int(sev)))):
                cu_, cv_ = pu + 0.03 * rng.standard_normal(), pv + 0.03 * rng.standard_normal()
                ang, half = rng.uniform(-0.35, 0.35), rng.uniform(0.035, 0.07)
                du, dv = half * np.cos(ang), half * np.sin(ang)
                out += F32(0.5) * line(u, v, [(cu_ - du, cv_ - dv), (cu_ + du, cv_ + dv)],
                                       rng.uniform(0.004, 0.007)) * lung
        elif k == "granuloma":
            out += F32(1.2) * ellipse(u, v, pu, pv, r := rng.uniform(0.006, 0.009), r, eps=0.4)
        elif k in ("nodule", "mass"):
            r = rng.uniform(0.016, 0.026) if k == "nodule" else rng.uniform(0.045, 0.07)
            out += F32(0.45) * ellipse(u, v, pu, pv, r, r * rng.uniform(0.85, 1.15), eps=0.5)
        elif k == "edema":
            hv = an.apex + 0.45 * (f.dome_mean - an.apex)
            haze = blob(u, v, 0.5 + s * 0.12, hv, 0.09 + 0.02 * sev)
            out += F32(0.25 + 0.1 * sev) * haze * lung
            cu, _, a, _, dome = f.lung_geometry(s)
            for j in range(4):
                y = dome - 0.02 - 0.022 * j + 0.006 * rng.standard_normal()
                x0 = cu + s * a * 0.95
                out += F32(0.3) * line(u, v, [(x0, y), (x0 - s * 0.035, y)], 0.003) * lung
        elif k == "catheter":
            tip = (0.5 - 0.045, an.apex + 0.25 + 0.05 * rng.uniform())
            pts = bezier((0.5 + s * 0.3, 0.02), (0.5 + s * 0.12, an.apex + 0.04), tip)
            out += F32(0.8) * line(u, v, pts, 0.0045)
        elif k == "tube":
            carina = an.apex + 0.13
            out += F32(0.7) * line(u, v, [(0.5, -0.02), (0.5, carina - 0.03 - 0.03 * rng.uniform())], 0.006)
            if les.zone == "abdomen" or rng.uniform() < 0.4:  # an enteric tube into the stomach
                pts = bezier((0.515, -0.02), (0.52, f.dome_mean), (0.62, an.dome["left"] + 0.1), 10)
                out += F32(0.6) * line(u, v, pts, 0.004)
        elif k in ("pacemaker", "port"):
            cu, cv = 0.5 + s * 0.27, an.apex + 0.02 + 0.03 * rng.uniform()
            if k == "pacemaker":
                out += F32(1.5) * rectangle(u, v, cu, cv, 0.045, 0.03, angle=rng.uniform(-0.3, 0.3))
                for j in range(2):
                    end = (f.heart_c[0] + 0.03 - 0.06 * j, f.heart_c[1] + 0.05)
                    pts = bezier((cu, cv), (0.5 - 0.04, an.apex + 0.15), end)
                    out += F32(0.9) * line(u, v, pts, 0.003)
            else:
                out += F32(1.4) * ellipse(u, v, cu, cv + 0.05, 0.022, 0.022, eps=0.3)
                pts = bezier((cu, cv + 0.05), (0.5 - 0.02, an.apex + 0.1), (0.5 - 0.045, an.apex + 0.27))
                out += F32(0.7) * line(u, v, pts, 0.0035)
        elif k == "clips":
            if les.zone == "abdomen":
                centre = [(0.5 - 0.18 + 0.05 * rng.standard_normal(), an.dome["right"] + 0.12)]
            elif les.zone is None and les.seed % 2 == 0:  # sternotomy wires
                centre = [(0.5, an.apex + 0.12 + 0.07 * j) for j in range(5)]
            else:
                centre = [(pu, pv)]
            for cu, cv in centre:
                out += F32(1.3) * (ellipse(u, v, cu, cv, 0.012, 0.008, eps=0.5)
                                   - ellipse(u, v, cu, cv, 0.006, 0.003, eps=0.5))
        elif k == "spine_degenerative":
            for j in range(3 + int(rng.integers(0, 3))):
                vv = an.apex + 0.08 + 0.052 * int(rng.integers(0, 9))
                xs = float(_spine_u(an, np.asarray(vv, dtype=F32)))
                side = float(rng.choice([-1, 1]))
                out += F32(0.55) * ellipse(u, v, xs + side * 0.038, vv + 0.024, 0.014, 0.006, eps=0.6)
        elif k == "hiatal_hernia":
            cu, cv = 0.5 + 0.03, f.dome_mean - 0.06
            bubble = ellipse(u, v, cu, cv, 0.05, 0.04, eps=0.2)
            out -= F32(0.35) * bubble * ramp(v - F32(cv + 0.01), 0.004)
        elif k == "aortic_calcification":
            (cu, cv), r = f.knob_c, an.knob_r
            ring = np.clip(1 - np.abs(np.sqrt((u - F32(cu)) ** 2 + (v - F32(cv)) ** 2) - F32(r)) / 0.005, 0, 1)
            out += F32(0.7) * ring * ramp(F32(cv + 0.01) - v, 0.01) * ramp(F32(cu) - u, 0.01)
    return out


def render_frontal(an: Anatomy, lesions: list[Lesion], size: int, rng: np.random.Generator) -> np.ndarray:
    """The frontal view as uint8 (size, size)."""
    f = _Frontal(an, size)
    lungs = f.lungs[-1] + f.lungs[1]
    f.markings_img = _markings(f, rng)
    density = F32(0.95) * _body(f) - F32(an.lung_dark) * lungs + f.markings_img
    density += _mediastinum(f) + _bones(f, lesions) + _lesions(f, lesions)
    return to_uint8(density, an, rng)


__all__ = ["render_frontal"]
