"""Lifecycle hooks (pluggy): loggers and callbacks subscribe without touching the loop.

Hook plugins are classes registered under ``cbf.hooks``; an instance is registered with the
run's plugin manager and implements any of the specs below with ``@hookimpl``.
"""
from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("cbf")
hookimpl = pluggy.HookimplMarker("cbf")


class HookSpecs:
    @hookspec
    def cbf_run_start(self, run: Any) -> None:
        """Before the first step; ``run`` has ``out_dir``, ``config`` (JSON) and ``start_step``."""

    @hookspec
    def cbf_step_end(self, run: Any, step: int, view: str, losses: dict[str, float], lr: float) -> None:
        """After an optimizer step; ``losses`` per objective plus ``total``."""

    @hookspec
    def cbf_eval_end(self, run: Any, step: int, metrics: dict[str, float]) -> None:
        """After a validation pass."""

    @hookspec
    def cbf_checkpoint_saved(self, run: Any, step: int, path: str) -> None:
        """After a checkpoint was written (atomically)."""

    @hookspec
    def cbf_run_end(self, run: Any, metrics: dict[str, Any]) -> None:
        """After training, with the final metrics."""


def plugin_manager(hooks: list[Any]) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("cbf")
    pm.add_hookspecs(HookSpecs)
    for hook in hooks:
        pm.register(hook)
    return pm
