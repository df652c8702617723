"""What ``cbf run`` and ``cbf validate`` do with an evaluated recipe: a single training run,
or a multi-stage pipeline (a recipe with ``stages``, see :mod:`cbf.stages`)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from cbf.config.binding import bind_dataclass, to_json
from cbf.config.schema import RunConfig

Log = Callable[[str], None]


def validate_recipe(data: dict[str, Any]) -> dict[str, Any]:
    """Bind the whole recipe (loading each named plugin) and return it fully resolved."""
    if "stages" in data:
        from cbf.stages import bind_pipeline

        config, stages = bind_pipeline(data)
        return {**to_json(config), "stages": [to_json(s) for s in stages]}
    return to_json(bind_dataclass(RunConfig, data))


def run_recipe(data: dict[str, Any], out_dir: str | Path | None = None, resume: bool = False,
               log: Log = print) -> dict[str, Any]:
    if data.get("description"):
        log(str(data["description"]))
    if "stages" in data:
        from cbf.stages import run_pipeline

        return run_pipeline(data, out_dir, resume, log)
    config = bind_dataclass(RunConfig, data)
    return train_run(config, Path(out_dir or config.out_dir or Path("runs") / config.name), resume, log)


def train_run(config: RunConfig, out: Path, resume: bool = False, log: Log = print) -> dict[str, Any]:
    from cbf.training.build import build_run
    from cbf.training.checkpoint import load_checkpoint
    from cbf.training.trainer import Trainer

    state = None
    if resume:
        if (out / "checkpoints" / "last.pt").is_file():
            state = load_checkpoint(out)
            log(f"resuming {out} from step {state['step']}")
        else:
            log(f"--resume: {out} has no checkpoint yet, starting fresh")
    run = build_run(config, out, resume_state=state, log=log)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(run.config_json, indent=2))
    (out / "vocab.txt").write_text("\n".join(run.tokenizer.vocab) + "\n")
    (out / "annotators.json").write_text(json.dumps(run.annotator_states()))
    trainer = Trainer(run, start_state=state, log=log)
    if trainer.start_step >= config.trainer.max_steps:
        log(f"{out}: already trained for {trainer.start_step} steps")
        return json.loads((out / "metrics.json").read_text())
    metrics = trainer.fit()
    log(f"run folder: {out}")
    return metrics
