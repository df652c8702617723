"""COV-CTR dataset on a fixture in the published shape of reports_ZH_EN.csv: UTF-8 with a BOM,
image_id with its extension, COVID 0/1, every reports_En ending in a newline (so a row spans two
physical lines), one repeated image_id, images in a flat folder beside the CSV."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cbf.errors import DataError
from cbf_cov_ctr import CovCTRDataset as COV

COLUMNS = ["image_id", "findings", "terminologies", "COVID", "impression", "reports_En"]
COVID_FINDINGS = "胸廓对称，纵隔影居中。双肺纹理清晰，右肺上叶可见斑片状磨玻璃影。"
ROWS = [
    ["2020.02.17.20024018-p17-61%1.png", COVID_FINDINGS, "磨玻璃影", "1", "考虑病毒性肺炎。",
     "The thorax was symmetrical, the mediastinal shadow was in the middle. Ground glass shadow "
     "in the right upper lobe.\n"],
    ["20.jpg", "双肺未见明显异常。", "无", "0", "胸部CT未见异常。", "No abnormality was found in either lung.\n"],
    ["20.jpg", "双肺纹理增多。", "纹理增多", "0", "胸部CT未见异常。", "A variant annotation of the same image.\n"],
] + [[f"{i}%0.jpg", "双肺未见明显异常。", "无", str(i % 2), "胸部CT未见异常。", f"Report {i}.\n"]
     for i in range(3, 11)]


def write_cov_ctr(root: Path, rows=ROWS, images_sub: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    with (root / "reports_ZH_EN.csv").open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(rows)
    folder = root / images_sub if images_sub else root
    folder.mkdir(exist_ok=True)
    for k, row in enumerate(rows):
        rgb = np.zeros((12, 20, 3), dtype=np.uint8)
        rgb[..., :] = (5 * k, 100, 200)  # CT figures in the archive are often RGB
        Image.fromarray(rgb).save(folder / row[0])
    return root


def all_records(ds: COV) -> dict[str, dict]:
    return {r["id"]: r for s in ("train", "val", "test") for r in ds.records(s)}


def test_chinese_reports_are_jieba_tokens(tmp_path: Path) -> None:
    ds = COV(COV.Config(root=str(write_cov_ctr(tmp_path))))
    recs = all_records(ds)
    rec = recs["2020.02.17.20024018-p17-61%1.png"]
    assert rec["report"] == ("胸廓 对称 ， 纵隔 影 居中 。 双肺 纹理 清晰 ， 右肺 上 叶 可见 斑 片状 磨 玻璃 影 。 "
                             "考虑 病毒性 肺炎 。")
    assert rec["report_raw"] == f"{COVID_FINDINGS} 考虑病毒性肺炎。"
    assert rec["labels"] == [1.0] and COV.label_names == ["COVID-19"]
    assert recs["20.jpg"]["report"] == "双肺 未见 明显 异常 。 胸部 CT 未见异常 。"
    assert recs["20.jpg"]["labels"] == [0.0] and rec["terminologies"] == "磨玻璃影"
    assert rec["image_paths"] == [str(tmp_path / "2020.02.17.20024018-p17-61%1.png")]  # flat archive
    assert "1 repeated image_id rows dropped" in ds.describe()


def test_english_reports(tmp_path: Path) -> None:
    ds = COV(COV.Config(root=str(write_cov_ctr(tmp_path)), language="en"))
    rec = all_records(ds)["2020.02.17.20024018-p17-61%1.png"]
    assert rec["report"].startswith("The thorax was symmetrical, the mediastinal") and rec["report"].endswith("lobe.")
    assert "\n" not in rec["report"]


def test_split_is_seeded_7_1_2(tmp_path: Path) -> None:
    root = write_cov_ctr(tmp_path)
    ds = COV(COV.Config(root=str(root)))
    sizes = [len(ds.records(s)) for s in ("train", "val", "test")]
    assert sizes == [7, 1, 2]  # 10 unique images
    again = COV(COV.Config(root=str(root)))
    other = COV(COV.Config(root=str(root), seed=5))
    assert [r["id"] for r in ds.records("test")] == [r["id"] for r in again.records("test")]
    assert {r["id"] for r in ds.records("train")} != {r["id"] for r in other.records("train")}


def test_images_load_from_images_folder(tmp_path: Path) -> None:
    ds = COV(COV.Config(root=str(write_cov_ctr(tmp_path, images_sub="images"))))
    rec = all_records(ds)["20.jpg"]
    assert rec["image_paths"] == [str(tmp_path / "images" / "20.jpg")]
    (view,) = ds.load_images(rec)
    assert view.dtype == np.uint8 and view.shape == (12, 20)


def test_bad_covid_value_names_the_line(tmp_path: Path) -> None:
    rows = [list(r) for r in ROWS]
    rows[2][3] = "maybe"  # the third data row starts on physical line 6 (each row spans 2 lines)
    write_cov_ctr(tmp_path, rows)
    with pytest.raises(DataError, match=r"reports_ZH_EN\.csv, line 6: COVID = 'maybe'"):
        COV(COV.Config(root=str(tmp_path))).records("train")


def test_missing_csv_and_columns(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"reports_ZH_EN\.csv: COV-CTR reports file not found"):
        COV(COV.Config(root=str(tmp_path))).records("train")
    (tmp_path / "reports_ZH_EN.csv").write_text("image_id,findings\n1.jpg,x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"line 1: missing column\(s\) \['terminologies', 'COVID'"):
        COV(COV.Config(root=str(tmp_path))).records("train")


def test_missing_and_corrupt_images(tmp_path: Path) -> None:
    root = write_cov_ctr(tmp_path)
    (root / "3%0.jpg").unlink()
    (root / "4%0.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    with pytest.raises(DataError, match=r"3%0\.jpg: image file not found \(study '3%0\.jpg'"):
        COV(COV.Config(root=str(root))).records("train")
    skip = COV(COV.Config(root=str(root), on_bad_image="skip"))
    recs = all_records(skip)
    assert "3%0.jpg" not in recs and len(recs) == 9
    assert skip.load_images(recs["4%0.jpg"]) == []
    assert "1 studies dropped (no image file found)" in skip.describe()
    with pytest.raises(DataError, match=r"4%0\.jpg: cannot read image .*\(study '4%0\.jpg'\)"):
        COV(COV.Config(root=str(root), check_files=False)).load_images(recs["4%0.jpg"])


def test_registered_under_its_entry_point() -> None:
    from cbf.registry import load_plugin

    assert load_plugin("datasets", "cov_ctr") is COV
