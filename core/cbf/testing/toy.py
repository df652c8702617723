"""Tiny synthetic components for fast tests and for plugin authors' contract tests.

They are registered like any plugin (``toy`` dataset, ``toy_cnn`` backbone, ``toy_mesh``
annotator) so that a whole recipe can run in seconds. The toy images are synthetic: a bright
disc whose size follows the report's heart finding and a bright band at the base for
effusion, so that a working model has something real to learn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from cbf.api import Annotator, Backbone, StudyDataset

_HEART = {0: "the heart is normal in size", 1: "the heart is enlarged"}
_EFFUSION = {0: "no pleural effusion", 1: "small left pleural effusion"}
_LUNGS = ("the lungs are clear", "lungs are well expanded", "no focal consolidation")
_MESH_WORDS = frozenset({"heart", "enlarged", "pleural", "effusion", "lungs", "consolidation"})


class ToyDataset(StudyDataset):
    """``num_studies`` synthetic studies (two views each) with templated reports."""

    @dataclass
    class Config:
        num_studies: int = 48
        image_size: int = 32
        seed: int = 0

    def __init__(self, config: "ToyDataset.Config | None" = None, *args: object, **kwargs: object) -> None:
        self.config = config or self.Config()
        rng = np.random.default_rng(self.config.seed)
        n = self.config.num_studies
        self.findings = rng.integers(0, 2, size=(n, 2))
        self._records = []
        for i in range(n):
            heart, eff = (int(x) for x in self.findings[i])
            lung = _LUNGS[int(rng.integers(len(_LUNGS)))]
            report = f"{_HEART[heart].capitalize()}. {_EFFUSION[eff].capitalize()}. {lung.capitalize()}."
            split = "train" if i < int(n * 0.7) else ("val" if i < int(n * 0.85) else "test")
            chexpert = [float("nan")] * 14
            chexpert[2] = 1.0 if heart else 0.0  # Cardiomegaly
            chexpert[10] = 1.0 if eff else 0.0  # Pleural Effusion
            self._records.append({"id": f"toy{i:04d}", "split": split, "report": report, "image_paths": [],
                                  "chexpert": chexpert, "labels": [float(heart), float(eff)]})

    has_chexpert: ClassVar[bool] = True

    def records(self, split: str) -> list[dict]:
        return [dict(r) for r in self._records if r["split"] == split]

    def load_images(self, record: dict) -> list[np.ndarray]:
        i = int(record["id"][3:])
        heart, eff = (int(x) for x in self.findings[i])
        s = self.config.image_size
        yy, xx = np.mgrid[0:s, 0:s] / s
        img = 40 + 20 * np.sin(xx * 7 + i)  # varied background
        radius = 0.22 if heart else 0.12
        img = np.where((xx - 0.5) ** 2 + (yy - 0.45) ** 2 < radius**2, 220, img)
        if eff:
            img = np.where((yy > 0.8) & (xx < 0.45), 200, img)
        frontal = img.astype(np.uint8)
        return [frontal, np.ascontiguousarray(frontal[:, ::-1])]

    def describe(self) -> str:
        return f"toy: {len(self._records)} synthetic studies (synthetic images)"


class ToyBackbone(Backbone):
    """Two strided convolutions: (N, 3, H, W) → (N, channels, H/8, W/8)."""

    @dataclass
    class Config:
        channels: int = 32
        freeze: bool = False

    def __init__(self, config: "ToyBackbone.Config | None" = None, *args: object, **kwargs: object) -> None:
        super().__init__()
        self.config = config or self.Config()
        c = self.config.channels
        self.out_channels = c
        self.net = nn.Sequential(nn.Conv2d(3, c // 2, 3, stride=2, padding=1), nn.ReLU(),
                                 nn.Conv2d(c // 2, c, 3, stride=2, padding=1), nn.ReLU(),
                                 nn.Conv2d(c, c, 3, stride=2, padding=1), nn.ReLU())
        if self.config.freeze:
            self.freeze()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(images)


class ToyMeshTagger(Annotator):
    """Tags a fixed handful of words: enough for MMM/IMM contract tests without the real tagger."""

    provides = ("mesh_tags",)
    requires = ("tokens",)

    @dataclass
    class Config:
        pass

    def __init__(self, config: "ToyMeshTagger.Config | None" = None, *args: object, **kwargs: object) -> None:
        self.config = config or self.Config()

    def annotate(self, record: dict) -> dict:
        record["mesh_tags"] = [1 if t in _MESH_WORDS else 0 for t in record["tokens"]]
        return record
