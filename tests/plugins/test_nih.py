"""NIH ChestX-ray14 dataset: the real 112,120-row table, the two real radiographs, list files."""
from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest

from cbf.data.splits import seeded_split
from cbf.errors import DataError
from cbf.fields import NIH_LABELS
from cbf_nih import NIHChestXray14Dataset as NIH

HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
          "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y]")
TABLE = "Data_Entry_2017_v2020.csv.gz"
SPLITS = ("train", "val", "test")


def _row(image: str, labels: str, patient: int) -> str:
    return f"{image},{labels},0,{patient},50,M,PA,2048,2048,0.143,0.143"


def write_table(root: Path, rows: list[str], name: str = "Data_Entry_2017.csv") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def all_records(ds: NIH) -> list[dict]:
    return [r for s in SPLITS for r in ds.records(s)]


@pytest.fixture(scope="module")
def real(shared_data: Path) -> NIH:
    ds = NIH(NIH.Config(root=str(shared_data / "nih"), check_files=False))
    all_records(ds)
    return ds


def test_real_table_rows_and_label_order(real: NIH) -> None:
    recs = {r["id"]: r for r in all_records(real)}
    assert len(recs) == 112_120 and real.n_rows == 112_120
    assert len(recs["00000001_000.png"]["labels"]) == 14
    one = recs["00000001_001.png"]["labels"]  # Cardiomegaly|Emphysema on line 3 of the table
    assert [NIH_LABELS[i] for i, v in enumerate(one) if v == 1.0] == ["Cardiomegaly", "Emphysema"]
    assert sum(recs["00027426_000.png"]["labels"]) == 0.0  # No Finding
    assert recs["00000001_000.png"]["report"] == "" and recs["00000001_000.png"]["patient_id"] == "1"
    # every finding of the paper's Table 3 occurs in the table
    positives = np.array([r["labels"] for r in recs.values()]).sum(0)
    assert (positives > 0).all() and positives[NIH_LABELS.index("Infiltration")] > 19_000


def test_real_split_is_patient_level_and_seeded(real: NIH) -> None:
    patients = {s: {r["patient_id"] for r in real.records(s)} for s in SPLITS}
    assert not (patients["train"] & patients["val"] or patients["train"] & patients["test"]
                or patients["val"] & patients["test"])
    n = sum(len(p) for p in patients.values())
    assert n == real.n_patients == 30_805
    assert abs(len(patients["train"]) / n - 0.7) < 1e-3 and abs(len(patients["test"]) / n - 0.2) < 1e-3
    assert "seeded patient-level split" in real.describe()


def test_seeded_split_is_deterministic_and_order_free() -> None:
    keys = [f"img{i}" for i in range(100)]
    group = {k: int(k[3:]) // 3 for k in keys}  # 34 patients
    a = seeded_split(keys, (0.7, 0.1, 0.2), seed=1, group=group)
    assert a == seeded_split(list(reversed(keys)), (0.7, 0.1, 0.2), seed=1, group=group)
    assert a != seeded_split(keys, (0.7, 0.1, 0.2), seed=2, group=group)
    per_group = {}
    for k, s in a.items():
        per_group.setdefault(group[k], set()).add(s)
    assert all(len(s) == 1 for s in per_group.values())
    counts = [sum(1 for g in per_group.values() if name in g) for name in SPLITS]
    assert counts == [24, 3, 7]  # round(34*.7)=24, round(34*.8)=27, rest


def _real_image_root(shared_data: Path, tmp_path: Path) -> Path:
    root = tmp_path / "nih"
    (root / "images_001" / "images").mkdir(parents=True)
    (root / TABLE).symlink_to(shared_data / "nih" / TABLE)
    for name in ("00000001_000.png", "00027426_000.png"):
        (root / "images_001" / "images" / name).symlink_to(shared_data / "nih" / name)
    return root


def test_real_images_through_the_dataset(shared_data: Path, tmp_path: Path) -> None:
    root = _real_image_root(shared_data, tmp_path)
    ds = NIH(NIH.Config(root=str(root), on_bad_image="skip"))
    recs = {r["id"]: r for r in all_records(ds)}
    assert sorted(recs) == ["00000001_000.png", "00027426_000.png"]
    assert recs["00000001_000.png"]["image_paths"] == [str(root / "images_001" / "images" / "00000001_000.png")]
    for rec in recs.values():
        views = ds.load_images(rec)
        assert len(views) == 1 and views[0].dtype == np.uint8 and views[0].shape == (512, 512)
        assert views[0].std() > 10  # a real radiograph, not a blank
    assert recs["00000001_000.png"]["labels"][NIH_LABELS.index("Cardiomegaly")] == 1.0
    assert "112118 studies dropped (no image file found)" in ds.describe()


def test_missing_images_stop_the_run_under_error(shared_data: Path, tmp_path: Path) -> None:
    root = _real_image_root(shared_data, tmp_path)
    ds = NIH(NIH.Config(root=str(root), on_bad_image="error"))
    with pytest.raises(DataError, match=r"image file not found .*112118 of 112120 studies"):
        ds.records("train")


def _fixture(root: Path, lists: bool = True) -> None:
    rows, test, train_val = [], [], []
    for p in range(1, 21):
        for k in range(3):
            name = f"{p:08d}_{k:03d}.png"
            rows.append(_row(name, "Mass|Nodule" if p % 4 == 0 else "No Finding", p))
            (test if p > 15 else train_val).append(name)
    write_table(root, rows)
    if lists:
        (root / "train_val_list.txt").write_text("\n".join(train_val) + "\n")
        (root / "test_list.txt").write_text("\n".join(test) + "\n")


def test_official_lists(tmp_path: Path) -> None:
    _fixture(tmp_path)
    ds = NIH(NIH.Config(root=str(tmp_path), check_files=False, val_fraction=0.2, seed=3))
    test = {r["id"] for r in ds.records("test")}
    assert test == {f"{p:08d}_{k:03d}.png" for p in range(16, 21) for k in range(3)}
    train, val = ds.records("train"), ds.records("val")
    assert len(train) + len(val) == 45 and len(val) == 9  # 3 of 15 patients, 3 images each
    assert not {r["patient_id"] for r in train} & {r["patient_id"] for r in val}
    assert "official lists" in ds.describe()
    mass = next(r for r in train + val if r["patient_id"] == "4")["labels"]
    assert [NIH_LABELS[i] for i, v in enumerate(mass) if v] == ["Mass", "Nodule"]
    # without the lists: a seeded patient-level split over all 20 patients
    nolists = NIH(NIH.Config(root=str(tmp_path), check_files=False, official_split=False))
    assert sum(len(nolists.records(s)) for s in SPLITS) == 60


def test_one_list_alone_names_the_missing_file(tmp_path: Path) -> None:
    _fixture(tmp_path)
    (tmp_path / "test_list.txt").unlink()
    with pytest.raises(DataError, match=r"test_list\.txt: file not found"):
        NIH(NIH.Config(root=str(tmp_path), check_files=False)).records("train")


def test_missing_table_and_root(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"Data_Entry_2017\.csv: NIH label table not found"):
        NIH(NIH.Config(root=str(tmp_path))).records("train")
    with pytest.raises(DataError, match="root folder not found"):
        NIH(NIH.Config(root=str(tmp_path / "nope")))
    with pytest.raises(ValueError, match="root is required"):
        NIH(NIH.Config())


@pytest.mark.parametrize("bad, message", [
    ("00000003_000.png,Mass,0,3,50,M,PA", r"line 4: expected 11 fields, got 7"),
    (_row("00000003_000.png", "Mass|Tumour", 3), r"line 4: unknown finding 'Tumour'"),
    (_row("00000001_000.png", "Mass", 3), r"line 4: image '00000001_000.png' already listed on line 2"),
    (_row("00000003_000.png", "Mass", 3).replace(",3,50", ",,50"), r"line 4: empty 'Image Index' or 'Patient ID'"),
])
def test_bad_row_names_file_and_line(tmp_path: Path, bad: str, message: str) -> None:
    path = write_table(tmp_path, [_row("00000001_000.png", "Mass", 1), _row("00000002_000.png", "No Finding", 2), bad])
    with pytest.raises(DataError, match=message) as info:
        NIH(NIH.Config(root=str(tmp_path), check_files=False)).records("train")
    assert str(path) in str(info.value)


def test_gzipped_fixture_table(tmp_path: Path) -> None:
    text = "\n".join([HEADER, _row("00000001_000.png", "Edema", 1)]) + "\n"
    with gzip.open(tmp_path / "Data_Entry_2017.csv.gz", "wt", encoding="utf-8") as fh:
        fh.write(text)
    ds = NIH(NIH.Config(root=str(tmp_path), check_files=False))
    (rec,) = all_records(ds)
    assert rec["labels"][NIH_LABELS.index("Edema")] == 1.0 and not any(math.isnan(v) for v in rec["labels"])


def _corrupt_root(tmp_path: Path) -> Path:
    write_table(tmp_path, [_row("00000001_000.png", "Mass", 1)])
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "00000001_000.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    return tmp_path


def test_corrupt_image_error_names_file_and_study(tmp_path: Path) -> None:
    ds = NIH(NIH.Config(root=str(_corrupt_root(tmp_path)), split_ratios=(1, 0, 0)))
    (rec,) = ds.records("train")
    with pytest.raises(DataError, match=r"00000001_000\.png: cannot read image .*\(study '00000001_000\.png'\)"):
        ds.load_images(rec)


def test_corrupt_image_skip_counts_it(tmp_path: Path) -> None:
    ds = NIH(NIH.Config(root=str(_corrupt_root(tmp_path)), split_ratios=(1, 0, 0), on_bad_image="skip"))
    (rec,) = ds.records("train")
    assert ds.load_images(rec) == []
    assert len(ds.views.log) == 1 and "1 studies had no readable view" in ds.describe()


def test_registered_under_its_entry_point() -> None:
    from cbf.registry import load_plugin

    assert load_plugin("datasets", "nih_chestxray14") is NIH
