"""The paper's four pre-training objectives together (eq. 8) on the toy dataset: a short
run trains on every view, each objective only on its own views, with finite, falling losses."""
from __future__ import annotations

import math

from cbf.testing import build_tiny_run, tiny_recipe
from cbf.training.trainer import Trainer

OBJECTIVES = {"mlm": {"type": "mlm"}, "cd": {"type": "cd"}, "mmm": {"type": "mmm"}, "imm": {"type": "imm"}}
EXPECTED_VIEWS = {"mlm": {"s2s", "bi"}, "cd": {"bi"}, "mmm": {"mmm"}, "imm": {"s2s", "bi"}}


def test_mlm_cd_mmm_imm_train_together(tmp_path):
    recipe = tiny_recipe(OBJECTIVES, views={"s2s": 0.5, "bi": 0.25, "mmm": 0.25},
                         trainer={"max_steps": 12, "batch_size": 4, "lr": 1e-3, "eval_batches": 1,
                                  "log_every": 100, "checkpoint_every": 0})
    run = build_tiny_run(recipe, tmp_path)
    assert run.mesh_token_ids, "the toy MeSH tagger should give MMM a pool"
    trainer = Trainer(run, log=lambda *_: None)
    metrics = trainer.fit()
    history = trainer.history
    assert {h["view"] for h in history} == {"s2s", "bi", "mmm"}
    seen: dict[str, list[float]] = {name: [] for name in OBJECTIVES}
    for h in history:
        for name in OBJECTIVES:
            if h["view"] in EXPECTED_VIEWS[name]:
                assert name in h, f"{name} gave no loss on a {h['view']} step"
                assert math.isfinite(h[name])
                seen[name].append(h[name])
            else:
                assert name not in h, f"{name} ran on a {h['view']} step"
    for name in ("cd", "mmm", "imm"):  # MLM's 15% targets are too noisy for 12 steps
        values = seen[name]
        assert len(values) >= 2 and values[-1] < values[0], f"{name}: {values}"
    assert all(math.isfinite(v) for v in metrics["val"].values())
    assert {"cd@bi", "imm@s2s", "imm@bi", "mmm@mmm"} <= set(metrics["val"]), metrics["val"]
