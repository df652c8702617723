"""MIMIC-CXR-JPG for pre-training and report generation, with the source's CheXpert labels."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal


from cbf.api import StudyDataset
from cbf.data.files import read_json_object
from cbf.data.splits import SPLITS
from cbf.data.study_views import FileDatasetOptions, FileStudyDataset, StudyViews, group_by_split
from cbf.errors import DataError

from .sections import extract_report
from .tables import read_chexpert, read_split, read_views

SPLIT_CSV = "mimic-cxr-2.0.0-split.csv.gz"
CHEXPERT_CSV = "mimic-cxr-2.0.0-chexpert.csv.gz"
METADATA_CSV = "mimic-cxr-2.0.0-metadata.csv.gz"
ANNOTATION = "annotation.json"


@dataclass
class MimicCXRConfig(FileDatasetOptions):
    #: "jpg": the MIMIC-CXR-JPG layout; "r2gen": annotation.json; "auto": jpg when the split CSV is there
    format: Literal["auto", "jpg", "r2gen"] = "auto"
    split_csv: str = SPLIT_CSV
    chexpert_csv: str = CHEXPERT_CSV
    metadata_csv: str = METADATA_CSV
    #: the free-text reports: <reports_dir>/files/pXX/pXXXXXXXX/sXXXXXXXX.txt
    reports_dir: str = "mimic-cxr-reports"
    #: the sections that make the report (see cbf_mimic_cxr.sections)
    sections: list[str] = field(default_factory=lambda: ["FINDINGS", "IMPRESSION"])
    #: ViewPositions used, in order of preference (one of each first, then the rest)
    views: list[str] = field(default_factory=lambda: ["PA", "AP", "LATERAL", "LL"])
    max_views: int = 2
    #: r2gen only: the annotation file and the images folder, relative to root
    annotation: str = ANNOTATION
    images_dir: str = "images"

    def validate(self) -> None:
        self.check_common("the MIMIC-CXR-JPG folder (files/, mimic-cxr-2.0.0-*.csv.gz)")
        if self.max_views < 1:
            raise ValueError(f"max_views must be >= 1, got {self.max_views}")
        if not self.sections or not self.views:
            raise ValueError("sections and views must not be empty")


def choose_views(dicoms: list[tuple[str, str]], preference: list[str], k: int) -> list[tuple[str, str]]:
    """Up to ``k`` (dicom_id, position) pairs: the best image of each wanted position in
    preference order first (so PA + LATERAL, not PA + PA), then the remaining ones."""
    rank = {v.upper(): i for i, v in enumerate(preference)}
    usable = sorted((d for d in dicoms if d[1] in rank), key=lambda d: (rank[d[1]], d[0]))
    first, rest, seen = [], [], set()
    for d in usable:
        (rest if d[1] in seen else first).append(d)
        seen.add(d[1])
    return (first + rest)[:k]


class MimicCXRDataset(FileStudyDataset, StudyDataset):
    """MIMIC-CXR-JPG with the official split; ``chexpert`` from the source CSV (1/0/-1/nan).

    Studies without any wanted section in their report, or without a usable view, are dropped
    and counted. With ``format: "r2gen"`` the annotation's reports and split are used and
    ``chexpert`` is attached only when the CheXpert CSV is in ``root`` (else a labeler adds it).
    """

    Config = MimicCXRConfig
    has_chexpert: ClassVar[bool] = True

    def __init__(self, config: MimicCXRConfig, *args: object, **kwargs: object) -> None:
        config.validate()
        self.config = config
        self.root = Path(config.root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: MIMIC-CXR root folder not found")
        fmt = config.format
        if fmt == "auto":
            fmt = "r2gen" if not (self.root / config.split_csv).exists() and \
                (self.root / config.annotation).exists() else "jpg"
        self.format = fmt
        if fmt == "r2gen" and not (self.root / config.chexpert_csv).is_file():
            self.has_chexpert = False  # this instance: labels come from a labeler
        self.views = StudyViews(config.on_bad_image)
        self._splits: dict[str, list[dict]] | None = None
        self.counts = {"studies": 0, "no_report": 0, "no_view": 0, "no_chexpert": 0}

    # ------------------------------------------------------------------ jpg layout
    def report_path(self, subject: str, study: str) -> Path:
        return self.root / self.config.reports_dir / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"

    def image_path(self, subject: str, study: str, dicom: str) -> Path:
        return self.root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}" / f"{dicom}.jpg"

    def _read_jpg(self) -> list[dict]:
        cfg = self.config
        images = read_split(self.root / cfg.split_csv)
        chexpert = read_chexpert(self.root / cfg.chexpert_csv)
        positions = read_views(self.root / cfg.metadata_csv)
        studies: dict[str, dict] = {}
        for im in images:
            st = studies.setdefault(im.study_id, {"subject": im.subject_id, "split": im.split, "dicoms": []})
            if st["split"] != im.split or st["subject"] != im.subject_id:
                raise DataError(f"{self.root / cfg.split_csv}: study {im.study_id} has images in two "
                                "splits or of two subjects")
            st["dicoms"].append((im.dicom_id, positions.get(im.dicom_id, "")))
        out = []
        self.counts["studies"] = len(studies)
        for study, st in studies.items():
            chosen = choose_views(st["dicoms"], cfg.views, cfg.max_views)
            if not chosen:
                self.counts["no_view"] += 1
                continue
            path = self.report_path(st["subject"], study)
            if not path.is_file():
                raise DataError(f"{path}: report file not found (study {study})")
            report = extract_report(path.read_text(encoding="utf-8", errors="replace"), cfg.sections)
            if not report:
                self.counts["no_report"] += 1
                continue
            labels = chexpert.get(study)
            if labels is None:
                self.counts["no_chexpert"] += 1
                labels = [float("nan")] * 14
            out.append({"id": f"s{study}", "split": st["split"], "report": report,
                        "image_paths": [str(self.image_path(st["subject"], study, d)) for d, _ in chosen],
                        "chexpert": labels, "subject_id": st["subject"], "study_id": study,
                        "view_positions": [p for _, p in chosen]})
        return out

    # ------------------------------------------------------------------ r2gen layout
    def _read_r2gen(self) -> list[dict]:
        path = self.root / self.config.annotation
        data = read_json_object(path, "an object with 'train', 'val', 'test' lists")
        chexpert = (read_chexpert(self.root / self.config.chexpert_csv)
                    if self.has_chexpert else {})
        images = self.root / self.config.images_dir
        out = []
        for split, entries in data.items():
            if split not in SPLITS or not isinstance(entries, list):
                raise DataError(f"{path}: {split!r} is not one of train, val, test with a list of entries")
            for i, e in enumerate(entries):
                if not (isinstance(e, dict) and isinstance(e.get("id"), str) and isinstance(e.get("report"), str)
                        and isinstance(e.get("image_path"), list)):
                    raise DataError(f"{path}: {split}[{i}]: needs 'id', 'report' and 'image_path' (a list)")
                self.counts["studies"] += 1
                if not e["report"].strip():
                    self.counts["no_report"] += 1
                    continue
                rec = {"id": e["id"], "split": split, "report": " ".join(e["report"].split()),
                       "image_paths": [str(images / p) for p in e["image_path"][: self.config.max_views]]}
                if "study_id" in e:
                    rec["study_id"] = str(e["study_id"])
                    rec["subject_id"] = str(e.get("subject_id", ""))
                if self.has_chexpert:
                    labels = chexpert.get(rec.get("study_id", ""))
                    if labels is None:
                        self.counts["no_chexpert"] += 1
                        labels = [float("nan")] * 14
                    rec["chexpert"] = labels
                out.append(rec)
        return out

    # ------------------------------------------------------------------ contract
    def _build(self) -> dict[str, list[dict]]:
        recs = self._read_jpg() if self.format == "jpg" else self._read_r2gen()
        source = self.root / (self.config.split_csv if self.format == "jpg" else self.config.annotation)
        if self.config.check_files:
            recs = self.views.check(recs, source)
        return group_by_split(recs, self.config.max_studies)


    def describe(self) -> str:
        head = f"MIMIC-CXR ({self.format}) at {self.root}"
        if self._splits is None:
            return f"{head} (not read yet)"
        c = self.counts
        counts = ", ".join(f"{s} {len(v)}" for s, v in self._splits.items())
        return (f"{head}: {c['studies']} studies; dropped {c['no_report']} without "
                f"{'/'.join(self.config.sections)} text and {c['no_view']} without a "
                f"{'/'.join(self.config.views)} view; {c['no_chexpert']} without CheXpert labels (nan); "
                f"official split; {counts}; images: {self.views.summary()}")
