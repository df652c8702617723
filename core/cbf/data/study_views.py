"""A study's views, read under a dataset's ``on_bad_image`` policy, with what was dropped counted.

Shared by the dataset plugins (they may not import each other): :meth:`StudyViews.check`
finds missing files once, up front, from the text-level records (cheap ``stat`` calls), and
:meth:`StudyViews.load` reads the views in the data loader. Under ``"error"`` a bad file
raises :class:`DataError` naming the file and the study; under ``"skip"`` the view is
dropped (the study too when none is left) and :meth:`summary` reports the counts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from cbf.data.images import BadImageLog, BadImagePolicy
from cbf.errors import DataError
from cbf.fields import ID, IMAGE_PATHS


class StudyViews:
    """Reads ``record["image_paths"]`` through a :class:`BadImageLog` (see ``cbf.data.images``)."""

    def __init__(self, on_bad_image: BadImagePolicy = "error") -> None:
        self.log = BadImageLog(on_bad_image)
        #: studies dropped by :meth:`check` because none of their files exists
        self.dropped_missing = 0
        #: studies whose every view failed to read in :meth:`load` (returned as ``[]``)
        self.empty_at_load = 0

    @property
    def policy(self) -> BadImagePolicy:
        return self.log.policy

    def check(self, records: list[dict], source: str | Path = "",
              exists: Callable[[str], bool] = os.path.isfile) -> list[dict]:
        """Keep records whose files exist; a missing file raises (``"error"``) or is dropped.

        ``exists`` may be swapped for a lookup in a directory listing the dataset already made
        (one ``scandir`` instead of a ``stat`` per file on 100k-image datasets).

        Under ``"error"`` the message names the first missing file, its study and how many
        studies have missing files, so a half-downloaded dataset is diagnosed in one line.
        """
        kept: list[dict] = []
        missing: list[tuple[str, str]] = []
        for rec in records:
            paths = rec[IMAGE_PATHS]
            present = [p for p in paths if exists(p)]
            if len(present) == len(paths):
                kept.append(rec)
                continue
            for p in paths:
                if p not in present:
                    missing.append((p, str(rec[ID])))
            if self.policy == "skip":
                for p in paths:
                    if p not in present:
                        self.log.record(p, "image file not found")
                if present:
                    kept.append({**rec, IMAGE_PATHS: present})
                else:
                    self.dropped_missing += 1
        if missing and self.policy == "error":
            path, study = missing[0]
            n_studies = len({s for _, s in missing})
            where = f" listed in {source}" if source else ""
            raise DataError(
                f"{path}: image file not found (study {study!r}{where}; {len(missing)} missing "
                f"file(s) in {n_studies} of {len(records)} studies); set on_bad_image: 'skip' to "
                "drop them, or check_files: false to defer the check to loading")
        return kept

    def load(self, record: dict) -> list[np.ndarray]:
        """The study's views as uint8 (H, W) arrays; ``[]`` only when every view was skipped."""
        views: list[np.ndarray] = []
        for path in record[IMAGE_PATHS]:
            try:
                arr = self.log.read(path)
            except DataError as exc:
                raise DataError(f"{exc} (study {record[ID]!r})") from exc
            if arr is not None:
                views.append(arr)
        if not views and record[IMAGE_PATHS]:
            self.empty_at_load += 1
        return views

    def summary(self) -> str:
        parts = []
        if self.dropped_missing:
            parts.append(f"{self.dropped_missing} studies dropped (no image file found)")
        if self.empty_at_load:
            parts.append(f"{self.empty_at_load} studies had no readable view when loaded")
        if len(self.log):
            parts.append(f"{len(self.log)} bad image file(s) skipped")
        return "; ".join(parts) if parts else "no bad images"


__all__ = ["StudyViews"]


@dataclass
class FileDatasetOptions:
    """The options every file-backed dataset shares; a plugin's Config extends it."""

    #: the dataset folder
    root: str | None = None
    #: seeds the split where the source has none
    seed: int = 0
    on_bad_image: Literal["error", "skip"] = "error"
    #: check at records() time that every image file exists (missing → on_bad_image)
    check_files: bool = True
    #: keep only the first N studies of each split (quick runs)
    max_studies: int | None = None

    def check_common(self, root_help: str) -> None:
        """ValueError for a missing root (``root_help`` says what it must hold) or a bad max_studies."""
        if not self.root:
            raise ValueError(f"root is required: {root_help}")
        if self.max_studies is not None and self.max_studies < 1:
            raise ValueError(f"max_studies must be >= 1 or null, got {self.max_studies}")


def group_by_split(records: list[dict], max_studies: int | None = None) -> dict[str, list[dict]]:
    """Records by their ``split`` (train/val/test, in that order), the first ``max_studies`` of each."""
    from cbf.data.splits import SPLITS

    out: dict[str, list[dict]] = {s: [] for s in SPLITS}
    for rec in records:
        out[rec["split"]].append(rec)
    if max_studies is not None:
        out = {s: v[:max_studies] for s, v in out.items()}
    return out


class FileStudyDataset:
    """Mixin for datasets read from files: :meth:`records` builds every split once with
    ``_build()`` and caches it; :meth:`load_images` reads a study's files through ``self.views``."""

    _splits: dict[str, list[dict]] | None = None
    views: StudyViews

    def _build(self) -> dict[str, list[dict]]:
        raise NotImplementedError

    def records(self, split: str) -> list[dict]:
        from cbf.data.splits import SPLITS

        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
        if self._splits is None:
            self._splits = self._build()
        return self._splits[split]

    def load_images(self, record: dict) -> list[np.ndarray]:
        return self.views.load(record)
