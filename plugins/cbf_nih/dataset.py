"""NIH ChestX-ray14 for radiograph diagnosis: one frontal view per sample, 14 labels, no report."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


from cbf.api import StudyDataset
from cbf.data.splits import check_ratios, seeded_split
from cbf.data.study_views import FileDatasetOptions, FileStudyDataset, StudyViews, group_by_split
from cbf.errors import DataError
from cbf.fields import NIH_LABELS

from .table import NIHRow, read_list, read_table

TRAIN_VAL_LIST = "train_val_list.txt"
TEST_LIST = "test_list.txt"


@dataclass
class NIHConfig(FileDatasetOptions):
    """``max_studies`` keeps the first N images of each split, in table order."""

    #: the label table, relative to ``root``; default: the newest Data_Entry_2017*.csv[.gz]
    table: str | None = None
    #: where the PNGs are, relative to ``root``; default: every ``images*/`` folder and its
    #: ``images/`` subfolder (the official archives unpack to ``images_001/images/…``)
    images_dir: str | None = None
    #: use train_val_list.txt / test_list.txt when both are in ``root``
    official_split: bool = True
    #: share of the train_val patients held out as validation (official split only)
    val_fraction: float = 0.1
    #: patient-level train/val/test ratios when there are no official lists
    split_ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)

    def validate(self) -> None:
        self.check_common("the folder holding Data_Entry_2017*.csv[.gz] and images*/")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        check_ratios(self.split_ratios)


class NIHChestXray14Dataset(FileStudyDataset, StudyDataset):
    """NIH ChestX-ray14: ``labels`` are 14 floats in :data:`cbf.fields.NIH_LABELS` order
    (the paper's Table 3), ``report`` is empty; no patient appears in two splits."""

    Config = NIHConfig
    has_chexpert: ClassVar[bool] = False
    label_names: ClassVar[list[str]] = list(NIH_LABELS)

    def __init__(self, config: NIHConfig, *args: object, **kwargs: object) -> None:
        config.validate()
        self.config = config
        self.root = Path(config.root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: NIH ChestX-ray14 root folder not found")
        self.views = StudyViews(config.on_bad_image)
        self._splits: dict[str, list[dict]] | None = None
        self.table_path: Path | None = None
        self.split_source = ""
        self.unlisted = 0
        self.n_rows = 0
        self.n_patients = 0

    # ------------------------------------------------------------------ files
    def find_table(self) -> Path:
        if self.config.table:
            path = self.root / self.config.table
            if not path.is_file():
                raise DataError(f"{path}: NIH label table not found")
            return path
        found = sorted(p for p in self.root.glob("Data_Entry_2017*.csv*")
                       if p.name.endswith((".csv", ".csv.gz")))
        if not found:
            raise DataError(f"{self.root / 'Data_Entry_2017.csv'}: NIH label table not found "
                            "(looked for Data_Entry_2017*.csv[.gz])")
        return found[-1]  # Data_Entry_2017_v2020 sorts after Data_Entry_2017

    def image_folders(self) -> list[Path]:
        if self.config.images_dir:
            tops = [self.root / self.config.images_dir]
            if not tops[0].is_dir():
                raise DataError(f"{tops[0]}: images folder not found")
        else:
            tops = sorted(p for p in self.root.glob("images*") if p.is_dir())
        folders = []
        for top in tops:
            folders.append(top)
            if (top / "images").is_dir():
                folders.append(top / "images")
        return folders

    def _index_images(self) -> dict[str, str]:
        index: dict[str, str] = {}
        for folder in self.image_folders():
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.name not in index and not entry.is_dir():
                        index[entry.name] = entry.path
        return index

    # ------------------------------------------------------------------ splits
    def _assign_splits(self, rows: list[NIHRow]) -> dict[str, str]:
        cfg = self.config
        patient = {r.image: r.patient for r in rows}
        tv_path, test_path = self.root / TRAIN_VAL_LIST, self.root / TEST_LIST
        if cfg.official_split and (tv_path.exists() or test_path.exists()):
            train_val, test = read_list(tv_path), read_list(test_path)  # one alone → DataError
            both = train_val & test
            if both:
                raise DataError(f"{test_path}: {len(both)} image(s) also in {tv_path.name}, "
                                f"e.g. {sorted(both)[0]!r}")
            tv_images = [r.image for r in rows if r.image in train_val]
            sub = seeded_split(tv_images, (1.0 - cfg.val_fraction, cfg.val_fraction), cfg.seed,
                               names=("train", "val"), group=patient)
            sub.update({r.image: "test" for r in rows if r.image in test})
            self.unlisted = len(rows) - len(sub)
            self.split_source = (f"official lists ({TRAIN_VAL_LIST}, {TEST_LIST}); val = "
                                 f"{cfg.val_fraction:g} of the train_val patients, seed {cfg.seed}")
            return sub
        self.split_source = (f"seeded patient-level split {':'.join(f'{r:g}' for r in cfg.split_ratios)}, "
                             f"seed {cfg.seed}")
        return seeded_split([r.image for r in rows], cfg.split_ratios, cfg.seed, group=patient)

    def _build(self) -> dict[str, list[dict]]:
        self.table_path = self.find_table()
        rows = read_table(self.table_path)
        self.n_rows = len(rows)
        self.n_patients = len({r.patient for r in rows})
        split_of = self._assign_splits(rows)
        index = self._index_images()
        default_dir = os.path.join(self.root, self.config.images_dir or "images", "")  # str joins: 112k rows
        recs = []
        for r in rows:
            split = split_of.get(r.image)
            if split is not None:
                recs.append({
                    "id": r.image, "split": split, "report": "",
                    "image_paths": [index.get(r.image) or default_dir + r.image],
                    "labels": r.labels, "patient_id": r.patient, "view_position": r.view,
                })
        if self.config.check_files:  # the scandir index says what exists: no stat per file
            on_disk = set(index.values())
            recs = self.views.check(recs, self.table_path, exists=on_disk.__contains__)
        return group_by_split(recs, self.config.max_studies)

    # ------------------------------------------------------------------ contract

    def describe(self) -> str:
        if self._splits is None:
            return f"NIH ChestX-ray14 at {self.root} (not read yet)"
        counts = ", ".join(f"{s} {len(v)}" for s, v in self._splits.items())
        extra = f"; {self.unlisted} images in neither list (left out)" if self.unlisted else ""
        return (f"NIH ChestX-ray14 from {self.table_path}: {self.n_rows} images of {self.n_patients} "
                f"patients; {self.split_source}; {counts}{extra}; images: {self.views.summary()}")
