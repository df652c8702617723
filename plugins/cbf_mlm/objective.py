"""MLM: 15% of the non-MeSH text tokens are corrupted 80/10/10 and predicted through the
prediction head the core model shares with MMM. Under the s2s view a target sees only the
image and the text to its left (eq. 3); under bi it sees everything else (eq. 4)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from cbf.api import BuildContext, Objective
from cbf.masking import choose_positions, corrupt, masked_token_loss, ordinary_ids


class MaskedLanguageModeling(Objective):
    @dataclass
    class Config:
        weight: float = 1.0
        views: list[str] = field(default_factory=lambda: ["s2s", "bi"])
        mask_rate: float = 0.15
        mask_token_prob: float = 0.8
        random_token_prob: float = 0.1
        #: MeSH-tagged words are left to MMM (paper: "MeSH words are not concerned in this task")
        exclude_mesh: bool = True
        #: the report's closing [SEP] can be a target, so that generation learns to stop
        predict_end: bool = True

        def validate(self) -> None:
            if not 0 < self.mask_rate <= 1:
                raise ValueError("mask_rate must be in (0, 1]")
            if self.mask_token_prob + self.random_token_prob > 1:
                raise ValueError("mask_token_prob + random_token_prob must be <= 1")

    labels_key = "mlm_labels"

    def __init__(self, config: "MaskedLanguageModeling.Config", ctx: BuildContext) -> None:
        super().__init__(config)
        tok = ctx.tokenizer
        self.mask_id, self.sep_id = tok.mask_id, tok.sep_id
        self.register_buffer("pool", torch.tensor(ordinary_ids(tok), dtype=torch.long), persistent=False)
        # shared with MMM, so kept out of this module's parameters (a plain dict is not registered)
        self._shared = {"head": ctx.model.prediction_head}

    def prepare(self, batch: dict[str, Any], view: str, generator: torch.Generator) -> None:
        text = batch["text_ids"]
        # never in place: batch["text_mask"] is the attention mask the encoder reads next
        candidates = batch["text_mask"].bool() & (batch["input_ids"] == text)  # skip positions others own
        if not self.config.predict_end:
            candidates = candidates & (text != self.sep_id)
        if self.config.exclude_mesh and "mesh_tags" in batch:
            candidates = candidates & (batch["mesh_tags"] == 0)
        targets = choose_positions(candidates, self.config.mask_rate, generator)
        batch["input_ids"], labels = corrupt(batch["input_ids"], targets, self.mask_id, self.pool, generator,
                                             self.config.mask_token_prob, self.config.random_token_prob)
        batch[self.labels_key] = labels

    def forward(self, out: Any, batch: dict[str, Any], view: str) -> torch.Tensor | None:
        return masked_token_loss(self._shared["head"], out.text, batch[self.labels_key])
