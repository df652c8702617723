"""The probe scripts in bench/ run on a tiny trained run and print what they say they print."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cbf.config.recipe import load_recipe
from cbf.pipeline import run_recipe
from cbf.testing import tiny_recipe

BENCH = Path(__file__).resolve().parents[2] / "bench"
RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _script(name: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, str(BENCH / name), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout[done.stdout.index("{"):])


@pytest.fixture(scope="module")
def rrg_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rrg")
    run_recipe(tiny_recipe({}, views={"s2s": 1.0}, head={"type": "rrg", "training": "pseudo"}), out, log=lambda *_: None)
    return out


def test_image_dependence_compares_own_and_other_images(rrg_run):
    result = _script("image_dependence.py", str(rrg_run), "--studies", "8", "--batch-size", "4")
    assert result["target_words"] > 0
    own, other = result["loss_own_images"], result["loss_other_images"]
    assert own > 0 and other > 0 and result["image_gain_nats_per_word"] == pytest.approx(other - own, abs=2e-4)


def test_image_dependence_refuses_a_run_without_a_generation_head(tmp_path):
    run_recipe(tiny_recipe({"mlm": "mlm"}), tmp_path, log=lambda *_: None)
    done = subprocess.run([sys.executable, str(BENCH / "image_dependence.py"), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0 and "no report-generation head" in done.stderr


def test_imm_retrieval_on_the_demo_imm_recipe_at_tiny_scale(tmp_path, monkeypatch):
    """recipes/demo_imm.jsonnet as shipped (dual view, centring, weighted pooling), made tiny."""
    monkeypatch.setenv("CBF_CACHE", str(tmp_path / "cache"))
    data = load_recipe(RECIPES / "demo_imm.jsonnet", [
        "data.dataset.max_studies=40", "data.dataset.image_size=64", "data.num_workers=0",
        'model.backbone={"type": "small_cnn", "channels": [8, 8, 16, 16, 32]}', "model.image_size=64",
        'model.encoder={"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}',
        'trainer={"max_steps": 6, "batch_size": 4, "eval_batches": 1}', "hooks=[]"])
    run_recipe(data, tmp_path / "run", log=lambda *_: None)
    result = _script("imm_retrieval.py", str(tmp_path / "run"), "--split", "test", "--studies", "4",
                     "--negatives", "2")
    assert result["view"] == "dual" and result["center"] is True and result["pooling"] == "weighted"
    for direction in ("image_to_report", "report_to_image"):
        assert 0 <= result[f"{direction}_R@1"] <= 1 and 0 <= result[f"{direction}_AUC"] <= 1
    assert result["R@1_chance"] == pytest.approx(1 / 3)


def test_findings_condition_bench_compares_the_sources_of_findings(tmp_path):
    head = {"type": "rrg", "training": "pseudo", "findings_condition": True, "condition_guidance": 2.0}
    run_recipe(tiny_recipe({}, views={"s2s": 1.0}, head=head), tmp_path, log=lambda *_: None)
    result = _script("findings_condition.py", str(tmp_path), "--split", "train", "--studies", "6", "--beam", "2",
                     "--max-length", "8")
    assert result["studies"] == 6 and result["guidance"] == 2.0 and result["threshold"] == 0.3
    for source in ("classifier", "classifier_no_guidance", "true_findings", "normal_findings"):
        scores = result[source]
        assert all(0 <= scores[k] <= 1 for k in ("CE_micro_f1", "CE_macro_f1", "CE_example_f1"))
        assert 1 <= scores["distinct_reports"] <= 6
    assert result["normal_findings"]["findings_per_study"] == 0
    assert result["true_findings"]["findings_per_study"] > 0  # the toy studies have findings
    assert result["classifier"]["findings_per_study"] == result["classifier_no_guidance"]["findings_per_study"]


def test_findings_condition_bench_refuses_a_head_without_the_condition(rrg_run):
    done = subprocess.run([sys.executable, str(BENCH / "findings_condition.py"), str(rrg_run)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode != 0 and "no rrg head with findings_condition" in done.stderr
