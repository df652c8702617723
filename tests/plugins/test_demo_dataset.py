"""The demo dataset: real IU reports + synthetic phantom images, split, rendered once, cached."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from cbf import fields
from cbf.config.binding import ConfigError, bind_dataclass
from cbf_demo import DemoConfig, DemoDataset
from cbf_demo.cache import ARRAY, INDEX
from cbf_demo.findings import Sign, sign_for_heading, signs_from_mesh
from cbf_demo.phantom import render_study

N = 40
S = 64


def make(tmp_path, **kw) -> DemoDataset:
    cfg = dict(cache_dir=str(tmp_path / "cache"), image_size=S, max_studies=N, progress=False)
    cfg.update(kw)
    return DemoDataset(DemoConfig(**cfg))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> DemoDataset:
    return make(tmp_path_factory.mktemp("demo"))


def _ids(ds: DemoDataset) -> dict[str, set[str]]:
    return {s: {r[fields.ID] for r in ds.records(s)} for s in ("train", "val", "test")}


def test_splits_partition_the_studies_7_1_2(demo):
    ids = _ids(demo)
    assert [len(ids[s]) for s in ("train", "val", "test")] == [28, 4, 8]
    assert ids["train"].isdisjoint(ids["val"]) and ids["train"].isdisjoint(ids["test"])
    assert ids["val"].isdisjoint(ids["test"])
    assert len(ids["train"] | ids["val"] | ids["test"]) == N
    with pytest.raises(ValueError, match="unknown split"):
        demo.records("training")


def test_records_have_the_documented_fields(demo):
    for rec in demo.records("train") + demo.records("test"):
        assert rec[fields.ID].startswith("CXR")
        assert rec[fields.SPLIT] in ("train", "test")
        assert isinstance(rec[fields.REPORT], str) and rec[fields.REPORT].strip()
        assert isinstance(rec[fields.MESH_MAJOR], list)
        assert rec[fields.IMAGE_PATHS] == []
        assert rec["xml_path"].startswith("ecgen-radiology/")
    cxr1 = next(r for s in ("train", "val", "test") for r in demo.records(s) if r[fields.ID] == "CXR1")
    assert cxr1[fields.REPORT].startswith("The cardiac silhouette") and cxr1[fields.REPORT].endswith("Normal chest x-XXXX.")
    assert cxr1[fields.MESH_MAJOR] == ["normal"]
    assert "synthetic images" in demo.describe()


def test_load_images_two_uint8_views(demo):
    rec = demo.records("val")[0]
    views = demo.load_images(rec)
    assert len(views) == 2
    assert all(v.dtype == np.uint8 and v.shape == (S, S) for v in views)
    assert not np.array_equal(views[0], views[1])  # frontal and lateral differ
    assert views[0].std() > 10  # an image, not a blank
    with pytest.raises(Exception, match="no study"):
        demo.load_images({fields.ID: "CXR0"})


def test_split_is_seeded(tmp_path, demo):
    again = make(tmp_path, cache_dir=demo.config.cache_dir)
    assert _ids(again) == _ids(demo)
    other = make(tmp_path, seed=1)
    assert _ids(other) != _ids(demo)


def test_rendering_is_per_report(tmp_path, demo):
    small = make(tmp_path, max_studies=12)
    rec = small.records("train")[0]
    for a, b in zip(small.load_images(rec), demo.load_images(rec)):
        assert np.array_equal(a, b)
    # and the config seed changes the pixels of the same report
    reseeded = make(tmp_path, max_studies=12, seed=3)
    assert not np.array_equal(reseeded.load_images(rec)[0], small.load_images(rec)[0])


def test_cache_is_reused_without_rendering(tmp_path, monkeypatch):
    first = make(tmp_path, max_studies=10)
    array = first.cache_folder / ARRAY
    mtime = os.stat(array).st_mtime_ns
    rec = first.records("train")[0]
    before = first.load_images(rec)[0]

    def boom(*a, **k):
        raise AssertionError("re-rendered although the cache was complete")

    monkeypatch.setattr("cbf_demo.dataset.render_study", boom)
    second = make(tmp_path, max_studies=10)
    assert os.stat(array).st_mtime_ns == mtime
    assert np.array_equal(second.load_images(rec)[0], before)


@pytest.mark.parametrize("damage", ["truncate", "garbage_index", "wrong_ids"])
def test_corrupt_cache_is_re_rendered(tmp_path, damage):
    first = make(tmp_path, max_studies=10)
    rec = first.records("train")[0]
    before = first.load_images(rec)[0]
    folder = first.cache_folder
    if damage == "truncate":
        data = (folder / ARRAY).read_bytes()
        (folder / ARRAY).write_bytes(data[: len(data) // 2])
    elif damage == "garbage_index":
        (folder / INDEX).write_text("{not json")
    else:
        index = json.loads((folder / INDEX).read_text())
        index["ids"][0] = "CXR999999"
        (folder / INDEX).write_text(json.dumps(index))
    with pytest.warns(RuntimeWarning, match="re-rendering"):
        again = make(tmp_path, max_studies=10)
    assert np.array_equal(again.load_images(rec)[0], before)
    assert not list(folder.glob(".*.tmp"))  # no temporary files left behind


def test_pickled_dataset_reopens_the_cache(demo):
    import pickle

    clone = pickle.loads(pickle.dumps(demo))
    rec = demo.records("test")[0]
    assert np.array_equal(clone.load_images(rec)[1], demo.load_images(rec)[1])
    assert len(pickle.dumps(demo)) < 1_000_000  # the pixels are not pickled


def _heart_width(img: np.ndarray) -> int:
    """Width of the bright run around the heart at heart level, between the dark lungs."""
    s = img.shape[0]
    band = img[int(0.55 * s):int(0.62 * s)].astype(float).mean(0)
    lung = np.median(np.r_[band[int(0.2 * s):int(0.3 * s)], band[int(0.7 * s):int(0.8 * s)]])
    thr = 0.5 * (lung + band[s // 2 - 5:s // 2 + 10].max())
    left = right = int(0.55 * s)
    while left > 0 and band[left - 1] > thr:
        left -= 1
    while right < s - 1 and band[right + 1] > thr:
        right += 1
    return right - left


def _lower_zone(img: np.ndarray, side: str) -> float:
    """Mean intensity of the patient's lower lung zone (patient left = image right)."""
    s = img.shape[0]
    cols = slice(int(0.62 * s), int(0.85 * s)) if side == "left" else slice(int(0.15 * s), int(0.38 * s))
    return float(img[int(0.62 * s):int(0.78 * s), cols].mean())


@pytest.mark.parametrize("seed", range(4))
def test_findings_change_the_image(seed):
    def frontal(mesh):
        return render_study(signs_from_mesh(mesh), np.random.default_rng(seed), 128)[0]

    normal = frontal(["normal"])
    effusion = frontal(["Pleural Effusion/left"])
    assert _lower_zone(effusion, "left") > _lower_zone(normal, "left") + 10
    assert abs(_lower_zone(effusion, "right") - _lower_zone(normal, "right")) < 1  # same patient
    assert _heart_width(frontal(["Cardiomegaly"])) >= _heart_width(normal) + 6
    # a pacemaker adds a very bright object; a calcified granuloma a very bright dot
    assert (frontal(["Implanted Medical Device/left"]) > 245).sum() > (normal > 245).sum() + 20
    granuloma = frontal(["Calcified Granuloma/lung/upper lobe/right"]).astype(int)
    assert (granuloma - normal).max() > 30


def test_rendering_is_deterministic():
    signs = signs_from_mesh(["Opacity/lung/base/right", "Catheters, Indwelling/right"])
    a = render_study(signs, np.random.default_rng(11), 96)
    b = render_study(signs, np.random.default_rng(11), 96)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_mesh_table():
    assert sign_for_heading("Pleural Effusion/left/small") == Sign("effusion", "left", None, 0.7)
    assert sign_for_heading("Opacity/lung/middle lobe") == Sign("opacity", "right", "middle", 1.0)
    assert sign_for_heading("Cardiomegaly/borderline").severity < sign_for_heading("Cardiomegaly/severe").severity
    assert sign_for_heading("Lung/hyperdistention").kind == "hyperinflation"
    assert sign_for_heading("Density/lung/base/left/round").kind == "nodule"
    assert sign_for_heading("normal") is None and sign_for_heading("No Indexing") is None
    assert signs_from_mesh(["Spine/degenerative", "Spine/degenerative/mild"]) == [Sign("spine_degenerative")]


def test_config_binding_and_validation():
    cfg = bind_dataclass(DemoDataset.Config, {"image_size": 96, "splits": [0.8, 0.1, 0.1]})
    assert cfg.splits == (0.8, 0.1, 0.1)
    with pytest.raises(ConfigError, match=r"\$\.splits"):
        bind_dataclass(DemoDataset.Config, {"splits": [0.5, 0.5]})
    with pytest.raises(ConfigError, match="sum"):
        bind_dataclass(DemoDataset.Config, {"splits": [0.5, 0.5, 0.5]})
    with pytest.raises(ConfigError, match="image_size"):
        bind_dataclass(DemoDataset.Config, {"image_size": 4})


def test_entry_point_loads_the_class():
    from cbf.registry import load_plugin

    assert load_plugin("datasets", "demo") is DemoDataset
