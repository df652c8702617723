"""Reading a local Hugging Face BERT checkpoint into our encoder, without ``transformers``.

A checkpoint is a folder with ``config.json`` and ``model.safetensors`` or ``pytorch_model.bin``
(sharded ``*.index.json`` too), or the path of one such weights file with ``config.json`` beside
it. Keys may carry the ``bert.`` prefix (BertForPreTraining / BertForMaskedLM); their heads
(``cls.*``), the pooler and other non-encoder keys are ignored. Old TF-converted checkpoints name
LayerNorm parameters ``gamma``/``beta``. Nothing is ever downloaded.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import Tensor

from cbf.errors import CheckpointError
from cbf.model.encoder import BertEncoder, EncoderConfig

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin",
                 "model.safetensors.index.json", "pytorch_model.bin.index.json")
_HOW_TO = ("give the folder of a Hugging Face BERT checkpoint (config.json + model.safetensors or "
           "pytorch_model.bin), e.g. download it on a machine with network with "
           "`huggingface-cli download bert-base-uncased --local-dir bert-base-uncased` and pass "
           "that folder")
# HF config.json key -> EncoderConfig field
_CONFIG_KEYS = {
    "vocab_size": "vocab_size", "hidden_size": "hidden_size", "num_hidden_layers": "num_layers",
    "num_attention_heads": "num_heads", "intermediate_size": "intermediate_size",
    "max_position_embeddings": "max_position_embeddings", "type_vocab_size": "type_vocab_size",
    "hidden_dropout_prob": "hidden_dropout", "attention_probs_dropout_prob": "attention_dropout",
    "layer_norm_eps": "layer_norm_eps", "hidden_act": "hidden_act",
}
# HF per-layer module -> ours (q/k/v are fused into attention.qkv separately)
_LAYER_NAMES = {
    "attention.output.dense": "attention.out",
    "attention.output.LayerNorm": "attention_norm",
    "intermediate.dense": "ffn_in",
    "output.dense": "ffn_out",
    "output.LayerNorm": "ffn_norm",
}
_IGNORED_ENCODER_KEYS = {"embeddings.position_ids", "embeddings.token_type_ids"}  # buffers


@dataclass(frozen=True)
class HFCheckpointFiles:
    """Where a checkpoint's pieces are; ``vocab`` (vocab.txt) is None when the folder has none."""

    folder: Path
    config: Path
    weights: Path
    vocab: Path | None


def resolve_hf_checkpoint(path: str | Path) -> HFCheckpointFiles:
    """Find config.json, the weights file and vocab.txt of a checkpoint folder or weights file."""
    path = Path(path).expanduser()
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint folder or file; {_HOW_TO}")
    if path.is_dir():
        folder = path
        weights = next((folder / n for n in _WEIGHT_FILES if (folder / n).is_file()), None)
        if weights is None:
            raise CheckpointError(f"{folder}: no model.safetensors or pytorch_model.bin in this "
                                  f"folder; {_HOW_TO}")
    else:
        folder, weights = path.parent, path
    config = folder / "config.json"
    if not config.is_file():
        raise CheckpointError(f"{config}: missing (the checkpoint's config.json must sit beside "
                              f"{weights.name}); {_HOW_TO}")
    vocab = folder / "vocab.txt"
    return HFCheckpointFiles(folder, config, weights, vocab if vocab.is_file() else None)


def read_hf_config(config_path: Path) -> EncoderConfig:
    """Our EncoderConfig from a BERT ``config.json``; HF's defaults (= ours) for absent keys."""
    try:
        raw = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path}: not a readable JSON config ({exc})") from exc
    if not isinstance(raw, dict):
        raise CheckpointError(f"{config_path}: expected a JSON object")
    model_type = raw.get("model_type", "bert")
    if model_type != "bert":
        raise CheckpointError(f"{config_path}: model_type {model_type!r} is not supported, only 'bert'")
    if raw.get("position_embedding_type", "absolute") != "absolute":
        raise CheckpointError(f"{config_path}: position_embedding_type "
                              f"{raw['position_embedding_type']!r} is not supported, only 'absolute'")
    defaults = {f.name: f.default for f in fields(EncoderConfig)}
    values = {ours: raw.get(theirs, defaults[ours]) for theirs, ours in _CONFIG_KEYS.items()}
    config = EncoderConfig(**values)
    try:
        config.validate()
    except ValueError as exc:
        raise CheckpointError(f"{config_path}: {exc}") from exc
    return config


def _read_weights_file(path: Path) -> dict[str, Tensor]:
    try:
        if path.name.endswith(".safetensors"):
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to parse means a corrupt file
        raise CheckpointError(f"{path}: cannot read the weights, the file is truncated or corrupt "
                              f"({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected a flat mapping of parameter names to tensors")
    return state


def read_hf_weights(weights: Path) -> dict[str, Tensor]:
    """All tensors of a weights file, or of every shard a ``*.index.json`` lists."""
    if not weights.name.endswith(".index.json"):
        return _read_weights_file(weights)
    try:
        shards = sorted(set(json.loads(weights.read_text(encoding="utf-8"))["weight_map"].values()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(f"{weights}: not a valid shard index ({exc})") from exc
    state: dict[str, Tensor] = {}
    for shard in shards:
        shard_path = weights.parent / shard
        if not shard_path.is_file():
            raise CheckpointError(f"{shard_path}: shard listed in {weights.name} is missing")
        state.update(_read_weights_file(shard_path))
    return state


def _normalise_key(key: str) -> str:
    key = key.removeprefix("bert.")
    if key.endswith("LayerNorm.gamma"):
        key = key[: -len("gamma")] + "weight"
    elif key.endswith("LayerNorm.beta"):
        key = key[: -len("beta")] + "bias"
    return key


def _our_name(key: str) -> str | None:
    """Our parameter name for a (normalised) HF encoder key; None for q/k/v (fused apart)."""
    if key.startswith("embeddings."):
        return key
    parts = key.split(".")  # encoder.layer.{i}.<module...>.<weight|bias>
    if len(parts) < 5 or parts[:2] != ["encoder", "layer"] or not parts[2].isdigit():
        return ""
    module, param = ".".join(parts[3:-1]), parts[-1]
    if module in _LAYER_NAMES:
        return f"layers.{parts[2]}.{_LAYER_NAMES[module]}.{param}"
    if module in ("attention.self.query", "attention.self.key", "attention.self.value"):
        return None
    return ""


def hf_to_encoder_state(hf_state: dict[str, Tensor], config: EncoderConfig,
                        source: str | Path = "checkpoint") -> dict[str, Tensor]:
    """Map HF BERT tensors to our ``BertEncoder`` names, checking completeness and shapes.

    Raises CheckpointError naming ``source`` for missing or unexpected encoder keys and for any
    shape mismatch.
    """
    with torch.device("meta"):
        expected = {k: v.shape for k, v in BertEncoder(config).state_dict().items()}
    ours: dict[str, Tensor] = {}
    qkv: dict[tuple[str, str], dict[str, Tensor]] = {}
    unexpected: list[str] = []
    for raw_key, tensor in hf_state.items():
        key = _normalise_key(raw_key)
        if not key.startswith(("embeddings.", "encoder.")) or key in _IGNORED_ENCODER_KEYS:
            continue  # heads (cls.*), pooler, classifier: not the encoder's
        name = _our_name(key)
        if name is None:
            layer, which, param = key.split(".")[2], key.split(".")[-2], key.split(".")[-1]
            qkv.setdefault((layer, param), {})[which] = tensor
        elif name and name in expected:
            ours[name] = tensor
        else:
            unexpected.append(raw_key)
    for (layer, param), parts in qkv.items():
        name = f"layers.{layer}.attention.qkv.{param}"
        if name not in expected:
            unexpected.extend(f"encoder.layer.{layer}.attention.self.{w}.{param}" for w in parts)
            continue
        lacking = [w for w in ("query", "key", "value") if w not in parts]
        if lacking:
            raise CheckpointError(f"{source}: missing encoder keys " + ", ".join(
                f"encoder.layer.{layer}.attention.self.{w}.{param}" for w in lacking))
        shapes = {parts[w].shape for w in ("query", "key", "value")}
        if len(shapes) != 1:
            raise CheckpointError(f"{source}: encoder.layer.{layer}.attention.self q/k/v {param} "
                                  f"shapes differ: {sorted(tuple(s) for s in shapes)}")
        ours[name] = torch.cat([parts["query"], parts["key"], parts["value"]], dim=0)
    if unexpected:
        raise CheckpointError(f"{source}: {len(unexpected)} unexpected encoder keys for a "
                              f"{config.num_layers}-layer BERT, e.g. {', '.join(sorted(unexpected)[:5])}")
    missing = sorted(set(expected) - set(ours))
    if missing:
        raise CheckpointError(f"{source}: missing {len(missing)} encoder keys (our names), e.g. "
                              f"{', '.join(missing[:5])}")
    for name, shape in expected.items():
        if ours[name].shape != shape:
            raise CheckpointError(f"{source}: {name} has shape {tuple(ours[name].shape)}, "
                                  f"config.json implies {tuple(shape)}")
    return ours


def load_hf_bert_state(path: str | Path) -> tuple[EncoderConfig, dict[str, Tensor]]:
    """Config and our-named state dict of a local HF BERT checkpoint folder or weights file."""
    files = resolve_hf_checkpoint(path)
    config = read_hf_config(files.config)
    return config, hf_to_encoder_state(read_hf_weights(files.weights), config, files.weights)


def load_pretrained_text_encoder(path: str | Path) -> BertEncoder:
    """A ``BertEncoder`` in eval mode with the checkpoint's weights (fp32, CPU);
    ``encoder.checkpoint_files`` says where config.json, the weights and vocab.txt are."""
    files = resolve_hf_checkpoint(path)
    config = read_hf_config(files.config)
    state = hf_to_encoder_state(read_hf_weights(files.weights), config, files.weights)
    with torch.device("meta"):  # skip the random init the weights overwrite anyway
        encoder = BertEncoder(config)
    encoder = encoder.to_empty(device="cpu")
    encoder.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    encoder.checkpoint_files = files
    return encoder.eval()
