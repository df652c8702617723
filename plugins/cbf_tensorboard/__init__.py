"""TensorBoard scalars for every step and evaluation, as a hook plugin."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cbf.training.hooks import hookimpl


class TensorBoardLogger:
    @dataclass
    class Config:
        subdir: str = "tensorboard"
        every: int = 1  # log every N optimizer steps

    def __init__(self, config: "TensorBoardLogger.Config | None" = None, *args: object, **kwargs: object) -> None:
        self.config = config or self.Config()
        self.writer = None

    @hookimpl
    def cbf_run_start(self, run: Any) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(Path(run.out_dir) / self.config.subdir))

    @hookimpl
    def cbf_step_end(self, run: Any, step: int, view: str, losses: dict[str, float], lr: float) -> None:
        if self.writer is None or step % self.config.every:
            return
        for name, value in losses.items():
            self.writer.add_scalar(f"train/{name}", value, step)
        self.writer.add_scalar("train/lr", lr, step)

    @hookimpl
    def cbf_eval_end(self, run: Any, step: int, metrics: dict[str, float]) -> None:
        if self.writer is None:
            return
        for name, value in metrics.items():
            if isinstance(value, (int, float)):
                self.writer.add_scalar(f"val/{name}", value, step)
        self.writer.flush()

    @hookimpl
    def cbf_run_end(self, run: Any, metrics: dict[str, Any]) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
