"""The contracts every plugin kind implements. Plugins import from here, never from each other.

Each plugin is a class with a nested ``Config`` dataclass; the recipe's options are bound to
that dataclass (unknown keys rejected) and the class is constructed as ``cls(config, ...)``.
The core's own built-ins follow the same rules and register through the same entry points.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterable, Sequence

import torch
from torch import nn

if TYPE_CHECKING:  # pragma: no cover
    from cbf.model.clinical_bert import ClinicalBert, EncoderOutput

#: The attention pattern behind each view name the trainer can sample. ``image`` is the bi
#: attention for image-only objectives (diagnosis heads) on steps of their own, so that they
#: never share a forward pass with objectives that put the report in the sequence. ``dual``
#: encodes image and report in one pass without attention between them (not in the paper;
#: for in-batch image–report contrast, where neither side may have seen the other).
VIEW_ATTENTION: dict[str, str] = {"s2s": "s2s", "bi": "bi", "mmm": "s2s", "image": "bi", "dual": "dual"}


def check_objective_options(views: Sequence[str], weight: float) -> None:
    """ValueError unless ``views`` names at least one known view and ``weight`` >= 0: the
    checks every objective's and head's ``Config.validate`` starts with."""
    if not views:
        raise ValueError("views must name at least one view")
    unknown = sorted(set(views) - set(VIEW_ATTENTION))
    if unknown:
        raise ValueError(f"unknown view(s) {unknown}; known views: {sorted(VIEW_ATTENTION)}")
    if weight < 0:
        raise ValueError("weight must be >= 0")


class Annotator:
    """Adds named fields to text-level records (see :mod:`cbf.fields`).

    ``fit`` sees the training records once (a tokenizer builds its vocabulary there);
    ``state_dict`` must be JSON-serialisable: it is saved with the run so that a checkpoint
    can be used without the training data.
    """

    provides: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[tuple[str, ...]] = ()

    def fit(self, records: Iterable[dict]) -> None:  # noqa: B027 - optional
        pass

    def annotate(self, record: dict) -> dict:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional
        pass


class Tokenizer(Annotator):
    """An annotator that owns the vocabulary; provides ``tokens`` and ``token_ids``."""

    provides = ("tokens", "token_ids")
    requires = ("report",)
    vocab: list[str]

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def token_id(self, token: str) -> int:
        raise NotImplementedError

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    @property
    def pad_id(self) -> int:
        return self.token_id("[PAD]")

    @property
    def unk_id(self) -> int:
        return self.token_id("[UNK]")

    @property
    def cls_id(self) -> int:
        return self.token_id("[CLS]")

    @property
    def sep_id(self) -> int:
        return self.token_id("[SEP]")

    @property
    def mask_id(self) -> int:
        return self.token_id("[MASK]")

    @property
    def special_ids(self) -> set[int]:
        return {self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id}


class Labeler(Annotator):
    """An annotator that derives the 14 CheXpert observations from report text.

    Values follow CheXpert: 1 positive, 0 negative, -1 uncertain, ``nan`` not mentioned.
    """

    provides = ("chexpert",)
    requires = ("report",)
    name: ClassVar[str] = "labeler"

    def label(self, report: str) -> list[float]:
        raise NotImplementedError

    def label_batch(self, reports: Sequence[str]) -> list[list[float]]:
        return [self.label(r) for r in reports]


class StudyDataset:
    """A source of studies. ``records`` are cheap text-level dicts (no pixels); the core
    annotates them once, then calls ``load_images`` per item inside the data loader."""

    #: Whether records carry CheXpert labels from the source (else a labeler provides them).
    has_chexpert: ClassVar[bool] = False

    def records(self, split: str) -> list[dict]:
        raise NotImplementedError

    def load_images(self, record: dict) -> list[Any]:
        """The study's views as PIL images or uint8 arrays (H, W) / (H, W, 3)."""
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__


class Backbone(nn.Module):
    """Images (N, 3, H, W) → grid features (N, C, h, w); ``out_channels`` is C."""

    out_channels: int

    def freeze(self) -> None:
        for p in self.parameters():
            p.requires_grad_(False)
        self.eval()


@dataclass
class BuildContext:
    """What the core hands to objectives and heads when it builds them."""

    model: "ClinicalBert"
    tokenizer: Tokenizer
    #: ids of vocabulary entries that the MeSH tagger marked in the training set (MMM draws
    #: its random replacements from these); empty when no tagger ran.
    mesh_token_ids: list[int] = field(default_factory=list)
    views: tuple[str, ...] = ("s2s", "bi")
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def hidden_size(self) -> int:
        return self.model.hidden_size

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer.vocab)


class Objective(nn.Module):
    """A training loss. ``views`` names the sampled views it runs on (``s2s``, ``bi``,
    ``mmm``…). On each step the trainer calls ``prepare`` for every active objective (they
    may corrupt ``batch["input_ids"]`` and stash their targets in the batch), runs the
    encoder once, then sums ``weight * forward(...)`` over objectives that return a loss.
    """

    views: frozenset[str] = frozenset()
    weight: float = 1.0
    #: False for objectives that read the image alone (radiograph diagnosis): when every
    #: active objective says so, the encoder runs on ``[CLS] f… [SEP]`` only.
    uses_text: bool = True

    def __init__(self, config: Any = None) -> None:
        """``config``, when given, is the plugin's bound ``Config``: it is kept as ``self.config``
        and its ``weight`` and ``views`` become the objective's."""
        super().__init__()
        if config is not None:
            self.config = config
            self.weight = config.weight
            self.views = frozenset(config.views)

    def prepare(self, batch: dict[str, Any], view: str, generator: torch.Generator) -> None:  # noqa: B027
        pass

    def forward(self, out: "EncoderOutput", batch: dict[str, Any], view: str) -> torch.Tensor | None:
        raise NotImplementedError


class Head(Objective):
    """A downstream task head (report generation, diagnosis). It trains exactly like an
    objective (the trainer adds it to the step's losses under its recipe name) and adds an
    inference method that the ``cbf generate`` / ``cbf diagnose`` commands call:

    * generation heads: ``generate(model, batch, tokenizer, **options) -> list[list[int]]``
    * classification heads: ``predict(model, batch) -> Tensor (B, K)`` probabilities, with
      ``label_names`` naming the K outputs.
    """

    task: ClassVar[str] = "head"


__all__ = [
    "check_objective_options",
    "Annotator",
    "Head",
    "Backbone",
    "BuildContext",
    "Labeler",
    "Objective",
    "StudyDataset",
    "Tokenizer",
    "VIEW_ATTENTION",
]
