"""The training loop: one view per step, active objectives corrupt the batch, one encoder
pass, the weighted sum of their losses (paper eq. 8), AdamW with a separate visual lr.

Every random draw of step ``s`` (view, masking, dropout, batch order, augmentation) is seeded
from (seed, s), so a run resumed from a checkpoint continues exactly as if never stopped.
"""
from __future__ import annotations

import contextlib
import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from cbf.api import VIEW_ATTENTION
from cbf.data.pipeline import StepBatchSampler, collate, eval_batches
from cbf.errors import TrainingError
from cbf.training.build import Run
from cbf.training.checkpoint import save_checkpoint
from cbf.training.hooks import plugin_manager


def step_seed(seed: int, step: int, micro: int = 0) -> int:
    return (seed * 1_000_003 + step * 1009 + micro * 7 + 1) % (2**62)


def _to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def build_optimizer(run: Run) -> torch.optim.Optimizer:
    """AdamW; the visual backbone gets ``lr_visual``; no weight decay on biases and norms."""
    cfg = run.config.trainer
    backbone_ids = {id(p) for p in run.model.backbone.parameters()}
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    seen: set[int] = set()
    modules = [("model", run.model)] + [(n, o) for n, o in run.objectives.items()]
    for _, module in modules:
        for name, p in module.named_parameters():
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            no_decay = p.ndim < 2 or "norm" in name.lower() or "LayerNorm" in name
            groups.setdefault((id(p) in backbone_ids, no_decay), []).append(p)
    param_groups = [{"params": ps, "lr": cfg.lr_visual if visual else cfg.lr,
                     "weight_decay": 0.0 if no_decay else cfg.weight_decay, "visual": visual}
                    for (visual, no_decay), ps in groups.items()]
    return torch.optim.AdamW(param_groups, betas=tuple(cfg.betas))


def build_scheduler(run: Run, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
    cfg = run.config.trainer

    def factor(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
        if cfg.schedule == "linear":
            return max(0.0, 1.0 - progress)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class Trainer:
    def __init__(self, run: Run, start_state: dict[str, Any] | None = None, log: Any = print) -> None:
        self.run = run
        self.cfg = run.config.trainer
        self.log = log
        self.optimizer = build_optimizer(run)
        self.scheduler = build_scheduler(run, self.optimizer)
        self.start_step = 0
        self.history: list[dict[str, Any]] = []
        if start_state is not None:
            self._restore(start_state)
        self.pm = plugin_manager(run.hooks)
        tok = run.tokenizer
        self._collate_args = (tok.pad_id, tok.sep_id, run.config.model.max_views)
        self.autocast = (torch.autocast(device_type=run.device.type, dtype=torch.bfloat16)
                         if self.cfg.precision == "bf16" else contextlib.nullcontext())

    # -- state ---------------------------------------------------------------------------
    def state_dict(self, step: int) -> dict[str, Any]:
        return {"step": step, "model": self.run.model.state_dict(),
                "objectives": {n: o.state_dict() for n, o in self.run.objectives.items()},
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "annotators": self.run.annotator_states(), "config": json.dumps(self.run.config_json),
                "config_hash": self.run.config_hash, "history": json.dumps(self.history)}

    def _restore(self, state: dict[str, Any]) -> None:
        self.run.model.load_state_dict(state["model"])
        for name, obj in self.run.objectives.items():
            obj.load_state_dict(state["objectives"][name])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.start_step = int(state["step"])
        self.history = json.loads(state.get("history", "[]"))

    def save(self, step: int) -> Path:
        ckpt_dir = self.run.out_dir / "checkpoints"
        state = self.state_dict(step)
        path = save_checkpoint(ckpt_dir / f"step_{step:07d}.pt", state)
        save_checkpoint(ckpt_dir / "last.pt", state)
        kept = sorted(ckpt_dir.glob("step_*.pt"))
        for old in kept[: max(0, len(kept) - self.cfg.keep_checkpoints)]:
            old.unlink(missing_ok=True)
        self.pm.hook.cbf_checkpoint_saved(run=self.run, step=step, path=str(path))
        return path

    # -- one step ------------------------------------------------------------------------
    def _losses(self, batch: dict[str, Any], view: str, generator: torch.Generator) -> dict[str, torch.Tensor]:
        active = {n: o for n, o in self.run.objectives.items() if view in o.views}
        for obj in active.values():
            obj.prepare(batch, view, generator)
        batch = _to_device(batch, self.run.device)
        use_text = any(getattr(o, "uses_text", True) for o in active.values())
        with self.autocast:
            out = self.run.model(batch, VIEW_ATTENTION[view], use_text=use_text)
            losses = {n: o(out, batch, view) for n, o in active.items()}
        return {n: l for n, l in losses.items() if l is not None}

    def _step(self, step: int, batches: list[dict[str, Any]]) -> tuple[str, dict[str, float]]:
        view = self.run.sampler.sample(step, self.run.config.seed)
        self.run.model.train()
        for o in self.run.objectives.values():
            o.train()
        totals: dict[str, float] = {}
        for micro, batch in enumerate(batches):
            torch.manual_seed(step_seed(self.run.config.seed, step, micro))  # dropout
            g = torch.Generator().manual_seed(step_seed(self.run.config.seed, step, micro) + 12345)
            losses = self._losses(batch, view, g)
            if not losses:
                continue
            for name, value in losses.items():
                if not torch.isfinite(value):
                    raise TrainingError(f"step {step}: objective {name!r} gave a non-finite loss ({value.item()}) "
                                        f"on view {view!r}; lower trainer.lr, check the data, or use fp32")
            weights = {n: self.run.objectives[n].weight for n in losses}
            total = sum(weights[n] * l for n, l in losses.items()) / len(batches)
            total.backward()
            for n, l in losses.items():
                totals[n] = totals.get(n, 0.0) + l.item() / len(batches)
        if totals:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            if self.cfg.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        totals["total"] = sum(self.run.objectives[n].weight * v for n, v in totals.items())
        return view, totals

    # -- evaluation ----------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str = "val") -> dict[str, float]:
        records = self.run.records.get(split) or []
        if not records:
            return {}
        self.run.model.eval()
        for o in self.run.objectives.values():
            o.eval()
        ds = self.run.torch_dataset(split, train=False)
        views = list(getattr(self.run.sampler, "views", ["s2s"]))
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for i, idx in enumerate(eval_batches(len(ds), self.cfg.batch_size, self.cfg.eval_batches)):
            batch = collate([ds[j] for j in idx], *self._collate_args)
            if not batch["ids"]:
                continue
            for view in views:
                g = torch.Generator().manual_seed(step_seed(self.run.config.seed, 10**6 + i, len(view)))
                losses = self._losses(dict(batch, input_ids=batch["input_ids"].clone()), view, g)
                for n, l in losses.items():
                    key = f"{n}@{view}"
                    sums[key] = sums.get(key, 0.0) + float(l)
                    counts[key] = counts.get(key, 0) + 1
        metrics = {k: sums[k] / counts[k] for k in sums}
        if metrics:
            metrics["loss"] = sum(metrics.values()) / len(metrics)
        return metrics

    # -- the loop ------------------------------------------------------------------------
    def fit(self) -> dict[str, Any]:
        cfg, run = self.cfg, self.run
        run.out_dir.mkdir(parents=True, exist_ok=True)
        train_ds = run.torch_dataset("train", train=True)
        sampler = StepBatchSampler(len(train_ds), cfg.batch_size, run.config.seed, cfg.max_steps * cfg.grad_accum,
                                   start_step=self.start_step * cfg.grad_accum)
        loader = torch.utils.data.DataLoader(
            train_ds, batch_sampler=sampler, num_workers=run.config.data.num_workers,
            collate_fn=lambda s: collate(s, *self._collate_args),
            persistent_workers=False, prefetch_factor=4 if run.config.data.num_workers else None)
        it = iter(loader)
        self.pm.hook.cbf_run_start(run=run)
        started = time.time()
        bad_images: list[str] = []
        bar = tqdm(range(self.start_step, cfg.max_steps), initial=self.start_step, total=cfg.max_steps,
                   desc=f"{run.config.name}", unit="step", dynamic_ncols=True)
        val_metrics: dict[str, float] = {}
        completed = self.start_step
        try:
            for step in bar:
                batches = [next(it) for _ in range(cfg.grad_accum)]
                for b in batches:
                    bad_images.extend(b.pop("bad_images", []))
                view, losses = self._step(step, batches)
                completed = step + 1
                lr = self.optimizer.param_groups[0]["lr"]
                self.history.append({"step": completed, "view": view, **{k: v for k, v in losses.items()}})
                if completed % max(1, cfg.log_every) == 0 or step == self.start_step:
                    bar.set_postfix(view=view, loss=f"{losses['total']:.3f}")
                self.pm.hook.cbf_step_end(run=run, step=completed, view=view, losses=losses, lr=lr)
                done = completed == cfg.max_steps
                if (cfg.eval_every and completed % cfg.eval_every == 0) or done:
                    val_metrics = self.evaluate("val")
                    self.pm.hook.cbf_eval_end(run=run, step=completed, metrics=val_metrics)
                if (cfg.checkpoint_every and completed % cfg.checkpoint_every == 0) or done:
                    self.save(completed)
        except KeyboardInterrupt:
            # stop at will: keep every finished step, so that --resume continues exactly here
            bar.close()
            if completed > self.start_step:
                path = self.save(completed)
                self.log(f"interrupted after step {completed}; saved {path}; continue with --resume")
            raise
        bar.close()
        metrics = self._final_metrics(val_metrics, time.time() - started, bad_images)
        self.pm.hook.cbf_run_end(run=run, metrics=metrics)
        return metrics

    def _final_metrics(self, val: dict[str, float], seconds: float, bad_images: list[str]) -> dict[str, Any]:
        run = self.run
        window = max(1, min(50, len(self.history) // 5))
        first = self.history[:window]
        last = self.history[-window:]

        def mean(rows: list[dict[str, Any]]) -> float:
            return sum(r["total"] for r in rows) / max(1, len(rows))

        metrics = {
            "name": run.config.name, "config_hash": run.config_hash, "seed": run.config.seed,
            "steps": run.config.trainer.max_steps, "seconds_this_session": round(seconds, 1),
            "train_loss_first": mean(first), "train_loss_last": mean(last), "loss_window_steps": window,
            "val": val, "dataset": run.dataset.describe(), "vocab_size": len(run.tokenizer.vocab),
            "bad_images": {"count": len(bad_images), "examples": bad_images[:20]},
            "versions": {"cbf": __import__("cbf").__version__, "torch": torch.__version__,
                         "python": platform.python_version()},
        }
        labeler = next((a for a in run.annotators if "chexpert" in getattr(a, "provides", ())), None)
        if labeler is not None:
            metrics["labeler"] = getattr(labeler, "name", type(labeler).__name__)
        (run.out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (run.out_dir / "history.json").write_text(json.dumps(self.history))
        return metrics
