"""Build everything a run needs from a bound :class:`RunConfig`, in dependency order:
data → annotators → model → objectives → optimizer. Nothing here trains."""
from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from cbf.api import Annotator, BuildContext, Objective, StudyDataset, Tokenizer
from cbf.config.binding import bind_dataclass, to_json
from cbf.config.schema import EncoderSettings, RunConfig
from cbf.data.pipeline import StudyTorchDataset, annotate, check_annotator_order
from cbf.errors import CheckpointError, DataError
from cbf.model.clinical_bert import ClinicalBert
from cbf.model.encoder import BertEncoder, EncoderConfig
from cbf.training.checkpoint import load_checkpoint


def config_hash(config_json: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config_json, sort_keys=True).encode()).hexdigest()[:12]


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass
class Run:
    """Everything built for one recipe; the trainer only reads it."""

    config: RunConfig
    config_json: dict[str, Any]
    out_dir: Path
    dataset: StudyDataset
    tokenizer: Tokenizer
    annotators: list[Annotator]
    records: dict[str, list[dict]]
    model: ClinicalBert
    objectives: dict[str, Objective]
    sampler: Any
    hooks: list[Any]
    device: torch.device
    mesh_token_ids: list[int] = field(default_factory=list)

    @property
    def head(self) -> Any:
        return self.objectives.get(self.config.head.type) if self.config.head is not None else None

    @property
    def config_hash(self) -> str:
        return config_hash(self.config_json)

    def torch_dataset(self, split: str, train: bool) -> StudyTorchDataset:
        from cbf.data.images import ImageTransform

        transform = ImageTransform(self.config.model.image_size, train=train and self.config.data.augment)
        return StudyTorchDataset(self.dataset, self.records[split], transform, self.config.model.max_views,
                                 self.config.seed, self.config.data.on_bad_image)

    def annotator_states(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.state_dict(),
                "annotators": [a.state_dict() for a in self.annotators]}


def build_encoder(settings: EncoderSettings, vocab_size: int) -> BertEncoder:
    if settings.pretrained:
        from cbf.model.hf_checkpoint import load_hf_bert_state

        enc_config, state = load_hf_bert_state(settings.pretrained)
        same_vocab = enc_config.vocab_size == vocab_size
        enc_config.vocab_size = vocab_size
        enc_config.hidden_dropout = settings.hidden_dropout
        enc_config.attention_dropout = settings.attention_dropout
        encoder = BertEncoder(enc_config)
        if not same_vocab:  # a word-level vocabulary: the checkpoint's word embeddings don't apply
            state = {k: v for k, v in state.items() if k != "embeddings.word_embeddings.weight"}
        missing, unexpected = encoder.load_state_dict(state, strict=False)
        allowed_missing = set() if same_vocab else {"embeddings.word_embeddings.weight"}
        bad = [k for k in missing if k not in allowed_missing]
        if bad or unexpected:
            raise CheckpointError(f"{settings.pretrained}: encoder weights do not fit "
                                  f"(missing {bad[:5]}, unexpected {list(unexpected)[:5]})")
        return encoder
    enc_config = EncoderConfig(vocab_size=vocab_size, hidden_size=settings.hidden_size,
                               num_layers=settings.num_layers, num_heads=settings.num_heads,
                               intermediate_size=settings.intermediate_size,
                               max_position_embeddings=settings.max_position_embeddings,
                               hidden_dropout=settings.hidden_dropout,
                               attention_dropout=settings.attention_dropout)
    enc_config.validate()
    return BertEncoder(enc_config)


def check_view_sharing(objectives: dict[str, Objective], views: tuple[str, ...]) -> None:
    """An image-only objective must not share a view with one that puts the report in the
    sequence: the encoder runs once per step, and it would then see the report."""
    for view in views:
        active = {n: o for n, o in objectives.items() if view in o.views}
        image_only = [n for n, o in active.items() if not getattr(o, "uses_text", True)]
        with_text = [n for n, o in active.items() if getattr(o, "uses_text", True)]
        if image_only and with_text:
            raise DataError(f"view {view!r}: {image_only} read the image alone but share the step with {with_text}, "
                            f"which put the report in the sequence; give {image_only} a view of its own "
                            f"(e.g. views: ['image'] and an 'image' ratio in the sampler)")


def _mesh_token_ids(records: list[dict], tokenizer: Tokenizer) -> list[int]:
    ids: set[int] = set()
    for r in records:
        for tid, tag in zip(r.get("token_ids", ()), r.get("mesh_tags", ())):
            if tag:
                ids.add(tid)
    return sorted(ids - tokenizer.special_ids)


def build_run(config: RunConfig, out_dir: str | Path | None = None, *, resume_state: dict | None = None,
              log: Any = print) -> Run:
    config_json = to_json(config)
    out = Path(out_dir or config.out_dir or Path("runs") / config.name)
    seed_everything(config.seed)
    dataset = config.data.dataset.build()
    log(f"data: {dataset.describe()}")
    records = {split: dataset.records(split) for split in ("train", "val", "test")}
    if not records["train"]:
        raise DataError(f"{config.data.dataset.type}: the training split is empty")
    if config.trainer.epochs is not None:
        per_step = config.trainer.batch_size * config.trainer.grad_accum
        config.trainer.max_steps = max(1, math.ceil(config.trainer.epochs * len(records["train"]) / per_step))
        log(f"{config.trainer.epochs:g} epochs of {len(records['train'])} studies = {config.trainer.max_steps} steps")
    tokenizer: Tokenizer = config.data.tokenizer.build()
    annotators: list[Annotator] = [c.build() for c in config.data.annotators]
    check_annotator_order(tokenizer, annotators, dataset)

    init_state = None
    if resume_state is not None:
        init_state = resume_state
    elif config.init_from:
        init_state = load_checkpoint(config.init_from)
    refit = resume_state is None and config.vocabulary == "fit"
    if init_state is not None and "annotators" in init_state and not refit:  # the weights' own vocabulary
        tokenizer.load_state_dict(init_state["annotators"]["tokenizer"])
        for ann, st in zip(annotators, init_state["annotators"].get("annotators", [])):
            ann.load_state_dict(st)
    else:
        tokenizer.fit(records["train"])
        for ann in annotators:
            ann.fit(records["train"])
    for split in records:
        annotate(records[split], tokenizer, annotators)
    log(f"vocabulary: {len(tokenizer.vocab)} tokens; studies train/val/test = "
        f"{len(records['train'])}/{len(records['val'])}/{len(records['test'])}")

    backbone = config.model.backbone.build()
    encoder = build_encoder(config.model.encoder, len(tokenizer.vocab))
    model = ClinicalBert(encoder, backbone, len(tokenizer.vocab), tokenizer.cls_id, tokenizer.sep_id)
    mesh_ids = _mesh_token_ids(records["train"], tokenizer)
    sampler = config.views.build()
    ctx = BuildContext(model=model, tokenizer=tokenizer, mesh_token_ids=mesh_ids,
                       views=tuple(getattr(sampler, "views", ())))
    objectives = {name: comp.build(ctx) for name, comp in config.objectives.items()}
    if config.head is not None:  # the head trains like one more objective, under its type name
        objectives[config.head.type] = config.head.build(ctx)
    check_view_sharing(objectives, ctx.views)
    if config.init_from and resume_state is None and init_state is not None:
        _load_weights(model, objectives, init_state, config.init_from, log, tokenizer.vocab)
    device = pick_device(config.trainer.device)
    model.to(device)
    for obj in objectives.values():
        obj.to(device)
    hooks = [c.build() for c in config.hooks]
    return Run(config=config, config_json=config_json, out_dir=out, dataset=dataset, tokenizer=tokenizer,
               annotators=annotators, records=records, model=model, objectives=objectives, sampler=sampler,
               hooks=hooks, device=device, mesh_token_ids=mesh_ids)


#: model weights with one row per vocabulary entry
VOCAB_ROWS = ("encoder.embeddings.word_embeddings.weight", "prediction_head.decoder.weight",
              "prediction_head.decoder.bias")


def remap_vocabulary(weights: dict[str, torch.Tensor], model: ClinicalBert, old_vocab: list[str],
                     new_vocab: list[str]) -> tuple[dict[str, torch.Tensor], int]:
    """Carry the rows of words both vocabularies share; other rows keep their fresh init."""
    weights = dict(weights)
    own = model.state_dict()
    index = {tok: i for i, tok in enumerate(old_vocab)}
    pairs = [(j, index[tok]) for j, tok in enumerate(new_vocab) if tok in index]
    new_idx = torch.tensor([j for j, _ in pairs], dtype=torch.long)
    old_idx = torch.tensor([i for _, i in pairs], dtype=torch.long)
    for key in VOCAB_ROWS:
        if key in weights:
            rows = own[key].clone()
            rows[new_idx] = weights[key][old_idx].to(rows.dtype)
            weights[key] = rows
    return weights, len(pairs)


def _load_weights(model: ClinicalBert, objectives: dict[str, Objective], state: dict, source: str,
                  log: Any, vocab: list[str] | None = None) -> None:
    """Fine-tuning start: the encoder, backbone and shared head come from the earlier run;
    objectives/heads with the same name and shapes too, the rest start fresh."""
    weights = state["model"]
    old_vocab = state.get("annotators", {}).get("tokenizer", {}).get("vocab")
    if vocab is not None and old_vocab is not None and old_vocab != vocab:
        weights, shared = remap_vocabulary(weights, model, old_vocab, vocab)
        log(f"vocabulary refit: {shared} of {len(vocab)} words carried over from {source}")
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing:
        raise CheckpointError(f"{source}: the model weights lack {missing[:5]} (different architecture?)")
    loaded = []
    for name, obj in objectives.items():
        src = state.get("objectives", {}).get(name)
        own = obj.state_dict()
        if src and all(k in src and src[k].shape == v.shape for k, v in own.items()):
            obj.load_state_dict(src)
            loaded.append(name)
    log(f"initialised from {source} (objectives reused: {', '.join(loaded) or 'none'})")


def load_trained_run(checkpoint: str | Path, scratch_dir: str | Path) -> tuple[Run, dict[str, Any]]:
    """A finished run rebuilt from its checkpoint (data, annotators, model, objectives), with the
    model's and every objective's weights loaded and everything in eval mode: what probes and
    benchmarks that need the objectives, not only the model, start from. Returns the run and
    the checkpoint state."""
    state = load_checkpoint(checkpoint)
    config = bind_dataclass(RunConfig, json.loads(state["config"]))
    run = build_run(config, scratch_dir, resume_state=state, log=lambda *_: None)
    run.model.load_state_dict(state["model"])
    run.model.eval()
    for name, objective in run.objectives.items():
        objective.load_state_dict(state["objectives"][name])
        objective.eval()
    return run, state

