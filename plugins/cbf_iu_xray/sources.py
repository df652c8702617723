"""The three published IU X-Ray layouts, each read into the same :class:`IUStudy` list.

- ``openi``: the Open-i XML (``NLMCXR_reports.tgz`` or an extracted ``ecgen-radiology/``),
  images ``NLMCXR_png/<image id>.png``; no view labels in the XML, so when the Kaggle
  ``indiana_projections.csv`` sits beside it, it orders the views frontal first.
- ``r2gen``: R2Gen's ``annotation.json`` (``{"train": [{id, report, image_path, split}], ...}``),
  images ``images/<id>/0.png, 1.png``; its split is kept.
- ``kaggle``: ``indiana_reports.csv`` + ``indiana_projections.csv``, images
  ``images/images_normalized/<filename>``; frontal views first.
Ids are ``CXR<uid>`` for openi and kaggle (the Open-i ``uId``), R2Gen's own id otherwise.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from cbf.data.files import read_json_object
from cbf.data.openi import parse_openi_xml, read_openi_tgz
from cbf.errors import DataError

R2GEN_FILES = ("annotation.json", "r2gen_annotation.json")
OPENI_FILES = ("NLMCXR_reports.tgz", "ecgen-radiology")
KAGGLE_REPORTS, KAGGLE_PROJECTIONS = "indiana_reports.csv", "indiana_projections.csv"
_IMAGE_ID = re.compile(r"^CXR(\d+)_(?:\d+_)?(IM-.+)$")  # CXR1_1_IM-0001-3001, CXR2_IM-0652-1001


@dataclass
class IUStudy:
    id: str
    findings: str
    impression: str
    images: list[str]  # file names relative to the images folder, in view order
    split: str | None = None  # the file's own split (r2gen), else None
    mesh_major: list[str] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def report(self) -> str:
        return " ".join(p for p in (self.findings.strip(), self.impression.strip()) if p)


def read_projections(path: Path) -> dict[str, str]:
    """``indiana_projections.csv`` → {filename: projection}; columns uid, filename, projection."""
    rows = _read_csv(path, ("uid", "filename", "projection"))
    return {row["filename"]: row["projection"] for _, row in rows}


def _read_csv(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    out = []
    try:
        with path.open("r", encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in columns if c not in (reader.fieldnames or [])]
            if missing:
                raise DataError(f"{path}, line 1: missing column(s) {missing} (header {reader.fieldnames})")
            for row in reader:
                if None in row or any(row[c] is None for c in columns):
                    raise DataError(f"{path}, line {reader.line_num}: expected {len(reader.fieldnames)} "
                                    "fields, got a different number")
                out.append((reader.line_num, row))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot parse CSV ({type(exc).__name__}: {exc})") from exc
    return out


def _frontal_first(names: list[str], projection: dict[str, str]) -> list[str]:
    """Frontal views, then lateral, then unknown; stable within each group."""
    rank = {"frontal": 0, "lateral": 1}
    return sorted(names, key=lambda n: rank.get(projection.get(n, "").lower(), 2))


def read_openi(source: Path, projections: Path | None) -> list[IUStudy]:
    if source.is_dir():
        reports = []
        files = sorted(source.glob("*.xml"), key=lambda p: (len(p.stem), p.stem))
        if not files:
            raise DataError(f"{source}: no Open-i *.xml reports in the folder")
        for f in files:
            try:
                reports.append(parse_openi_xml(f.read_bytes(), f"ecgen-radiology/{f.name}"))
            except DataError as exc:
                raise DataError(f"{f}: {exc}") from exc
    else:
        reports = read_openi_tgz(source)
    proj: dict[str, str] = {}
    if projections is not None and projections.is_file():
        proj = read_projections(projections)
    studies = []
    for r in reports:
        names = [f"{i}.png" for i in r.image_ids]
        if proj:  # Kaggle names the same image "<uid>_IM-….dcm.png"
            kaggle = {}
            for image_id, name in zip(r.image_ids, names):
                m = _IMAGE_ID.match(image_id)
                kaggle[name] = proj.get(f"{m.group(1)}_{m.group(2)}.dcm.png", "") if m else ""
            names = _frontal_first(names, kaggle)
        studies.append(IUStudy(r.uid, r.findings, r.impression, names, None, list(r.mesh_major),
                               {"xml_path": r.xml_path}))
    return studies


def read_r2gen(path: Path) -> list[IUStudy]:
    expected = "an object with 'train', 'val', 'test' lists"
    data = read_json_object(path, expected)
    if not data:
        raise DataError(f"{path}: expected {expected}")
    studies = []
    for split, entries in data.items():
        if split not in ("train", "val", "test"):
            raise DataError(f"{path}: unknown split key {split!r} (expected train, val, test)")
        if not isinstance(entries, list):
            raise DataError(f"{path}: {split!r} must be a list of entries")
        for i, e in enumerate(entries):
            where = f"{path}: {split}[{i}]"
            if not isinstance(e, dict):
                raise DataError(f"{where}: expected an object")
            for key, kind in (("id", str), ("report", str), ("image_path", list)):
                if not isinstance(e.get(key), kind):
                    raise DataError(f"{where}: missing or bad {key!r} (expected {kind.__name__})")
            if not all(isinstance(p, str) for p in e["image_path"]):
                raise DataError(f"{where}: 'image_path' must list strings")
            studies.append(IUStudy(e["id"], e["report"], "", list(e["image_path"]), split))
    return studies


def read_kaggle(reports: Path, projections: Path) -> list[IUStudy]:
    by_uid: dict[str, list[tuple[str, str]]] = {}
    for line, row in _read_csv(projections, ("uid", "filename", "projection")):
        if not row["uid"].strip() or not row["filename"].strip():
            raise DataError(f"{projections}, line {line}: empty uid or filename")
        by_uid.setdefault(row["uid"].strip(), []).append((row["filename"].strip(), row["projection"]))
    studies, seen = [], {}
    cols = ("uid", "MeSH", "findings", "impression")
    for line, row in _read_csv(reports, cols):
        uid = row["uid"].strip()
        if not uid.isdigit():
            raise DataError(f"{reports}, line {line}: uid {uid!r} is not a number")
        if uid in seen:
            raise DataError(f"{reports}, line {line}: uid {uid} already on line {seen[uid]}")
        seen[uid] = line
        images = by_uid.get(uid, [])
        names = _frontal_first([n for n, _ in images], dict(images))
        mesh = [t.strip() for t in row["MeSH"].split(";") if t.strip()]
        studies.append(IUStudy(f"CXR{uid}", row["findings"], row["impression"], names, None, mesh))
    return studies


__all__ = ["IUStudy", "KAGGLE_PROJECTIONS", "KAGGLE_REPORTS", "OPENI_FILES", "R2GEN_FILES",
           "read_kaggle", "read_openi", "read_projections", "read_r2gen"]
