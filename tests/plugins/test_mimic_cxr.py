"""MIMIC-CXR dataset on fixtures written here in the published MIMIC-CXR-JPG 2.0.0 formats
(the credentialed data can't be had): CSV column names, gzip, folder layout and report text."""
from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS
from cbf_mimic_cxr import MimicCXRDataset as MIMIC
from cbf_mimic_cxr import extract_report

# the real chexpert CSV lists the observations alphabetically, not in CHEXPERT_LABELS order
CHEXPERT_COLUMNS = ["subject_id", "study_id", "Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
                    "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion", "Lung Opacity", "No Finding",
                    "Pleural Effusion", "Pleural Other", "Pneumonia", "Pneumothorax", "Support Devices"]
METADATA_COLUMNS = ["dicom_id", "subject_id", "study_id", "PerformedProcedureStepDescription", "ViewPosition",
                    "Rows", "Columns", "StudyDate", "StudyTime", "ProcedureCodeSequence_CodeMeaning",
                    "ViewCodeSequence_CodeMeaning", "PatientOrientationCodeSequence_CodeMeaning"]

REPORT = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PA AND LAT)
 
 INDICATION:  ___F with new onset ascites  // eval for infection
 
 TECHNIQUE:  Chest PA and lateral
 
 COMPARISON:  None.
 
 FINDINGS: 
 
 There is no focal consolidation, pleural effusion or pneumothorax.  Bilateral
 nodular opacities that most likely represent nipple shadows.
 
 IMPRESSION: 
 
 No acute cardiopulmonary process.
"""
IMPRESSION_ONLY = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PORTABLE AP)
 
 INDICATION:  ___ year old man with fever
 
 IMPRESSION:  Mild pulmonary edema.  Small left pleural effusion.
"""
NO_SECTIONS = """                                 FINAL REPORT
 EXAMINATION:  CHEST (PORTABLE AP)
 
 Portable chest radiograph was obtained; see prior report.
"""

# (subject, study, split, [(dicom, ViewPosition)], report text, chexpert {column: value})
STUDIES = [
    ("10000032", "50414267", "train", [("02aa804e-bde0afdd-112c0b34-7bc16630-4e384014", "PA"),
                                       ("174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962", "LATERAL")],
     REPORT, {"No Finding": "1.0"}),
    ("10000032", "53189527", "train", [("2a2277a9-b0ded155-c0de8eb9-c124d10e-82c5caab", "AP"),
                                       ("e084de3b-be89b11e-20fe3f9f-9c8d8dfe-4cfd202c", "AP"),
                                       ("68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714", "LATERAL")],
     IMPRESSION_ONLY, {"Edema": "1.0", "Pleural Effusion": "-1.0", "Atelectasis": "0.0"}),
    ("10000764", "57375967", "validate", [("096052b7-d256dc40-453a102b-fa7d01c6-1b22c6b4", "")],
     REPORT, {}),
    ("10000898", "50771383", "test", [("6ad03ed1-97ee17ee-9cf8b320-f7011003-cd93b42d", "PA")],
     NO_SECTIONS, {}),
    ("10000898", "54205396", "test", [("2e7a5a9b-b7fc9cc8-b8d2ce55-ab31cbca-2ab1f3f2", "PA")],
     REPORT, {"Cardiomegaly": "1.0", "Support Devices": "0.0"}),
]


def _gz_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)


def build_mimic(root: Path, studies=STUDIES) -> Path:
    """A MIMIC-CXR-JPG tree: files/pXX/pSUBJECT/sSTUDY/DICOM.jpg, the three CSVs, the reports."""
    split_rows, meta_rows, chex_rows = [], [], []
    for k, (subject, study, split, dicoms, report, labels) in enumerate(studies):
        folder = root / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}"
        folder.mkdir(parents=True, exist_ok=True)
        for j, (dicom, view) in enumerate(dicoms):
            arr = np.full((18, 16), 30 * k + 10 * j, dtype=np.uint8)
            arr[:4] = 250
            Image.fromarray(arr).save(folder / f"{dicom}.jpg", quality=95)
            split_rows.append([dicom, study, subject, split])
            meta_rows.append([dicom, subject, study, "CHEST (PA AND LAT)", view, "3056", "2544",
                              "21800506", "213014.531", "CHEST (PA AND LAT)",
                              {"PA": "postero-anterior", "AP": "antero-posterior", "LATERAL": "lateral"}.get(view, ""),
                              "Erect"])
        rpath = root / "mimic-cxr-reports" / "files" / f"p{subject[:2]}" / f"p{subject}" / f"s{study}.txt"
        rpath.parent.mkdir(parents=True, exist_ok=True)
        rpath.write_text(report, encoding="utf-8")
        chex_rows.append([subject, study] + [labels.get(c, "") for c in CHEXPERT_COLUMNS[2:]])
    _gz_csv(root / "mimic-cxr-2.0.0-split.csv.gz", ["dicom_id", "study_id", "subject_id", "split"], split_rows)
    _gz_csv(root / "mimic-cxr-2.0.0-metadata.csv.gz", METADATA_COLUMNS, meta_rows)
    _gz_csv(root / "mimic-cxr-2.0.0-chexpert.csv.gz", CHEXPERT_COLUMNS, chex_rows)
    return root


@pytest.fixture
def mimic(tmp_path: Path) -> Path:
    return build_mimic(tmp_path / "mimic-cxr-jpg")


def all_records(ds: MIMIC) -> dict[str, dict]:
    return {r["id"]: r for s in ("train", "val", "test") for r in ds.records(s)}


def test_records_splits_reports_and_labels(mimic: Path) -> None:
    ds = MIMIC(MIMIC.Config(root=str(mimic)))
    assert ds.format == "jpg" and MIMIC.has_chexpert
    assert [r["id"] for r in ds.records("train")] == ["s50414267", "s53189527"]
    assert ds.records("val") == []  # its one image has no ViewPosition → no usable view
    assert [r["id"] for r in ds.records("test")] == ["s54205396"]  # s50771383: no FINDINGS/IMPRESSION
    recs = all_records(ds)
    first = recs["s50414267"]
    assert first["report"] == ("There is no focal consolidation, pleural effusion or pneumothorax. Bilateral "
                               "nodular opacities that most likely represent nipple shadows. "
                               "No acute cardiopulmonary process.")
    assert recs["s53189527"]["report"] == "Mild pulmonary edema. Small left pleural effusion."
    lab = dict(zip(CHEXPERT_LABELS, recs["s53189527"]["chexpert"]))
    assert lab["Edema"] == 1.0 and lab["Pleural Effusion"] == -1.0 and lab["Atelectasis"] == 0.0
    assert math.isnan(lab["Cardiomegaly"]) and len(recs["s53189527"]["chexpert"]) == 14
    assert recs["s50414267"]["chexpert"][0] == 1.0  # No Finding is first in CHEXPERT_LABELS
    d = ds.describe()
    assert "5 studies" in d and "dropped 1 without FINDINGS/IMPRESSION text and 1 without a" in d


def test_views_are_chosen_and_loaded(mimic: Path) -> None:
    ds = MIMIC(MIMIC.Config(root=str(mimic)))
    rec = all_records(ds)["s53189527"]
    assert rec["view_positions"] == ["AP", "LATERAL"]  # AP, AP, LATERAL → one AP and the lateral
    assert rec["image_paths"][1] == str(mimic / "files" / "p10" / "p10000032" / "s53189527" /
                                        "68b5c4b1-227d0485-9cc38c3f-7b84ab51-4b472714.jpg")
    views = ds.load_images(rec)
    assert len(views) == 2 and all(v.dtype == np.uint8 and v.shape == (18, 16) for v in views)
    assert abs(int(views[0][10, 5]) - 30) <= 2 and abs(int(views[1][10, 5]) - 50) <= 2
    one = MIMIC(MIMIC.Config(root=str(mimic), max_views=1, views=["LATERAL", "PA"]))
    assert all_records(one)["s50414267"]["view_positions"] == ["LATERAL"]


def test_section_rule() -> None:
    assert extract_report(REPORT, ["IMPRESSION"]) == "No acute cardiopulmonary process."
    assert extract_report(NO_SECTIONS) == ""
    text = " FINDINGS:  Lungs clear.\n IMPRESSION:  Normal.\n NOTIFICATION:  Called ___ at 10am.\n"
    assert extract_report(text) == "Lungs clear. Normal."


def test_r2gen_annotation(tmp_path: Path) -> None:
    ann = {"train": [{"id": "02aa804e-bde0afdd-112c0b34-7bc16630-4e384014", "study_id": 50414267,
                      "subject_id": 10000032, "report": "no acute process .",
                      "image_path": ["p10/p10000032/s50414267/02aa804e-bde0afdd-112c0b34-7bc16630-4e384014.jpg"],
                      "split": "train"}], "val": [], "test": []}
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    ds = MIMIC(MIMIC.Config(root=str(tmp_path), check_files=False))
    assert ds.format == "r2gen" and ds.has_chexpert is False
    (rec,) = ds.records("train")
    assert "chexpert" not in rec and rec["image_paths"][0].startswith(str(tmp_path / "images" / "p10"))
    _gz_csv(tmp_path / "mimic-cxr-2.0.0-chexpert.csv.gz", CHEXPERT_COLUMNS,
            [["10000032", "50414267"] + ["1.0"] + [""] * 13])
    ds = MIMIC(MIMIC.Config(root=str(tmp_path), check_files=False))
    (rec,) = ds.records("train")
    assert ds.has_chexpert and rec["chexpert"][CHEXPERT_LABELS.index("Atelectasis")] == 1.0


def test_missing_files_are_named(mimic: Path) -> None:
    (mimic / "mimic-cxr-reports" / "files" / "p10" / "p10000898" / "s54205396.txt").unlink()
    with pytest.raises(DataError, match=r"s54205396\.txt: report file not found \(study 54205396\)"):
        MIMIC(MIMIC.Config(root=str(mimic))).records("train")
    (mimic / "mimic-cxr-2.0.0-chexpert.csv.gz").unlink()
    with pytest.raises(DataError, match=r"mimic-cxr-2\.0\.0-chexpert\.csv\.gz: file not found"):
        MIMIC(MIMIC.Config(root=str(mimic))).records("train")


def test_bad_rows_name_file_and_line(tmp_path: Path) -> None:
    bad = [list(s) for s in STUDIES]
    bad[1][5] = {"Edema": "yes"}
    root = build_mimic(tmp_path / "a", bad)
    with pytest.raises(DataError, match=r"chexpert\.csv\.gz, line 3: Edema = 'yes'"):
        MIMIC(MIMIC.Config(root=str(root))).records("train")
    bad = [list(s) for s in STUDIES]
    bad[2][2] = "holdout"
    root = build_mimic(tmp_path / "b", bad)
    with pytest.raises(DataError, match=r"split\.csv\.gz, line 7: split 'holdout'"):
        MIMIC(MIMIC.Config(root=str(root))).records("train")


def test_corrupt_jpg_error_and_skip(mimic: Path) -> None:
    jpg = mimic / "files" / "p10" / "p10000032" / "s50414267" / "174413ec-4ec4c1f7-34ea26b7-c5f994f8-79ef1962.jpg"
    jpg.write_bytes(jpg.read_bytes()[:40])  # truncated
    rec = all_records(MIMIC(MIMIC.Config(root=str(mimic))))["s50414267"]
    with pytest.raises(DataError, match=r"174413ec.*\.jpg: cannot read image .*\(study 's50414267'\)"):
        MIMIC(MIMIC.Config(root=str(mimic))).load_images(rec)
    skip = MIMIC(MIMIC.Config(root=str(mimic), on_bad_image="skip"))
    views = skip.load_images(all_records(skip)["s50414267"])
    assert len(views) == 1 and len(skip.views.log) == 1


def test_registered_under_its_entry_point() -> None:
    from cbf.registry import load_plugin

    assert load_plugin("datasets", "mimic_cxr") is MIMIC
