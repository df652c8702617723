"""IU X-Ray (Open-i) for report generation: findings + impression, up to two views per study."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal


from cbf.api import StudyDataset
from cbf.data.splits import check_ratios, seeded_split
from cbf.data.study_views import FileDatasetOptions, FileStudyDataset, StudyViews, group_by_split
from cbf.errors import DataError

from .sources import (KAGGLE_PROJECTIONS, KAGGLE_REPORTS, OPENI_FILES, R2GEN_FILES, IUStudy,
                      read_kaggle, read_openi, read_r2gen)

Format = Literal["auto", "openi", "r2gen", "kaggle"]
DEFAULT_IMAGES = {"openi": "NLMCXR_png", "r2gen": "images", "kaggle": "images/images_normalized"}


@dataclass
class IUXRayConfig(FileDatasetOptions):
    #: which layout; "auto" picks, in this order, an R2Gen annotation.json, the Open-i
    #: NLMCXR_reports.tgz / ecgen-radiology/, the Kaggle indiana_reports.csv
    format: Format = "auto"
    #: the reports file relative to root (or absolute); default: the layout's usual name
    reports: str | None = None
    #: the images folder relative to root; default NLMCXR_png / images / images/images_normalized
    images_dir: str | None = None
    #: views per study (frontal first where the source says which is which)
    max_views: int = 2
    #: study-level ratios when the source has no split (Open-i XML, Kaggle); R2Gen keeps its own
    split_ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)

    def validate(self) -> None:
        self.check_common("the folder holding the IU X-Ray reports and images")
        if self.max_views < 1:
            raise ValueError(f"max_views must be >= 1, got {self.max_views}")
        check_ratios(self.split_ratios)


class IUXRayDataset(FileStudyDataset, StudyDataset):
    """IU X-Ray from any of its three published layouts (see :mod:`cbf_iu_xray.sources`).

    Reports are findings + impression; studies whose both sections are empty, or that list no
    image, are dropped and counted in :meth:`describe`. Without a split in the source, studies
    are split 7:1:2 with a seed (each IU report is one patient's study, so this is patient level).
    """

    Config = IUXRayConfig
    has_chexpert: ClassVar[bool] = False

    def __init__(self, config: IUXRayConfig, *args: object, **kwargs: object) -> None:
        config.validate()
        self.config = config
        self.root = Path(config.root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: IU X-Ray root folder not found")
        self.format, self.source = self.detect()
        self.views = StudyViews(config.on_bad_image)
        self._splits: dict[str, list[dict]] | None = None
        self.dropped_empty = 0
        self.dropped_no_image = 0
        self.n_studies = 0

    def detect(self) -> tuple[str, Path]:
        """The layout and its reports file; a missing file raises DataError naming it."""
        cfg, fmt = self.config, self.config.format
        if cfg.reports:
            path = self.root / cfg.reports
            if not path.exists():
                raise DataError(f"{path}: IU X-Ray reports file not found")
            if fmt == "auto":
                name = path.name
                fmt = ("r2gen" if name.endswith(".json") else "kaggle" if name.endswith(".csv")
                       else "openi")
            return fmt, path
        candidates = {"r2gen": R2GEN_FILES, "openi": OPENI_FILES, "kaggle": (KAGGLE_REPORTS,)}
        order = [fmt] if fmt != "auto" else ["r2gen", "openi", "kaggle"]
        for f in order:
            for name in candidates[f]:
                if (self.root / name).exists():
                    return f, self.root / name
        looked = ", ".join(n for f in order for n in candidates[f])
        raise DataError(f"{self.root}: no IU X-Ray reports found (looked for {looked})")

    def _read(self) -> list[IUStudy]:
        if self.format == "openi":
            return read_openi(self.source, self.root / KAGGLE_PROJECTIONS)
        if self.format == "r2gen":
            return read_r2gen(self.source)
        return read_kaggle(self.source, self.source.parent / KAGGLE_PROJECTIONS)

    def _build(self) -> dict[str, list[dict]]:
        cfg = self.config
        studies = self._read()
        self.n_studies = len(studies)
        kept = []
        for s in studies:
            if not s.report:
                self.dropped_empty += 1
            elif not s.images:
                self.dropped_no_image += 1
            else:
                kept.append(s)
        if any(s.split is None for s in kept):
            split_of = seeded_split([s.id for s in kept], cfg.split_ratios, cfg.seed)
        else:
            split_of = {s.id: s.split for s in kept}
        images = self.root / (cfg.images_dir or DEFAULT_IMAGES[self.format])
        recs = []
        for s in kept:
            rec = {"id": s.id, "split": split_of[s.id], "report": s.report,
                   "image_paths": [str(images / n) for n in s.images[: cfg.max_views]], **s.extra}
            if s.mesh_major is not None:
                rec["mesh_major"] = s.mesh_major
            recs.append(rec)
        if cfg.check_files:
            recs = self.views.check(recs, self.source)
        return group_by_split(recs, cfg.max_studies)


    def describe(self) -> str:
        head = f"IU X-Ray ({self.format}) from {self.source}"
        if self._splits is None:
            return f"{head} (not read yet)"
        counts = ", ".join(f"{s} {len(v)}" for s, v in self._splits.items())
        split = "the file's split" if self.format == "r2gen" else (
            f"seeded study-level split {':'.join(f'{r:g}' for r in self.config.split_ratios)}, "
            f"seed {self.config.seed}")
        return (f"{head}: {self.n_studies} reports; dropped {self.dropped_empty} with empty "
                f"findings+impression and {self.dropped_no_image} with no image; {split}; {counts}; "
                f"images: {self.views.summary()}")
