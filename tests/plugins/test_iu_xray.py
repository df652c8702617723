"""IU X-Ray dataset: the three real layouts in ../shared/data, the tgz inside torchxrayvision,
and image loading on a small folder of PNGs written here next to real Open-i XML reports."""
from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cbf.data.openi import openi_archive_from_torchxrayvision
from cbf.errors import DataError
from cbf_iu_xray import IUXRayDataset as IU

SPLITS = ("train", "val", "test")


def by_split(ds: IU) -> dict[str, list[dict]]:
    return {s: ds.records(s) for s in SPLITS}


def flat(ds: IU) -> dict[str, dict]:
    return {r["id"]: r for s in SPLITS for r in ds.records(s)}


# ----------------------------------------------------------------------------- real files

@pytest.fixture(scope="module")
def openi_real(shared_data: Path) -> IU:
    return IU(IU.Config(root=str(shared_data / "iu_xray"), format="openi", check_files=False))


def test_real_openi_xml(openi_real: IU) -> None:
    ds = openi_real
    splits = by_split(ds)
    # 3,955 reports: 28 with empty findings+impression, then 101 more without any image
    assert ds.n_studies == 3955 and ds.dropped_empty == 28 and ds.dropped_no_image == 101
    assert [len(splits[s]) for s in SPLITS] == [2678, 383, 765]  # 7:1:2 of 3,826
    assert not ({r["id"] for r in splits["train"]} & {r["id"] for r in splits["test"]})
    recs = flat(ds)
    one = recs["CXR1"]
    assert one["report"].startswith("The cardiac silhouette and mediastinum size are within normal limits.")
    assert one["report"].endswith("There is no evidence of pneumothorax. Normal chest x-XXXX.")
    # the XML lists the lateral (3001) first; the Kaggle projections beside it put the frontal first
    assert [Path(p).name for p in one["image_paths"]] == ["CXR1_1_IM-0001-4001.png", "CXR1_1_IM-0001-3001.png"]
    assert Path(one["image_paths"][0]).parent.name == "NLMCXR_png"
    assert recs["CXR2"]["mesh_major"] == ["Cardiomegaly/borderline", "Pulmonary Artery/enlarged"]
    assert one["xml_path"] == "ecgen-radiology/1.xml"
    assert max(len(r["image_paths"]) for r in recs.values()) == 2
    assert "dropped 28 with empty findings+impression" in ds.describe()


def test_real_split_is_seeded(shared_data: Path) -> None:
    cfg = dict(root=str(shared_data / "iu_xray"), format="kaggle", check_files=False)
    a = {r["id"] for r in IU(IU.Config(**cfg, seed=0)).records("test")}
    assert a == {r["id"] for r in IU(IU.Config(**cfg, seed=0)).records("test")}
    assert a != {r["id"] for r in IU(IU.Config(**cfg, seed=1)).records("test")}


def test_real_r2gen_annotation(shared_data: Path) -> None:
    root = shared_data / "iu_xray"
    ds = IU(IU.Config(root=str(root), check_files=False))  # auto: the annotation wins
    assert ds.format == "r2gen" and ds.source.name == "r2gen_annotation.json"
    splits = by_split(ds)
    assert [len(splits[s]) for s in SPLITS] == [2069, 296, 590]
    first = splits["train"][0]
    assert first["id"] == "CXR2384_IM-0942" and first["split"] == "train"
    assert first["image_paths"] == [str(root / "images" / "CXR2384_IM-0942" / f"{i}.png") for i in (0, 1)]
    assert first["report"].startswith("The heart size and pulmonary vascularity appear within normal limits.")
    assert splits["test"][0]["id"] == "CXR3030_IM-1405"


def test_real_kaggle_csvs(shared_data: Path, openi_real: IU) -> None:
    root = shared_data / "iu_xray"
    ds = IU(IU.Config(root=str(root), format="kaggle", check_files=False))
    recs = flat(ds)
    assert ds.n_studies == 3851 and ds.dropped_empty == 25 and len(recs) == 3826
    assert recs["CXR1"]["image_paths"] == [str(root / "images" / "images_normalized" / n)
                                           for n in ("1_IM-0001-4001.dcm.png", "1_IM-0001-3001.dcm.png")]
    assert recs["CXR2"]["mesh_major"] == ["Cardiomegaly/borderline", "Pulmonary Artery/enlarged"]
    # same report text as the XML for the same study
    xml = flat(openi_real)
    assert recs["CXR6"]["report"] == xml["CXR6"]["report"]


def test_torchxrayvision_archive() -> None:
    tgz = openi_archive_from_torchxrayvision()
    ds = IU(IU.Config(root=str(tgz.parent), reports=tgz.name, check_files=False))
    assert ds.format == "openi"
    assert sum(len(v) for v in by_split(ds).values()) == 3826


# ----------------------------------------------------------------------------- fixtures

def _png(path: Path, value: int, size: tuple[int, int] = (24, 20)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.full((size[1], size[0]), value, dtype=np.uint8)
    arr[:, : size[0] // 2] = 255 - value
    Image.fromarray(arr).save(path)


@pytest.fixture
def openi_folder(tmp_path: Path) -> Path:
    """Real Open-i XML (reports 1-3 from the torchxrayvision archive), extracted, plus tiny PNGs."""
    with tarfile.open(openi_archive_from_torchxrayvision(), "r:gz") as tar:
        for n in (1, 2, 3):
            member = tar.getmember(f"ecgen-radiology/{n}.xml")
            (tmp_path / "ecgen-radiology").mkdir(exist_ok=True)
            (tmp_path / "ecgen-radiology" / f"{n}.xml").write_bytes(tar.extractfile(member).read())
    for i, image_id in enumerate(["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001", "CXR2_IM-0652-1001",
                                  "CXR2_IM-0652-2001", "CXR3_IM-1384-1001", "CXR3_IM-1384-2001"]):
        _png(tmp_path / "NLMCXR_png" / f"{image_id}.png", 40 * i)
    return tmp_path


def test_images_load_from_extracted_xml(openi_folder: Path) -> None:
    ds = IU(IU.Config(root=str(openi_folder), split_ratios=(1, 0, 0)))
    assert ds.format == "openi" and ds.source.name == "ecgen-radiology"
    recs = {r["id"]: r for r in ds.records("train")}
    assert sorted(recs) == ["CXR1", "CXR2", "CXR3"]
    views = ds.load_images(recs["CXR2"])
    assert len(views) == 2 and all(v.dtype == np.uint8 and v.shape == (20, 24) for v in views)
    assert views[0][0, -1] == 80 and views[1][0, -1] == 120  # the two files, in XML order


def test_corrupt_image_error_and_skip(openi_folder: Path) -> None:
    bad = openi_folder / "NLMCXR_png" / "CXR2_IM-0652-2001.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    ds = IU(IU.Config(root=str(openi_folder), split_ratios=(1, 0, 0)))
    rec = next(r for r in ds.records("train") if r["id"] == "CXR2")
    with pytest.raises(DataError, match=r"CXR2_IM-0652-2001\.png: cannot read image .*\(study 'CXR2'\)"):
        ds.load_images(rec)
    skip = IU(IU.Config(root=str(openi_folder), split_ratios=(1, 0, 0), on_bad_image="skip"))
    rec = next(r for r in skip.records("train") if r["id"] == "CXR2")
    assert len(skip.load_images(rec)) == 1
    assert "1 bad image file(s) skipped" in skip.describe()


def test_missing_image_file(openi_folder: Path) -> None:
    (openi_folder / "NLMCXR_png" / "CXR3_IM-1384-1001.png").unlink()
    with pytest.raises(DataError, match=r"CXR3_IM-1384-1001\.png: image file not found \(study 'CXR3'"):
        IU(IU.Config(root=str(openi_folder))).records("train")
    skip = IU(IU.Config(root=str(openi_folder), on_bad_image="skip", split_ratios=(1, 0, 0)))
    recs = {r["id"]: r for r in skip.records("train")}
    assert len(recs["CXR3"]["image_paths"]) == 1 and len(recs["CXR1"]["image_paths"]) == 2


def test_r2gen_fixture_with_images(tmp_path: Path) -> None:
    ann = {"train": [{"id": "CXR9_IM-0001", "report": "No acute disease.", "split": "train",
                      "image_path": ["CXR9_IM-0001/0.png", "CXR9_IM-0001/1.png"]}],
           "val": [], "test": []}
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    _png(tmp_path / "images" / "CXR9_IM-0001" / "0.png", 10)
    _png(tmp_path / "images" / "CXR9_IM-0001" / "1.png", 20)
    ds = IU(IU.Config(root=str(tmp_path)))
    (rec,) = ds.records("train")
    assert [v[0, -1] for v in ds.load_images(rec)] == [10, 20]
    ann["train"][0]["image_path"] = "CXR9_IM-0001/0.png"
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    with pytest.raises(DataError, match=r"annotation\.json: train\[0\]: missing or bad 'image_path'"):
        IU(IU.Config(root=str(tmp_path))).records("train")


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no IU X-Ray reports found"):
        IU(IU.Config(root=str(tmp_path)))
    (tmp_path / "indiana_reports.csv").write_text("uid,MeSH,Problems,image,indication,comparison,findings,impression\n")
    ds = IU(IU.Config(root=str(tmp_path), check_files=False))
    assert ds.format == "kaggle"
    with pytest.raises(DataError, match=r"indiana_projections\.csv: file not found"):
        ds.records("train")
    with pytest.raises(DataError, match=r"nope\.tgz: IU X-Ray reports file not found"):
        IU(IU.Config(root=str(tmp_path), reports="nope.tgz"))


def test_bad_kaggle_row_names_line(tmp_path: Path) -> None:
    (tmp_path / "indiana_projections.csv").write_text("uid,filename,projection\n1,1_IM-1.dcm.png,Frontal\n")
    (tmp_path / "indiana_reports.csv").write_text(
        "uid,MeSH,Problems,image,indication,comparison,findings,impression\n"
        "1,normal,normal,x,y,None.,Clear lungs.,Normal.\n"
        "x2,normal,normal,x,y,None.,Clear lungs.,Normal.\n")
    with pytest.raises(DataError, match=r"indiana_reports\.csv, line 3: uid 'x2' is not a number"):
        IU(IU.Config(root=str(tmp_path), check_files=False)).records("train")


def test_registered_under_its_entry_point() -> None:
    from cbf.registry import load_plugin

    assert load_plugin("datasets", "iu_xray") is IU


def test_a_dicom_view_loads_through_the_dataset(shared_data: Path, tmp_path: Path) -> None:
    ann = {"train": [{"id": "D1", "report": "Clear lungs.", "split": "train", "image_path": ["D1/0.dcm"]}]}
    (tmp_path / "annotation.json").write_text(json.dumps(ann))
    (tmp_path / "images" / "D1").mkdir(parents=True)
    (tmp_path / "images" / "D1" / "0.dcm").symlink_to(shared_data / "dicom" / "RG1_UNCI.dcm")
    ds = IU(IU.Config(root=str(tmp_path)))
    (view,) = ds.load_images(ds.records("train")[0])
    assert view.dtype == np.uint8 and view.ndim == 2 and min(view.shape) > 256 and view.std() > 10
