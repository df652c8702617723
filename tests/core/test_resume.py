"""Stop a run at step k and resume it: the losses of steps k+1..N equal an uninterrupted run's."""
from __future__ import annotations

import json

import pytest

from cbf.config.binding import bind_dataclass
from cbf.config.schema import RunConfig
from cbf.errors import CheckpointError
from cbf.pipeline import run_recipe
from cbf.testing import tiny_recipe
from cbf.training import build as build_mod
from cbf.training.checkpoint import load_checkpoint, save_checkpoint
from cbf.training.hooks import hookimpl


class StopAt:
    def __init__(self, step):
        self.step = step

    @hookimpl
    def cbf_step_end(self, run, step, view, losses, lr):
        if step == self.step:
            raise KeyboardInterrupt


def _recipe(steps):
    r = tiny_recipe({"mlm": "mlm"}, views={"s2s": 0.5, "bi": 0.5})
    r["model"]["encoder"]["hidden_dropout"] = 0.1  # dropout on: its RNG must resume too
    r["trainer"].update(max_steps=steps, batch_size=4, grad_accum=2, warmup_steps=2)
    r["data"]["augment"] = True
    return r


def test_resume_continues_the_same_losses(tmp_path, monkeypatch):
    straight = run_recipe(_recipe(6), out_dir=tmp_path / "a", log=lambda *_: None)
    hist_a = json.loads((tmp_path / "a" / "history.json").read_text())

    real_build = build_mod.build_run

    def build_with_stop(*args, **kwargs):
        run = real_build(*args, **kwargs)
        run.hooks.append(StopAt(3))
        return run

    monkeypatch.setattr("cbf.training.build.build_run", build_with_stop)
    with pytest.raises(KeyboardInterrupt):
        run_recipe(_recipe(6), out_dir=tmp_path / "b", log=lambda *_: None)
    assert load_checkpoint(tmp_path / "b")["step"] == 3
    monkeypatch.setattr("cbf.training.build.build_run", real_build)
    resumed = run_recipe(_recipe(6), out_dir=tmp_path / "b", resume=True, log=lambda *_: None)
    hist_b = json.loads((tmp_path / "b" / "history.json").read_text())
    assert [h["step"] for h in hist_b] == list(range(1, 7))
    assert [h["view"] for h in hist_a] == [h["view"] for h in hist_b]
    assert [h["total"] for h in hist_a] == [h["total"] for h in hist_b]  # bit-identical
    assert straight["val"] == resumed["val"]


def test_checkpoint_is_atomic_and_truncation_is_reported(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"step": 1, "x": [1, 2]})
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind
    data = path.read_bytes()
    (tmp_path / "t.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="t.pt: unreadable or truncated"):
        load_checkpoint(tmp_path / "t.pt")
    with pytest.raises(CheckpointError, match="no checkpoints/last.pt"):
        load_checkpoint(tmp_path)


def test_nan_loss_stops_with_step_and_objective(tmp_path):
    from cbf.errors import TrainingError

    r = _recipe(3)
    r["trainer"]["lr"] = 1e30  # the first update destroys the weights
    r["trainer"]["grad_clip"] = None
    with pytest.raises(TrainingError, match=r"step \d+: objective 'mlm' gave a non-finite loss"):
        run_recipe(r, out_dir=tmp_path / "nan", log=lambda *_: None)


def test_run_folder_contents(tmp_path):
    run_recipe(_recipe(2), out_dir=tmp_path / "r", log=lambda *_: None)
    out = tmp_path / "r"
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "vocab.txt", "annotators.json", "metrics.json", "history.json", "checkpoints"} <= names
    assert bind_dataclass(RunConfig, json.loads((out / "config.json").read_text()))  # resolved config re-binds
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["seed"] == 0 and len(metrics["config_hash"]) == 12 and "torch" in metrics["versions"]
