"""Readers for the MIMIC-CXR-JPG CSV tables (plain or .gz), checking every row.

- ``mimic-cxr-2.0.0-split.csv.gz``: dicom_id, study_id, subject_id, split (train/validate/test)
- ``mimic-cxr-2.0.0-chexpert.csv.gz``: subject_id, study_id + the 14 CheXpert columns
  (1.0 positive, 0.0 negative, -1.0 uncertain, blank not mentioned → nan)
- ``mimic-cxr-2.0.0-metadata.csv.gz``: dicom_id, subject_id, study_id, …, ViewPosition, …
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from cbf.data.files import open_text
from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS

SPLIT_NAMES = {"train": "train", "validate": "val", "val": "val", "test": "test"}
_VALUES = {"1.0": 1.0, "1": 1.0, "0.0": 0.0, "0": 0.0, "-1.0": -1.0, "-1": -1.0, "": math.nan}


@dataclass
class Image:
    dicom_id: str
    subject_id: str
    study_id: str
    split: str


def rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for each data row; a missing column or a short/long row raises DataError."""
    try:
        with open_text(path) as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            missing = [c for c in columns if c not in header]
            if missing:
                raise DataError(f"{path}, line 1: missing column(s) {missing} (header {header})")
            for row in reader:
                if None in row or any(v is None for v in row.values()):
                    raise DataError(f"{path}, line {reader.line_num}: expected {len(header)} fields")
                yield reader.line_num, row
    except (csv.Error, UnicodeDecodeError, EOFError, OSError) as exc:
        raise DataError(f"{path}: cannot parse the table ({type(exc).__name__}: {exc})") from exc


def _id(value: str, name: str, path: Path, line: int) -> str:
    value = value.strip()
    if not value.isdigit():
        raise DataError(f"{path}, line {line}: {name} {value!r} is not a number")
    return value


def read_split(path: Path) -> list[Image]:
    out = []
    for line, row in rows(path, ("dicom_id", "study_id", "subject_id", "split")):
        split = SPLIT_NAMES.get(row["split"].strip())
        if split is None:
            raise DataError(f"{path}, line {line}: split {row['split']!r} is not train/validate/test")
        if not row["dicom_id"].strip():
            raise DataError(f"{path}, line {line}: empty dicom_id")
        out.append(Image(row["dicom_id"].strip(), _id(row["subject_id"], "subject_id", path, line),
                         _id(row["study_id"], "study_id", path, line), split))
    return out


def read_chexpert(path: Path) -> dict[str, list[float]]:
    """study_id → 14 floats in :data:`cbf.fields.CHEXPERT_LABELS` order."""
    out = {}
    for line, row in rows(path, ("subject_id", "study_id", *CHEXPERT_LABELS)):
        labels = []
        for name in CHEXPERT_LABELS:
            value = _VALUES.get(row[name].strip())
            if value is None:
                raise DataError(f"{path}, line {line}: {name} = {row[name]!r} (expected 1.0, 0.0, -1.0 or blank)")
            labels.append(value)
        out[_id(row["study_id"], "study_id", path, line)] = labels
    return out


def read_views(path: Path) -> dict[str, str]:
    """dicom_id → ViewPosition (upper case; blank when the DICOM had none)."""
    return {row["dicom_id"].strip(): row["ViewPosition"].strip().upper()
            for _, row in rows(path, ("dicom_id", "subject_id", "study_id", "ViewPosition"))}


__all__ = ["Image", "SPLIT_NAMES", "read_chexpert", "read_split", "read_views", "rows"]
