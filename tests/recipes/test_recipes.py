"""Every shipped recipe validates, and every ablation row runs at tiny scale."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from cbf.config.recipe import load_recipe
from cbf.pipeline import run_recipe, validate_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
ALL = sorted(p for p in RECIPES.rglob("*.jsonnet"))
ABLATIONS = sorted((RECIPES / "ablations").glob("*.jsonnet"))

TINY = [
    "data.dataset.max_studies=40",
    "data.dataset.image_size=64",
    "data.num_workers=0",
    'model.backbone={"type": "small_cnn", "channels": [8, 8, 16, 16, 32]}',
    "model.image_size=64",
    'model.encoder={"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}',
    'trainer={"max_steps": 2, "batch_size": 4, "eval_batches": 1}',
    "hooks=[]",
]


def _needs_root(path: Path) -> bool:
    return path.name.startswith("finetune_")


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(RECIPES)))
def test_recipe_validates(path, tmp_path):
    overrides = [f"root={tmp_path}"] if _needs_root(path) else []
    resolved = validate_recipe(load_recipe(path, overrides))
    assert resolved["name"]


def test_finetune_recipes_carry_the_paper_settings(tmp_path):
    iu = validate_recipe(load_recipe(RECIPES / "finetune_rrg_iu.jsonnet", [f"root={tmp_path}"]))
    train = iu["stages"][0]["run"]
    assert train["data"]["dataset"]["type"] == "iu_xray" and train["vocabulary"] == "fit"
    assert (train["trainer"]["batch_size"], train["trainer"]["lr"]) == (16, 1e-5)
    assert train["views"]["ratios"] == {"s2s": 0.75, "mmm": 0.25}
    assert [s["stage"] for s in iu["stages"]] == ["train", "generate", "evaluate_reports"]
    assert iu["stages"][1]["beam_size"] == 5 and iu["stages"][1]["max_length"] == 60
    lengths = {n: validate_recipe(load_recipe(RECIPES / f"finetune_rrg_{n}.jsonnet", [f"root={tmp_path}"]))
               ["stages"][1]["max_length"] for n in ("iu", "mimic", "covctr")}
    assert lengths == {"iu": 60, "mimic": 100, "covctr": 80}
    cc = validate_recipe(load_recipe(RECIPES / "finetune_rrg_covctr.jsonnet", [f"root={tmp_path}"]))
    assert cc["stages"][-1]["stage"] == "evaluate_diagnosis" and cc["stages"][-2]["run"]["head"]["label_names"] == ["COVID-19"]
    nih = validate_recipe(load_recipe(RECIPES / "finetune_rd_nih.jsonnet", [f"root={tmp_path}"]))
    assert nih["stages"][0]["run"]["head"]["num_labels"] == 14 and nih["stages"][0]["run"]["trainer"]["batch_size"] == 32
    # without a root the IU recipe falls back to the demo set and says so
    demo = load_recipe(RECIPES / "finetune_rrg_iu.jsonnet")
    assert demo["stages"][0]["run"]["data"]["dataset"]["type"] == "demo" and "DEMO" in demo["description"]


def test_ablation_rows_differ_by_their_objectives_only():
    rows = {p.stem: validate_recipe(load_recipe(p)) for p in ABLATIONS}
    assert set(rows["baseline"]["objectives"]) == {"mlm"}
    assert set(rows["cd"]["objectives"]) == {"mlm", "cd"}
    assert set(rows["cd_mmm"]["objectives"]) == {"mlm", "cd", "mmm"}
    assert rows["cd_mmm_imm_nosparse"]["objectives"]["imm"]["sparsity"] is False
    assert rows["cd_mmm_imm"]["objectives"]["imm"]["sparsity"] is True
    assert {rows[f"imm_k{k}"]["objectives"]["imm"]["k"] for k in (6, 8, 12, 16, 20, 24)} == {6, 8, 12, 16, 20, 24}
    strip = lambda r: {k: v for k, v in r.items() if k not in ("objectives", "views", "name")}  # noqa: E731
    assert all(strip(r) == strip(rows["baseline"]) for r in rows.values())


def test_pretrain_defaults_to_demo_and_switches_to_mimic_with_a_root():
    demo = load_recipe(RECIPES / "pretrain.jsonnet")
    assert demo["data"]["dataset"]["type"] == "demo" and "DEMO" in demo["description"]
    mimic = load_recipe(RECIPES / "pretrain.jsonnet", ["data.root=/data/mimic-cxr-jpg"])
    assert mimic["data"]["dataset"] == {"type": "mimic_cxr", "root": "/data/mimic-cxr-jpg"}
    assert mimic["model"]["backbone"]["pretrained"] == "imagenet"
    paper = validate_recipe(mimic)
    assert paper["views"]["ratios"] == {"s2s": 0.5, "bi": 0.25, "mmm": 0.25}
    assert paper["trainer"]["batch_size"] * paper["trainer"]["grad_accum"] == 256
    assert (paper["trainer"]["lr"], paper["trainer"]["lr_visual"]) == (1e-4, 5e-5)
    imm = paper["objectives"]["imm"]
    assert (imm["k"], imm["rho1"], imm["rho2"], imm["tau"]) == (12, 4.0, 4.0, 0.01)
    assert paper["model"]["encoder"]["hidden_size"] == 768 and paper["model"]["backbone"]["type"] == "densenet121"


@pytest.mark.parametrize("path", ABLATIONS, ids=lambda p: p.stem)
def test_ablation_runs_tiny(path, tmp_path, monkeypatch):
    monkeypatch.setenv("CBF_CACHE", str(tmp_path / "cache"))
    data = load_recipe(path, TINY)
    metrics = run_recipe(data, out_dir=tmp_path / "run", log=lambda *_: None)
    assert metrics["steps"] == 2
    assert all(v == v for v in metrics["val"].values())  # no NaN
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["objectives"].keys() == data["objectives"].keys()
