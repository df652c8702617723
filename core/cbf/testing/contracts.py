"""Contract tests for plugin authors: a new objective proves in three lines that its loss is
finite, differentiable, and that the gradient reaches the encoder (and the backbone, when it
reads the image)::

    from cbf.testing import check_objective

    def test_my_objective():
        check_objective("my_objective", {"weight": 1.0})

The objective is loaded through the registry by name, exactly as a recipe would load it, and
run on a tiny model over the toy dataset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from cbf.api import VIEW_ATTENTION
from cbf.config.binding import bind_dataclass
from cbf.config.schema import RunConfig


def tiny_recipe(objectives: dict[str, Any], views: dict[str, float] | None = None,
                **overrides: Any) -> dict[str, Any]:
    """A complete recipe dict for a seconds-long run on the toy dataset."""
    recipe: dict[str, Any] = {
        "name": "contract",
        "seed": 0,
        "data": {"dataset": {"type": "toy", "num_studies": 24},
                 "tokenizer": {"type": "word_tokenizer", "min_count": 1, "max_length": 20},
                 "annotators": [{"type": "toy_mesh"}]},
        "model": {"backbone": {"type": "toy_cnn", "channels": 16}, "image_size": 32,
                  "encoder": {"hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64,
                              "hidden_dropout": 0.0, "attention_dropout": 0.0}},
        "objectives": objectives,
        "views": {"type": "weighted_views", "ratios": views or {"s2s": 0.5, "bi": 0.25, "mmm": 0.25}},
        "trainer": {"max_steps": 4, "batch_size": 4, "lr": 1e-3, "eval_batches": 1},
    }
    for key, value in overrides.items():
        recipe[key] = value
    return recipe


def build_tiny_run(recipe: dict[str, Any], out_dir: Any = None) -> Any:
    from cbf.training.build import build_run

    config = bind_dataclass(RunConfig, recipe)
    return build_run(config, out_dir or "/tmp/cbf-contract", log=lambda *_: None)


def first_batch(run: Any, split: str = "train", size: int = 4) -> dict[str, Any]:
    from cbf.data.pipeline import collate

    ds = run.torch_dataset(split, train=False)
    return collate([ds[i] for i in range(min(size, len(ds)))], run.tokenizer.pad_id, run.tokenizer.sep_id,
                   run.config.model.max_views)


@dataclass
class ContractResult:
    losses: dict[str, float]  # view -> loss
    encoder_grad: dict[str, float]  # view -> gradient norm over encoder parameters
    backbone_grad: dict[str, float]


def check_objective(name: str, options: dict[str, Any] | None = None, *, views: list[str] | None = None,
                    needs_image: bool = True, kind: str = "objectives") -> ContractResult:
    """Assert the objective's (or, with ``kind="heads"``, the head's) training contract on every
    view it subscribes to; return what was measured."""
    spec = {"type": name, **(options or {})}
    if kind == "heads":
        recipe = tiny_recipe({}, head=spec)
        run = build_tiny_run(recipe)
        objective = run.objectives[name]
    else:
        recipe = tiny_recipe({"under_test": spec})
        run = build_tiny_run(recipe)
        objective = run.objectives["under_test"]
    assert objective.views, f"objective {name!r} subscribes to no view"
    result = ContractResult({}, {}, {})
    for view in views or sorted(objective.views):
        assert view in VIEW_ATTENTION, f"objective {name!r} subscribes to unknown view {view!r}"
        run.model.zero_grad(set_to_none=True)
        objective.zero_grad(set_to_none=True)
        batch = first_batch(run)
        objective.prepare(batch, view, torch.Generator().manual_seed(0))
        out = run.model(batch, VIEW_ATTENTION[view], use_text=getattr(objective, "uses_text", True))
        loss = objective(out, batch, view)
        assert loss is not None, f"{name!r} returned no loss on view {view!r} for a toy batch"
        assert loss.dim() == 0, f"{name!r} must return a scalar loss, got shape {tuple(loss.shape)}"
        assert torch.isfinite(loss), f"{name!r} gave a non-finite loss on view {view!r}: {loss.item()}"
        loss.backward()
        enc = _grad_norm(run.model.encoder.parameters())
        bb = _grad_norm(run.model.backbone.parameters())
        assert enc > 0, f"{name!r}: no gradient reaches the encoder on view {view!r}"
        if needs_image:
            assert bb > 0, f"{name!r}: no gradient reaches the visual backbone on view {view!r}"
        grads = [p.grad for p in [*run.model.parameters(), *objective.parameters()] if p.grad is not None]
        assert all(torch.isfinite(g).all() for g in grads), f"{name!r}: non-finite gradients on view {view!r}"
        result.losses[view], result.encoder_grad[view], result.backbone_grad[view] = loss.item(), enc, bb
    return result


def _grad_norm(params: Any) -> float:
    total = 0.0
    for p in params:
        if p.grad is not None:
            total += float(p.grad.detach().float().norm() ** 2)
    return total**0.5
