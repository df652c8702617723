"""The demo dataset: the real IU X-Ray reports paired with synthetic images (phantoms).

Reports come from the Open-i archive shipped inside the installed ``torchxrayvision``
package (nothing is downloaded, no data file ships with cbf). Every report with findings or
an impression becomes one study whose two views (frontal, lateral) are synthetic phantom
radiographs drawn from the report's human MeSH headings (see :mod:`cbf_demo.findings`),
rendered once into a cache folder and memory-mapped afterwards. The pictures are NOT real
radiographs: they exist so that a working model has something learnable to pair with text.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cbf import fields
from cbf.api import StudyDataset
from cbf.data.openi import OpenIReport, openi_archive_from_torchxrayvision, read_openi_tgz
from cbf.data.splits import SPLITS, seeded_split
from cbf.errors import DataError
from cbf_demo.cache import load_or_render, settings_hash
from cbf_demo.findings import signs_from_mesh
from cbf_demo.phantom import RENDERER_VERSION, render_study

@dataclass
class DemoConfig:
    """Options of the demo dataset."""

    #: Cache root; default ``$CBF_CACHE`` or ``~/.cache/cbf``. Phantoms go to ``<root>/demo/<hash>/``.
    cache_dir: str | None = None
    #: Side of the square grayscale phantoms, in pixels.
    image_size: int = 128
    #: Seeds the train/val/test split and the rendering.
    seed: int = 0
    #: Keep only the first N usable reports (by report number), for tests and quick runs.
    max_studies: int | None = None
    #: Train, val and test fractions (they must sum to 1).
    splits: tuple[float, float, float] = (0.7, 0.1, 0.2)
    #: An Open-i ``NLMCXR_reports.tgz``; default: the copy inside torchxrayvision.
    archive: str | None = None
    #: Show a progress bar while rendering.
    progress: bool = True

    def validate(self) -> None:
        if not 16 <= self.image_size <= 1024:
            raise ValueError(f"image_size must be in [16, 1024], got {self.image_size}")
        if self.max_studies is not None and self.max_studies < 3:
            raise ValueError(f"max_studies must be at least 3 (one per split), got {self.max_studies}")
        if len(self.splits) != 3 or any(f < 0 for f in self.splits) or abs(sum(self.splits) - 1) > 1e-6:
            raise ValueError(f"splits must be three non-negative fractions summing to 1, got {list(self.splits)}")


def default_cache_root() -> Path:
    return Path(os.environ.get("CBF_CACHE") or Path.home() / ".cache" / "cbf")


def study_seed(study_id: str, seed: int) -> int:
    """The rendering seed of one study: depends on its id and the config seed only, so a
    study looks the same whatever subset (``max_studies``) it is rendered in."""
    return int.from_bytes(hashlib.sha256(f"{study_id}|{seed}".encode()).digest()[:8], "little")


def report_text(report: OpenIReport) -> str:
    """Findings + impression, the text the paper (and R2Gen) train on."""
    return " ".join(part for part in (report.findings.strip(), report.impression.strip()) if part)


class DemoDataset(StudyDataset):
    """IU X-Ray reports (real text) with two synthetic phantom views per study (synthetic images)."""

    Config = DemoConfig
    has_chexpert = False

    def __init__(self, config: DemoConfig | None = None, *args: Any, **kwargs: Any) -> None:
        """Extra positional arguments (build context from the core) are ignored; keyword
        arguments that name Config fields override the config (handy in scripts)."""
        config = config or DemoConfig()
        overrides = {k: v for k, v in kwargs.items() if k in {f.name for f in dataclasses.fields(DemoConfig)}}
        if overrides:
            config = dataclasses.replace(config, **overrides)
        config.validate()
        self.config = config
        archive = Path(config.archive) if config.archive else openi_archive_from_torchxrayvision()
        reports = [r for r in _read_reports(archive) if report_text(r)]
        if config.max_studies is not None:
            reports = reports[: config.max_studies]
        self.archive = archive
        self._reports = reports
        ids = [r.uid for r in reports]
        if len(set(ids)) != len(ids):
            raise DataError(f"{archive}: duplicate report uIds")
        split_of = seeded_split(ids, config.splits, config.seed)
        self._records = [self._record(r, split_of[r.uid]) for r in reports]
        self._row = {rid: i for i, rid in enumerate(ids)}
        settings = {"renderer": RENDERER_VERSION, "image_size": config.image_size, "seed": config.seed,
                    "ids": hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]}
        root = Path(config.cache_dir).expanduser() if config.cache_dir else default_cache_root()
        self.cache_folder = root / "demo" / settings_hash(settings)
        self._phantoms: np.ndarray | None = load_or_render(
            self.cache_folder, settings, ids, config.image_size, self._render, config.progress)

    def _record(self, report: OpenIReport, split: str) -> dict:
        return {
            fields.ID: report.uid,
            fields.SPLIT: split,
            fields.REPORT: report_text(report),
            fields.MESH_MAJOR: list(report.mesh_major),
            fields.IMAGE_PATHS: [],  # synthetic images: no files
            "xml_path": report.xml_path,
            "phantom_signs": [_sign_label(s) for s in signs_from_mesh(report.mesh_major)],
        }

    def _render(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        report = self._reports[i]
        rng = np.random.default_rng(study_seed(report.uid, self.config.seed))
        return render_study(signs_from_mesh(report.mesh_major), rng, self.config.image_size)

    def records(self, split: str) -> list[dict]:
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; the demo has {', '.join(SPLITS)}")
        return [dict(r) for r in self._records if r[fields.SPLIT] == split]

    def load_images(self, record: dict) -> list[np.ndarray]:
        """The study's two synthetic views (frontal, lateral), uint8 (S, S) each."""
        row = self._row.get(record.get(fields.ID))
        if row is None:
            raise DataError(f"demo dataset: no study with id {record.get(fields.ID)!r}")
        if self._phantoms is None:  # after unpickling in a data-loader worker
            self._phantoms = np.load(self.cache_folder / "phantoms.npy", mmap_mode="r")
        views = self._phantoms[row]
        return [np.array(views[0]), np.array(views[1])]

    def describe(self) -> str:
        counts = {s: sum(r[fields.SPLIT] == s for r in self._records) for s in SPLITS}
        return (f"demo: {len(self._records):,} IU X-Ray reports (Open-i, {self.archive.name}) with "
                f"synthetic images: 2 phantom views per study rendered from MeSH findings, "
                f"{self.config.image_size} px; train/val/test {counts['train']}/{counts['val']}/"
                f"{counts['test']}; cache {self.cache_folder}")

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_phantoms"] = None  # re-opened lazily: never pickle the whole array into workers
        return state


@functools.lru_cache(maxsize=2)
def _parsed(path: str, size: int, mtime_ns: int) -> tuple[OpenIReport, ...]:
    return tuple(read_openi_tgz(path))


def _read_reports(archive: Path) -> tuple[OpenIReport, ...]:
    """Parsed once per process and archive version (several datasets/splits share it)."""
    if not archive.is_file():
        raise DataError(f"{archive}: Open-i reports archive not found")
    stat = archive.stat()
    return _parsed(str(archive), stat.st_size, stat.st_mtime_ns)


def _sign_label(sign) -> str:
    where = "/".join(p for p in (sign.side, sign.zone) if p)
    return f"{sign.kind}/{where}" if where else sign.kind


__all__ = ["DemoConfig", "DemoDataset", "default_cache_root", "report_text", "study_seed"]
