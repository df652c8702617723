"""The four fine-tuning recipes end to end at tiny scale, each from a tiny pre-training run:
IU X-Ray on its demo fallback, MIMIC-CXR, COV-CTR and NIH ChestX-ray14 on fixtures in their
published formats (the real images are not here). Every stage runs and writes its metrics."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cbf.cli import main
from cbf.config.recipe import load_recipe
from test_cov_ctr import write_cov_ctr
from test_mimic_cxr import build_mimic
from test_nih import write_table

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
TINY_MODEL = ['model.image_size=64', 'model.backbone={"type": "small_cnn", "channels": [8, 8, 16, 16, 32]}',
              'model.encoder={"hidden_size": 32, "num_layers": 1, "num_heads": 2, "intermediate_size": 64}']


def _tiny(recipe: Path, root: Path | None, pretrained: Path) -> list[str]:
    data = load_recipe(recipe)
    out = [f"pretrained={pretrained}"] + ([f"root={root}"] if root else [])
    for i, stage in enumerate(data["stages"]):
        p = f"stages.{i}"
        if stage["stage"] == "train":
            out += [f"{p}.run.{o}" for o in TINY_MODEL]
            out += [f"{p}.run.data.num_workers=0", f"{p}.run.trainer.epochs=null", f"{p}.run.trainer.max_steps=2",
                    f"{p}.run.trainer.batch_size=2",
                    f"{p}.run.trainer.warmup_steps=0", f"{p}.run.trainer.eval_batches=1", f"{p}.run.hooks=[]"]
            if stage["run"]["data"]["dataset"]["type"] == "demo":
                out += [f"{p}.run.data.dataset.max_studies=60", f"{p}.run.data.dataset.image_size=64"]
        elif stage["stage"] == "generate":
            out += [f"{p}.max_studies=4", f"{p}.beam_size=2", f"{p}.max_length=8"]
        elif stage["stage"] == "evaluate_reports":
            out += [f'{p}.metrics=[{{"type": "nlg", "meteor": false}}, {{"type": "clinical_efficacy"}}]']
    return out


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pretrain") / "run"
    args = ["run", str(RECIPES / "pretrain.jsonnet"), "--out", str(out)]
    for o in TINY_MODEL + ["data.dataset.max_studies=60", "data.dataset.image_size=64", "data.num_workers=0",
                           'trainer={"max_steps": 2, "batch_size": 4, "eval_batches": 1}', "hooks=[]"]:
        args += ["-o", o]
    assert main(args) == 0
    return out


def _nih(root: Path) -> Path:
    labels = ["Cardiomegaly", "No Finding", "Effusion|Infiltration", "No Finding", "Atelectasis", "Mass"]
    rows = []
    (root / "images").mkdir()
    for k in range(24):
        image = f"{k:08d}_000.png"
        Image.fromarray(np.random.default_rng(k).integers(0, 255, (32, 32), dtype=np.uint8)).save(root / "images" / image)
        rows.append(f"{image},{labels[k % len(labels)]},0,{k},50,M,PA,2048,2048,0.143,0.143")
    write_table(root, rows)
    return root


def _root(kind: str, tmp_path: Path) -> Path | None:
    root = tmp_path / kind
    root.mkdir()
    if kind == "iu":
        return None  # the IU recipe runs on the demo set without a root
    if kind == "mimic":
        return build_mimic(root)
    if kind == "covctr":
        return write_cov_ctr(root)
    return _nih(root)


@pytest.mark.parametrize("recipe, kind, metric", [
    ("finetune_rrg_iu.jsonnet", "iu", "CE_micro_f1"),
    ("finetune_rrg_mimic.jsonnet", "mimic", "BLEU_4"),
    ("finetune_rrg_covctr.jsonnet", "covctr", "AUROC_mean"),
    ("finetune_rd_nih.jsonnet", "nih", "AUROC_mean"),
])
def test_finetune_recipe_runs_end_to_end(recipe, kind, metric, pretrained, tmp_path, monkeypatch):
    monkeypatch.setenv("CBF_CACHE", str(tmp_path / "cache"))
    path = RECIPES / recipe
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out)]
    for o in _tiny(path, _root(kind, tmp_path), pretrained):
        args += ["-o", o]
    assert main(args) == 0
    names = [s["name"] for s in load_recipe(path)["stages"]]
    assert [s["name"] for s in json.loads((out / "pipeline.json").read_text())["stages"]] == names
    trained = json.loads((out / names[0] / "metrics.json").read_text())
    assert trained["steps"] == 2
    found = list(_values(json.loads((out / names[-1] / "metrics.json").read_text()), metric))
    assert found and all(isinstance(v, float) and math.isfinite(v) for v in found), found


def _values(tree, key):
    """Every value of ``key`` in a nested dict (per-class AUROCs may be NaN by design; means may not)."""
    if isinstance(tree, dict):
        for k, v in tree.items():
            if k == key:
                yield v
            else:
                yield from _values(v, key)
