"""What the phantom renderer draws for a report: signs derived from its human MeSH headings.

We read the human ``<major>`` MeSH headings only, not the free text: the annotators already
resolved negation ("no effusion" carries no heading), sides and severities, so no fragile
keyword/negation parsing is needed and the picture agrees with the report by construction.
A heading is ``Term/qualifier/qualifier...`` ("Pleural Effusion/left/small"); the table
below maps the term (plus, for some rows, one required qualifier) to a sign kind, and the
qualifiers give side, lung zone and severity. Headings not in the table draw nothing.
"""
from __future__ import annotations

from dataclasses import dataclass

#: The one visible table: (MeSH term, required qualifier or None, sign kind). First match wins.
MESH_SIGNS: tuple[tuple[str, str | None, str], ...] = (
    # heart and mediastinum
    ("cardiomegaly", None, "cardiomegaly"),
    ("cardiac shadow", "enlarged", "cardiomegaly"),
    ("aorta", "tortuous", "tortuous_aorta"),
    ("aorta, thoracic", "tortuous", "tortuous_aorta"),
    ("aortic aneurysm", None, "tortuous_aorta"),
    ("calcinosis", "aorta", "aortic_calcification"),
    ("calcinosis", "aorta, thoracic", "aortic_calcification"),
    ("atherosclerosis", None, "aortic_calcification"),
    ("hernia, hiatal", None, "hiatal_hernia"),
    # pleura
    ("pleural effusion", None, "effusion"),
    ("costophrenic angle", "blunted", "blunted_angle"),
    ("pneumothorax", None, "pneumothorax"),
    ("hydropneumothorax", None, "pneumothorax"),
    ("hemopneumothorax", None, "pneumothorax"),
    # lung parenchyma
    ("density", "round", "nodule"),
    ("opacity", "round", "nodule"),
    ("opacity", None, "opacity"),
    ("airspace disease", None, "opacity"),
    ("density", None, "opacity"),
    ("infiltrate", None, "opacity"),
    ("consolidation", None, "opacity"),
    ("pneumonia", None, "opacity"),
    ("pulmonary atelectasis", None, "atelectasis"),
    ("cicatrix", None, "atelectasis"),
    ("volume loss", None, "atelectasis"),
    ("calcified granuloma", None, "granuloma"),
    ("granuloma", None, "granuloma"),
    ("granulomatous disease", None, "granuloma"),
    ("calcinosis", None, "granuloma"),  # lung, hilar or mediastinal node calcification
    ("nodule", None, "nodule"),
    ("mass", None, "mass"),
    ("pulmonary congestion", None, "edema"),
    ("pulmonary edema", None, "edema"),
    ("heart failure", None, "edema"),
    ("markings", None, "markings"),
    ("lung diseases, interstitial", None, "markings"),
    ("pulmonary fibrosis", None, "markings"),
    # lung volume and diaphragm
    ("lung", "hyperdistention", "hyperinflation"),
    ("lung", "hypoinflation", "hypoinflation"),
    ("emphysema", None, "hyperinflation"),
    ("pulmonary emphysema", None, "hyperinflation"),
    ("pulmonary disease, chronic obstructive", None, "hyperinflation"),
    ("lung, hyperlucent", None, "hyperinflation"),
    ("diaphragm", "flattened", "hyperinflation"),
    ("diaphragm", "elevated", "elevated_diaphragm"),
    ("diaphragmatic eventration", None, "elevated_diaphragm"),
    # bones
    ("spine", "degenerative", "spine_degenerative"),
    ("thoracic vertebrae", "degenerative", "spine_degenerative"),
    ("osteophyte", None, "spine_degenerative"),
    ("spondylosis", None, "spine_degenerative"),
    ("scoliosis", None, "scoliosis"),
    ("kyphosis", None, "kyphosis"),
    ("fractures, bone", None, "fracture"),
    # devices
    ("catheters, indwelling", None, "catheter"),
    ("tube, inserted", None, "tube"),
    ("implanted medical device", None, "pacemaker"),
    ("medical device", None, "port"),
    ("surgical instruments", None, "clips"),
    ("sutures", None, "clips"),
    ("stents", None, "clips"),
    ("foreign bodies", None, "clips"),
    # image quality
    ("technical quality of image unsatisfactory", None, "poor_quality"),
)

SIGN_KINDS: tuple[str, ...] = tuple(dict.fromkeys(kind for _, _, kind in MESH_SIGNS))

_SEVERITY = {"borderline": 0.5, "mild": 0.7, "small": 0.7, "minimal": 0.5,
             "moderate": 1.3, "large": 1.7, "severe": 1.7, "massive": 2.0}
_ZONES = {"base": "lower", "lower lobe": "lower", "retrocardiac": "lower",
          "costophrenic angle": "lower", "middle lobe": "middle", "lingula": "middle",
          "upper lobe": "upper", "apex": "upper", "hilum": "hilum", "abdomen": "abdomen"}
#: Zones that fix the side (the right lung has the middle lobe, the left the lingula).
_ZONE_SIDE = {"middle lobe": "right", "lingula": "left"}


@dataclass(frozen=True)
class Sign:
    """One thing to draw. ``side`` is the patient's side ("left", "right", "bilateral" or
    None = unspecified); ``zone`` is "upper", "middle", "lower", "hilum", "abdomen" or None."""

    kind: str
    side: str | None = None
    zone: str | None = None
    severity: float = 1.0


def sign_for_heading(heading: str) -> Sign | None:
    """The sign one MeSH heading asks for, or None when the table has no row for it."""
    parts = [p.strip().lower() for p in heading.split("/") if p.strip()]
    if not parts:
        return None
    term, qualifiers = parts[0], parts[1:]
    for row_term, needed, kind in MESH_SIGNS:
        if row_term == term and (needed is None or needed in qualifiers):
            break
    else:
        return None
    side = zone = None
    severity = 1.0
    for q in qualifiers:
        if q in ("left", "right", "bilateral"):
            side = q if side is None or side == q else "bilateral"
        elif q in _ZONES and zone is None:
            zone = _ZONES[q]
            side = side or _ZONE_SIDE.get(q)
        elif q in _SEVERITY:
            severity = _SEVERITY[q]
    return Sign(kind, side, zone, severity)


def signs_from_mesh(headings: list[str]) -> list[Sign]:
    """All signs of a report, de-duplicated by (kind, side, zone) keeping the largest severity,
    in a stable order (so that rendering is deterministic)."""
    best: dict[tuple, Sign] = {}
    for heading in headings:
        sign = sign_for_heading(heading)
        if sign is None:
            continue
        key = (sign.kind, sign.side, sign.zone)
        if key not in best or best[key].severity < sign.severity:
            best[key] = sign
    return list(best.values())


__all__ = ["MESH_SIGNS", "SIGN_KINDS", "Sign", "sign_for_heading", "signs_from_mesh"]
