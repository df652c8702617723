"""The typed shape of a training recipe. Recipes are bound to :class:`RunConfig` before
anything is built, so every typo and wrong type is reported with its JSON path up front."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cbf.config.binding import Component, plugin


@dataclass
class EncoderSettings:
    #: a local Hugging Face BERT checkpoint (folder with config.json + weights); its sizes win
    pretrained: str | None = None
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1


@dataclass
class ModelSettings:
    backbone: Component = plugin("backbones")
    encoder: EncoderSettings = field(default_factory=EncoderSettings)
    image_size: int = 224
    max_views: int = 2

    def validate(self) -> None:
        if self.image_size < 32:
            raise ValueError("image_size must be >= 32")
        if self.max_views < 1:
            raise ValueError("max_views must be >= 1")


@dataclass
class DataSettings:
    dataset: Component = plugin("datasets")
    tokenizer: Component = plugin("annotators")
    #: further annotators, applied in order after the tokenizer (MeSH tagger, labeler, …)
    annotators: list[Component] = plugin("annotators", default_factory=list)
    num_workers: int = 0
    augment: bool = True
    #: "error" stops at the first unreadable image; "skip" drops it, counts and reports it
    on_bad_image: Literal["error", "skip"] = "error"


@dataclass
class TrainerSettings:
    max_steps: int = 1000
    #: when set, overrides max_steps: epochs × training studies / (batch_size × grad_accum)
    epochs: float | None = None
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-4
    lr_visual: float = 5e-5
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0
    schedule: Literal["constant", "linear", "cosine"] = "linear"
    grad_clip: float | None = 1.0
    precision: Literal["fp32", "bf16"] = "fp32"
    device: str = "auto"
    log_every: int = 10
    eval_every: int = 0  # 0: only at the end
    eval_batches: int = 8
    checkpoint_every: int = 0  # 0: only at the end
    keep_checkpoints: int = 2
    threads: int | None = None  # torch intra-op threads; None: torch's default

    def validate(self) -> None:
        if self.max_steps < 1 or self.batch_size < 1 or self.grad_accum < 1:
            raise ValueError("max_steps, batch_size and grad_accum must be >= 1")
        if self.lr <= 0 or self.lr_visual < 0:
            raise ValueError("lr must be > 0 and lr_visual >= 0")


@dataclass
class RunConfig:
    name: str
    data: DataSettings
    model: ModelSettings
    objectives: dict[str, Component] = plugin("objectives", default_factory=dict)
    #: a downstream head (``rrg``, ``rd``): trained with the objectives, used by generate/diagnose
    head: Component | None = plugin("heads", default=None)
    #: which attention view each step uses, with the recipe's ratios (paper: s2s 0.5 : bi 0.25 : MMM 0.25)
    views: Component = plugin("samplers", default_factory=lambda: {"type": "weighted_views"})
    trainer: TrainerSettings = field(default_factory=TrainerSettings)
    hooks: list[Component] = plugin("hooks", default_factory=list)
    seed: int = 0
    out_dir: str | None = None  # default: runs/<name>
    #: start from another run's weights (fine-tuning): a run folder or checkpoint file
    init_from: str | None = None
    #: with init_from: "checkpoint" keeps the earlier run's vocabulary; "fit" builds this
    #: dataset's own (the paper: 764 words for IU, 333 for COV-CTR) and carries over the
    #: embedding and output rows of the words both vocabularies share
    vocabulary: Literal["checkpoint", "fit"] = "checkpoint"
    description: str = ""
    notes: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if not self.objectives and self.head is None:
            raise ValueError("a recipe needs at least one objective or a head")
        if self.head is not None and self.head.type in self.objectives:
            raise ValueError(f"the head's name {self.head.type!r} is also an objective's name")
