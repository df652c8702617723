"""The demo recipe end to end at tiny scale: every stage runs and writes what it promises."""
from __future__ import annotations

import json
from pathlib import Path

from cbf.cli import main
from cbf.config.recipe import load_recipe

DEMO = Path(__file__).resolve().parents[2] / "recipes" / "demo.jsonnet"


def tiny_overrides(data: dict) -> list[str]:
    out = []
    for i, stage in enumerate(data["stages"]):
        p = f"stages.{i}"
        if stage["stage"] == "train":
            out += [f"{p}.run.data.dataset.max_studies=60", f"{p}.run.data.dataset.image_size=64",
                    f"{p}.run.model.image_size=64",
                    f'{p}.run.model.backbone={{"type": "small_cnn", "channels": [8, 8, 16, 16, 32]}}',
                    f'{p}.run.model.encoder={{"hidden_size": 32, "num_layers": 1, "num_heads": 2, '
                    f'"intermediate_size": 64}}',
                    f"{p}.run.trainer.max_steps=3", f"{p}.run.trainer.batch_size=8", f"{p}.run.trainer.warmup_steps=0"]
        elif stage["stage"] == "generate":
            out += [f"{p}.max_studies=6", f"{p}.beam_size=2", f"{p}.max_length=8"]
        elif stage["stage"] == "evaluate_reports":
            out += [f'{p}.metrics=[{{"type": "nlg", "meteor": false}}, {{"type": "clinical_efficacy"}}]']
        elif stage["stage"] == "evaluate_diagnosis":
            out += [f"{p}.max_studies=12"]
    return out


def test_demo_pipeline_tiny(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CBF_CACHE", str(tmp_path / "cache"))
    overrides = tiny_overrides(load_recipe(DEMO))
    args = ["run", str(DEMO), "--out", str(tmp_path / "demo")]
    for o in overrides:
        args += ["-o", o]
    assert main(args) == 0
    out = tmp_path / "demo"
    summary = json.loads((out / "metrics.json").read_text())
    assert list(summary["stages"]) == ["pretrain", "rrg", "generate", "evaluate", "rd", "diagnosis"]
    preds = [json.loads(line) for line in (out / "generate" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 6 and all({"id", "prediction", "reference"} <= p.keys() for p in preds)
    report = json.loads((out / "evaluate" / "metrics.json").read_text())
    assert set(report) == {"model", "most_frequent_train_report", "random_train_report"}
    assert {"BLEU_4", "ROUGE_L", "CIDEr", "CE_micro_f1", "labeler"} <= report["model"].keys()
    assert "<svg" in (out / "evaluate" / "report.html").read_text()
    diag = json.loads((out / "diagnosis" / "metrics.json").read_text())
    assert "AUROC_mean" in diag["model"] and "random_train_study_labels" in diag
    # the RRG stage started from the pre-trained weights
    assert "synthetic" in capsys.readouterr().err.lower()
