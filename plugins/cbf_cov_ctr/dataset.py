"""COV-CTR (COVID-19 CT reports, Chinese + English) for report generation and the COVID label."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal


from cbf.api import StudyDataset
from cbf.data.splits import check_ratios, seeded_split
from cbf.data.study_views import FileDatasetOptions, FileStudyDataset, StudyViews, group_by_split
from cbf.errors import DataError

from .jieba_tokens import segment

REPORTS_CSV = "reports_ZH_EN.csv"
COLUMNS = ("image_id", "findings", "terminologies", "COVID", "impression", "reports_En")
_COVID = {"0": 0.0, "1": 1.0, "0.0": 0.0, "1.0": 1.0}


@dataclass
class CovCTRConfig(FileDatasetOptions):
    csv: str = REPORTS_CSV
    #: images folder relative to root; default images/ when it exists, else root itself
    #: (the published archive is flat)
    images_dir: str | None = None
    #: "zh": findings + impression (Chinese), jieba-tokenized; "en": the reports_En column
    language: Literal["zh", "en"] = "zh"
    split_ratios: tuple[float, float, float] = (0.7, 0.1, 0.2)

    def validate(self) -> None:
        self.check_common("the COV-CTR folder holding reports_ZH_EN.csv and the images")
        check_ratios(self.split_ratios)


class CovCTRDataset(FileStudyDataset, StudyDataset):
    """COV-CTR: one CT image per study, split 7:1:2 with a seed, ``labels`` = [COVID 1.0/0.0].

    ``report`` is what tokenizers read: for ``zh`` the jieba tokens of findings + impression
    joined by spaces, for ``en`` the English report with whitespace collapsed; ``report_raw``
    keeps the untokenized text. A repeated ``image_id`` keeps its first row (later ones are
    counted); rows with an empty report are dropped and counted.
    """

    Config = CovCTRConfig
    has_chexpert: ClassVar[bool] = False
    label_names: ClassVar[list[str]] = ["COVID-19"]

    def __init__(self, config: CovCTRConfig, *args: object, **kwargs: object) -> None:
        config.validate()
        self.config = config
        self.root = Path(config.root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: COV-CTR root folder not found")
        self.csv_path = self.root / config.csv
        if config.images_dir:
            self.images = self.root / config.images_dir
        else:
            self.images = self.root / "images" if (self.root / "images").is_dir() else self.root
        self.views = StudyViews(config.on_bad_image)
        self._splits: dict[str, list[dict]] | None = None
        self.counts = {"rows": 0, "duplicates": 0, "empty": 0}

    def _rows(self) -> list[tuple[int, dict[str, str]]]:
        path = self.csv_path
        if not path.is_file():
            raise DataError(f"{path}: COV-CTR reports file not found")
        out = []
        try:
            with path.open("r", encoding="utf-8-sig", newline="") as fh:  # the file has a BOM
                reader = csv.DictReader(fh)
                missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise DataError(f"{path}, line 1: missing column(s) {missing} (header {reader.fieldnames})")
                start = 2
                for row in reader:
                    if None in row or any(row[c] is None for c in COLUMNS):
                        raise DataError(f"{path}, line {start}: expected {len(reader.fieldnames)} fields")
                    out.append((start, row))
                    start = reader.line_num + 1  # reports_En values span two physical lines
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot parse CSV ({type(exc).__name__}: {exc})") from exc
        return out

    def _build(self) -> dict[str, list[dict]]:
        cfg = self.config
        studies: dict[str, dict] = {}
        rows = self._rows()
        self.counts["rows"] = len(rows)
        for line, row in rows:
            image = row["image_id"].strip()
            if not image:
                raise DataError(f"{self.csv_path}, line {line}: empty image_id")
            covid = _COVID.get(row["COVID"].strip())
            if covid is None:
                raise DataError(f"{self.csv_path}, line {line}: COVID = {row['COVID']!r} (expected 0 or 1)")
            if image in studies:
                self.counts["duplicates"] += 1
                continue
            if cfg.language == "zh":
                findings, impression = row["findings"].strip(), row["impression"].strip()
                raw = " ".join(p for p in (findings, impression) if p)
                report = " ".join(segment(findings) + segment(impression))
            else:
                raw = row["reports_En"].strip()
                report = " ".join(raw.split())
            if not report:
                self.counts["empty"] += 1
                continue
            studies[image] = {"id": image, "report": report, "report_raw": raw,
                              "image_paths": [str(self.images / image)], "labels": [covid],
                              "terminologies": row["terminologies"].strip()}
        split_of = seeded_split(list(studies), cfg.split_ratios, cfg.seed)
        recs = [{**rec, "split": split_of[image]} for image, rec in studies.items()]
        if cfg.check_files:
            recs = self.views.check(recs, self.csv_path)
        return group_by_split(recs, cfg.max_studies)


    def describe(self) -> str:
        head = f"COV-CTR ({self.config.language}) from {self.csv_path}"
        if self._splits is None:
            return f"{head} (not read yet)"
        c = self.counts
        counts = ", ".join(f"{s} {len(v)}" for s, v in self._splits.items())
        tok = "jieba tokens joined by spaces" if self.config.language == "zh" else "reports_En"
        return (f"{head}: {c['rows']} rows; {c['duplicates']} repeated image_id rows dropped (first kept), "
                f"{c['empty']} empty reports dropped; report = {tok}; seeded split "
                f"{':'.join(f'{r:g}' for r in self.config.split_ratios)}, seed {self.config.seed}; "
                f"{counts}; images: {self.views.summary()}")
