"""``cbf generate`` and ``cbf diagnose`` on tiny trained runs: PNGs we write, the real NIH PNG and
the real DICOM, multi-view studies, the uncached decoder, and the errors users will meet."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from cbf.cli import main
from cbf.errors import CheckpointError, DataError
from cbf.fields import CHEXPERT_LABELS
from cbf.inference import images_to_batch, load_for_inference
from cbf.pipeline import run_recipe
from cbf.testing import tiny_recipe
from cbf.training.checkpoint import load_checkpoint, save_checkpoint


def _train(folder, head, views):
    recipe = tiny_recipe({}, views=views, head=head)
    recipe["trainer"].update(max_steps=2, batch_size=4)
    run_recipe(recipe, folder, log=lambda *_: None)
    return folder


@pytest.fixture(scope="module")
def rrg_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("rrg"), {"type": "rrg", "max_length": 12}, {"s2s": 1.0})


@pytest.fixture(scope="module")
def rd_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("rd"), {"type": "rd", "target": "chexpert"}, {"bi": 1.0})


@pytest.fixture(scope="module")
def pngs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("png")
    rng = np.random.default_rng(0)
    paths = []
    for i, size in enumerate([(40, 48), (64, 64), (30, 90)]):
        arr = rng.integers(0, 255, size=size, dtype=np.uint8)
        path = folder / f"img{i}.png"
        Image.fromarray(arr).save(path)
        paths.append(str(path))
    rgb = folder / "rgb.jpg"
    Image.fromarray(rng.integers(0, 255, size=(50, 50, 3), dtype=np.uint8)).save(rgb)
    paths.append(str(rgb))
    return paths


def _cli(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, lines, captured.err


def test_generate_one_study_per_image_and_multi_view_studies(rrg_run, pngs, capsys, tmp_path):
    out = tmp_path / "sub" / "reports.jsonl"
    code, _, err = _cli(capsys, "generate", "--checkpoint", str(rrg_run), pngs[0], pngs[3],
                        "--study", f"{pngs[1]},{pngs[2]}", "--beam", "2", "--out", str(out))
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["image"] for r in rows] == [pngs[0], pngs[3], [pngs[1], pngs[2]]]
    for r in rows:
        words = r["report"].split()
        assert 0 < len(words) <= 12  # the head's max_length
        assert not {"[PAD]", "[CLS]", "[MASK]", "[UNK]", "[SEP]"} & set(words)


def test_no_kv_cache_gives_identical_reports(rrg_run, pngs, capsys):
    args = ["generate", "--checkpoint", str(rrg_run), *pngs, "--beam", "3", "--no-repeat-ngram", "2",
            "--max-len", "10", "--batch-size", "2", "--no-progress"]
    code, cached, _ = _cli(capsys, *args)
    code2, full, _ = _cli(capsys, *args, "--no-kv-cache")
    assert code == code2 == 0
    assert cached == full and len(cached) == len(pngs)


def test_generate_on_real_nih_png_and_dicom(rrg_run, shared_data, capsys):
    png = str(shared_data / "nih" / "00000001_000.png")
    dcm = str(shared_data / "dicom" / "RG1_UNCI.dcm")
    code, rows, err = _cli(capsys, "generate", "--checkpoint", str(rrg_run / "checkpoints" / "last.pt"),
                           png, dcm, "--study", f"{png},{dcm}", "--beam", "1")
    assert code == 0, err
    assert [r["image"] for r in rows] == [png, dcm, [png, dcm]]
    assert all(isinstance(r["report"], str) and r["report"] for r in rows)


def test_diagnose_on_pngs_real_png_and_dicom(rd_run, pngs, shared_data, capsys):
    png = str(shared_data / "nih" / "00000001_000.png")
    dcm = str(shared_data / "dicom" / "RG1_UNCI.dcm")
    code, rows, err = _cli(capsys, "diagnose", "--checkpoint", str(rd_run), pngs[0], png, dcm)
    assert code == 0, err
    assert [r["image"] for r in rows] == [pngs[0], png, dcm]
    for r in rows:
        assert list(r["probabilities"]) == list(CHEXPERT_LABELS)
        assert all(0 < p < 1 for p in r["probabilities"].values())
        assert r["positive"] == [k for k, p in r["probabilities"].items() if p >= 0.5]
    code, low, _ = _cli(capsys, "diagnose", "--checkpoint", str(rd_run), pngs[0], "--threshold", "0.01")
    assert low[0]["positive"] == list(CHEXPERT_LABELS)


def test_diagnose_matches_the_head_on_the_loaded_model(rd_run, pngs, capsys):
    loaded = load_for_inference(rd_run, task="classification")
    batch = images_to_batch([[pngs[1]]], loaded.image_size, loaded.max_views)
    probs = loaded.head.predict(loaded.model, batch)[0].tolist()
    _, rows, _ = _cli(capsys, "diagnose", "--checkpoint", str(rd_run), pngs[1])
    assert list(rows[0]["probabilities"].values()) == pytest.approx(probs, abs=1e-6)


def test_load_for_inference_restores_the_trained_weights(rrg_run):
    loaded = load_for_inference(rrg_run)
    state = load_checkpoint(rrg_run)
    assert not loaded.model.training and loaded.head is not None and loaded.head.task == "generation"
    for name, value in loaded.model.state_dict().items():
        assert torch.equal(value, state["model"][name]), name
    assert loaded.tokenizer.vocab == state["annotators"]["tokenizer"]["vocab"]
    assert (loaded.image_size, loaded.max_views) == (32, 2)
    with pytest.raises(CheckpointError, match="does 'generation', not 'classification'"):
        load_for_inference(rrg_run, task="classification")


def test_checkpoint_without_head_is_a_clear_error(rrg_run, pngs, tmp_path, capsys):
    state = load_checkpoint(rrg_run)
    config = json.loads(state["config"])
    config["head"] = None
    config["objectives"] = {"mlm": {"type": "mlm"}}
    state["config"] = json.dumps(config)
    state.pop("format")
    path = save_checkpoint(tmp_path / "nohead.pt", state)
    code, _, err = _cli(capsys, "generate", "--checkpoint", str(path), pngs[0])
    assert code == 1 and "has no downstream head" in err


def test_bad_inputs_name_the_file(rrg_run, rd_run, pngs, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    code, _, err = _cli(capsys, "generate", "--checkpoint", str(rrg_run), pngs[0], str(bad))
    assert code == 1 and str(bad) in err
    code, _, err = _cli(capsys, "diagnose", "--checkpoint", str(rd_run), str(tmp_path / "missing.png"))
    assert code == 1 and "missing.png: image file not found" in err
    code, _, err = _cli(capsys, "diagnose", "--checkpoint", str(rrg_run), pngs[0])
    assert code == 1 and "not 'classification'" in err
    code, _, err = _cli(capsys, "generate", "--checkpoint", str(tmp_path / "nowhere"), pngs[0])
    assert code == 1 and "nowhere" in err
    code, _, err = _cli(capsys, "generate", "--checkpoint", str(rrg_run), pngs[0], "--beam", "0")
    assert code == 1 and "beam_size" in err
    code, _, err = _cli(capsys, "generate", "--checkpoint", str(rrg_run), "--study", ",".join(pngs[:3]))
    assert code == 1 and "at most 2 views" in err


def test_images_to_batch_layout(pngs):
    batch = images_to_batch([[pngs[0]], [pngs[1], pngs[2]]], 32, 2)
    assert batch["images"].shape == (2, 2, 3, 32, 32)
    assert batch["image_mask"].tolist() == [[True, False], [True, True]]
    assert (batch["images"][0, 1] == 0).all()
    assert batch["ids"] == [pngs[0], f"{pngs[1]},{pngs[2]}"]
    with pytest.raises(DataError, match="no image"):
        images_to_batch([[]], 32, 2)
