"""Use a trained run without its training data: rebuild the model from the checkpoint alone.

A checkpoint holds the resolved recipe (``config``), the tokenizer's and annotators' states
(``annotators``) and the weights (``model``; the head's under ``objectives[<head type>]``).
:func:`load_for_inference` binds the recipe again, restores the vocabulary, builds backbone,
encoder and model with the run's shapes and loads the weights. Nothing pretrained is fetched or
read: the backbone's ``pretrained`` option is switched off and a Hugging Face encoder is built
from its ``config.json`` (or, when that folder is gone, from the weights' shapes).
"""
from __future__ import annotations

import argparse

import contextlib
import dataclasses
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

from cbf.api import Annotator, BuildContext, Head, Tokenizer
from cbf.config.binding import bind_dataclass
from cbf.config.schema import EncoderSettings, RunConfig
from cbf.errors import CheckpointError, DataError
from cbf.model.clinical_bert import ClinicalBert
from cbf.model.encoder import BertEncoder, EncoderConfig
from cbf.training.build import build_encoder
from cbf.training.checkpoint import load_checkpoint, resolve_checkpoint


@dataclass
class Loaded:
    """A trained run, ready for inference (model and head in eval mode)."""

    config: RunConfig
    tokenizer: Tokenizer
    model: ClinicalBert
    head: Head | None
    image_size: int
    max_views: int
    annotators: list[Annotator]
    device: torch.device
    source: Path


def load_for_inference(checkpoint: str | Path, device: str | torch.device = "cpu",
                       task: str | None = None) -> Loaded:
    """Rebuild a run from a checkpoint file or run folder. ``task`` ("generation",
    "classification") demands a head of that task, else a :class:`CheckpointError`."""
    source = resolve_checkpoint(checkpoint)
    state = load_checkpoint(source)
    for key in ("model", "config", "annotators"):
        if key not in state:
            raise CheckpointError(f"{source}: the checkpoint has no {key!r} entry (written by an older cbf?)")
    try:
        config = bind_dataclass(RunConfig, json.loads(state["config"]))
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{source}: its stored recipe no longer binds ({exc})") from exc
    if task is not None:
        _require_task(config, task, source)

    tokenizer: Tokenizer = config.data.tokenizer.build()
    tokenizer.load_state_dict(state["annotators"]["tokenizer"])
    annotators: list[Annotator] = [c.build() for c in config.data.annotators]
    for ann, st in zip(annotators, state["annotators"].get("annotators", [])):
        ann.load_state_dict(st)

    backbone = _backbone_without_pretrained(config)
    encoder = _encoder_for(config.model.encoder, len(tokenizer.vocab), state["model"], source)
    model = ClinicalBert(encoder, backbone, len(tokenizer.vocab), tokenizer.cls_id, tokenizer.sep_id)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as exc:
        raise CheckpointError(f"{source}: the weights do not fit the model its recipe describes ({exc})") from exc

    head = None
    if config.head is not None:
        ctx = BuildContext(model=model, tokenizer=tokenizer, mesh_token_ids=[],
                           views=tuple(getattr(config.views.build(), "views", ())))
        head = config.head.build(ctx)
        head_state = state.get("objectives", {}).get(config.head.type)
        if head_state is None:
            raise CheckpointError(f"{source}: no weights for the head {config.head.type!r}")
        try:
            head.load_state_dict(head_state)
        except RuntimeError as exc:
            raise CheckpointError(f"{source}: the head {config.head.type!r} weights do not fit ({exc})") from exc
    dev = torch.device(device)
    model.to(dev).eval()
    if head is not None:
        head.to(dev).eval()
    return Loaded(config=config, tokenizer=tokenizer, model=model, head=head, image_size=config.model.image_size,
                  max_views=config.model.max_views, annotators=annotators, device=dev, source=source)


def _require_task(config: RunConfig, task: str, source: Path) -> None:
    if config.head is None:
        raise CheckpointError(f"{source}: this run has no downstream head (it was trained without "
                              f"a recipe 'head'); {task} needs a run fine-tuned with a {task} head")
    have = getattr(config.head.factory, "task", None)
    if have != task:
        raise CheckpointError(f"{source}: the run's head {config.head.type!r} does {have!r}, not {task!r}")


def _backbone_without_pretrained(config: RunConfig) -> Any:
    """The run's backbone with random init: the checkpoint's weights replace it, so nothing
    (ImageNet weights, a local file) is read or downloaded."""
    comp = config.model.backbone
    cfg = comp.config
    if dataclasses.is_dataclass(cfg) and any(f.name == "pretrained" for f in dataclasses.fields(cfg)):
        cfg = dataclasses.replace(cfg, pretrained=None)
    return comp.factory(cfg)


def _encoder_for(settings: EncoderSettings, vocab_size: int, weights: dict[str, torch.Tensor],
                 source: Path) -> BertEncoder:
    """The encoder's shape without loading pretrained weights (the checkpoint has them)."""
    if not settings.pretrained:
        return build_encoder(settings, vocab_size)
    from cbf.model.hf_checkpoint import read_hf_config, resolve_hf_checkpoint

    try:
        enc_config = read_hf_config(resolve_hf_checkpoint(settings.pretrained).config)
    except CheckpointError:
        enc_config = _config_from_weights(settings, weights, source)
    enc_config.vocab_size = vocab_size
    return BertEncoder(enc_config)


def _config_from_weights(settings: EncoderSettings, weights: dict[str, torch.Tensor], source: Path) -> EncoderConfig:
    try:
        hidden = weights["encoder.embeddings.word_embeddings.weight"].shape[1]
        layers = len({k.split(".")[2] for k in weights if k.startswith("encoder.layers.")})
        config = EncoderConfig(
            hidden_size=hidden, num_layers=layers, num_heads=settings.num_heads,
            intermediate_size=weights["encoder.layers.0.ffn_in.weight"].shape[0],
            max_position_embeddings=weights["encoder.embeddings.position_embeddings.weight"].shape[0],
            type_vocab_size=weights["encoder.embeddings.token_type_embeddings.weight"].shape[0])
        config.validate()
    except (KeyError, IndexError, ValueError) as exc:
        raise CheckpointError(f"{source}: cannot infer the encoder's shape from its weights ({exc})") from exc
    warnings.warn(f"{settings.pretrained}: not found; the encoder's shape is read from the checkpoint's "
                  f"weights, with num_heads={settings.num_heads} and the GELU activation assumed", stacklevel=3)
    return config


def images_to_batch(paths_per_study: Sequence[Sequence[str | Path]], image_size: int, max_views: int,
                    ids: Sequence[str] | None = None) -> dict[str, Any]:
    """Read each study's views (PNG/JPG/DICOM) and make the batch fields ``ids``, ``images``
    (B, max_views, 3, S, S; missing views zero) and ``image_mask`` (B, max_views)."""
    from cbf.data.images import ImageTransform, read_image

    transform = ImageTransform(image_size, train=False)
    studies = [list(p) for p in paths_per_study]
    images = torch.zeros(len(studies), max_views, 3, image_size, image_size)
    mask = torch.zeros(len(studies), max_views, dtype=torch.bool)
    for i, paths in enumerate(studies):
        if not paths:
            raise DataError(f"study {i + 1} has no image")
        if len(paths) > max_views:
            raise DataError(f"study {', '.join(map(str, paths))}: {len(paths)} images, but the model takes at "
                            f"most {max_views} views per study")
        for v, path in enumerate(paths):
            images[i, v] = transform.one(read_image(path, min_side=image_size))
            mask[i, v] = True
    names = list(ids) if ids is not None else [",".join(map(str, p)) for p in studies]
    return {"ids": names, "images": images, "image_mask": mask}


# --------------------------------------------------------------------------- command helpers

def add_study_arguments(parser: "argparse.ArgumentParser") -> None:
    """The inputs every inference command takes: images (one study each), ``--study A,B``, the run."""
    parser.add_argument("images", metavar="IMAGE", nargs="*", help="an image file: one study each")
    parser.add_argument("--checkpoint", required=True, metavar="RUN", help="run folder or checkpoint file")
    parser.add_argument("--study", action="append", default=[], metavar="A,B",
                        help="a multi-view study: comma-separated image files (repeatable)")


def add_run_arguments(parser: "argparse.ArgumentParser", batch_size: int, batch_help: str) -> None:
    """How an inference command runs and where its JSONL goes."""
    parser.add_argument("--batch-size", type=int, default=batch_size, metavar="N", help=batch_help)
    parser.add_argument("--device", default="cpu", help="torch device (cpu, cuda, cuda:1, ...)")
    parser.add_argument("--out", "-o", metavar="FILE", help="JSONL output (default: stdout)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def studies_from_args(args: "argparse.Namespace") -> list[list[str]]:
    """IMAGE arguments and ``--study`` lists as studies; DataError when there are none or the
    batch size is not positive."""
    studies = [[p] for p in args.images] + [[p for p in s.split(",") if p] for s in args.study]
    if not studies:
        raise DataError("no images given (name image files, or --study A,B)")
    if args.batch_size < 1:
        raise DataError("--batch-size must be >= 1")
    return studies


def check_files(studies: Sequence[Sequence[str | Path]]) -> None:
    """Fail before loading the model if an image file is missing (reading errors come later,
    from :func:`cbf.data.images.read_image`, naming the file too)."""
    for paths in studies:
        for path in paths:
            if not Path(path).is_file():
                raise DataError(f"{path}: image file not found")


def study_batches(studies: Sequence[Sequence[str]], batch_size: int) -> Iterator[list[list[str]]]:
    for start in range(0, len(studies), batch_size):
        yield [list(s) for s in studies[start:start + batch_size]]


def progress(chunks: Iterable[Any], num_studies: int, batch_size: int, desc: str, disabled: bool) -> Iterable[Any]:
    """A progress bar on stderr (per batch) when there is more than one batch to do."""
    if disabled or num_studies <= batch_size:
        return chunks
    from tqdm.auto import tqdm

    return tqdm(chunks, total=-(-num_studies // batch_size), desc=desc, unit="batch", file=sys.stderr)


@contextlib.contextmanager
def jsonl_writer(out: str | Path | None) -> Iterator[Callable[[dict[str, Any]], None]]:
    """``write(obj)`` appends one JSON line to ``out`` (created with its folder) or stdout."""
    if out is None:
        def write_stdout(obj: dict[str, Any]) -> None:
            sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
            sys.stdout.flush()

        yield write_stdout
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        def write_file(obj: dict[str, Any]) -> None:
            handle.write(json.dumps(obj, ensure_ascii=False) + "\n")

        yield write_file
