"""The single-stream BERT encoder (DESIGN §3): embeddings + post-LN transformer layers.

Plain PyTorch, written to load Hugging Face BERT weights (see ``cbf.model.hf_checkpoint``) and to
be at least as fast as ``transformers.BertModel``: one fused QKV projection per layer,
``scaled_dot_product_attention`` with a boolean mask (or none at all when nothing is masked), and
an optional key/value cache for the s2s report decoder, whose prefix never changes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_ACTIVATIONS = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "relu": None}

KeyValue = tuple[Tensor, Tensor]


@dataclass
class EncoderConfig:
    """BERT's shape; the defaults are BERT-base (the paper's 12×768)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"  # "gelu" (erf), "gelu_new"/"gelu_pytorch_tanh" (tanh), "relu"

    def validate(self) -> None:
        for name in ("vocab_size", "hidden_size", "num_layers", "num_heads", "intermediate_size",
                     "max_position_embeddings", "type_vocab_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"encoder.{name} must be a positive integer, got {value!r}")
        if self.hidden_size % self.num_heads:
            raise ValueError(f"encoder.hidden_size ({self.hidden_size}) must be a multiple of "
                             f"encoder.num_heads ({self.num_heads})")
        for name in ("hidden_dropout", "attention_dropout"):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"encoder.{name} must be in [0, 1), got {value!r}")
        if not self.layer_norm_eps > 0:
            raise ValueError(f"encoder.layer_norm_eps must be > 0, got {self.layer_norm_eps!r}")
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(f"encoder.hidden_act must be one of {sorted(_ACTIVATIONS)}, "
                             f"got {self.hidden_act!r}")


def init_weights(module: nn.Module) -> None:
    """BERT's initialisation, for ``model.apply(init_weights)``: N(0, 0.02) weights, zero biases,
    LayerNorm 1/0."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if module.padding_idx is not None:
            with torch.no_grad():
                module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        if module.weight is not None:
            nn.init.ones_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class BertEmbeddings(nn.Module):
    """Word (or given ``inputs_embeds``) + position + segment embeddings, LayerNorm, dropout."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, input_ids: Tensor | None = None, position_ids: Tensor | None = None,
                token_type_ids: Tensor | None = None, inputs_embeds: Tensor | None = None) -> Tensor:
        """(B, T) ids or (B, T, H) ``inputs_embeds`` (e.g. projected visual features) → (B, T, H).
        ``position_ids`` default to 0..T-1, ``token_type_ids`` to 0."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        x = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        length = x.shape[1]
        if length > self.position_embeddings.num_embeddings and position_ids is None:
            raise ValueError(f"sequence of {length} tokens is longer than max_position_embeddings="
                             f"{self.position_embeddings.num_embeddings}")
        if position_ids is None:
            x = x + self.position_embeddings.weight[:length]
        else:
            x = x + self.position_embeddings(position_ids)
        if token_type_ids is None:
            x = x + self.token_type_embeddings.weight[0]
        else:
            x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head self-attention with one fused QKV projection and an optional KV cache."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.head_dim = config.hidden_size // config.num_heads
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_dropout

    def forward(self, x: Tensor, mask: Tensor | None, past: KeyValue | None = None,
                use_cache: bool = False) -> tuple[Tensor, KeyValue | None]:
        batch, length, hidden = x.shape
        q, k, v = (self.qkv(x).view(batch, length, 3, self.num_heads, self.head_dim)
                   .permute(2, 0, 3, 1, 4).unbind(0))
        if past is not None:
            k = torch.cat((past[0], k), dim=2)
            v = torch.cat((past[1], v), dim=2)
        present = (k, v) if use_cache else None
        attn = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout_p if self.training else 0.0)
        return self.out(attn.transpose(1, 2).reshape(batch, length, hidden)), present


class BertLayer(nn.Module):
    """Post-LN transformer layer, as in BERT: x = LN(x + attn(x)); x = LN(x + FFN(x))."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.attention = BertSelfAttention(config)
        self.attention_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.ffn_in = nn.Linear(config.hidden_size, config.intermediate_size)
        self.ffn_out = nn.Linear(config.intermediate_size, config.hidden_size)
        self.ffn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.gelu_approximate = _ACTIVATIONS[config.hidden_act]

    def forward(self, x: Tensor, mask: Tensor | None, past: KeyValue | None = None,
                use_cache: bool = False) -> tuple[Tensor, KeyValue | None]:
        attn, present = self.attention(x, mask, past, use_cache)
        x = self.attention_norm(x + self.dropout(attn))
        h = self.ffn_in(x)
        h = F.relu(h) if self.gelu_approximate is None else F.gelu(h, approximate=self.gelu_approximate)
        x = self.ffn_norm(x + self.dropout(self.ffn_out(h)))
        return x, present


def prepare_attention_mask(mask: Tensor | None) -> Tensor | None:
    """A boolean (B, Tq, Tk) or (B, 1, Tq, Tk) mask (True = may attend) as SDPA takes it, with
    fully-masked query rows (padding) opened up so they give finite garbage instead of NaN."""
    if mask is None:
        return None
    if mask.dtype != torch.bool:
        raise TypeError(f"attention_mask must be bool (True = may attend), got {mask.dtype}")
    if mask.dim() == 3:
        mask = mask.unsqueeze(1)
    if mask.dim() != 4:
        raise ValueError(f"attention_mask must be (B, Tq, Tk) or (B, 1, Tq, Tk), got {tuple(mask.shape)}")
    return mask | ~mask.any(dim=-1, keepdim=True)


class BertEncoder(nn.Module):
    """BERT: ``embeddings`` (call first) and a stack of post-LN ``layers``; BERT-initialised."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.layers = nn.ModuleList(BertLayer(config) for _ in range(config.num_layers))
        self.apply(init_weights)

    def forward(self, hidden_states: Tensor, attention_mask: Tensor | None = None,
                past_key_values: list[KeyValue] | None = None,
                use_cache: bool = False) -> tuple[Tensor, list[KeyValue] | None]:
        """Run the layers over already-embedded ``hidden_states`` (B, Tq, H).

        ``attention_mask``: bool (B, 1, Tq, Tk) or (B, Tq, Tk), True = may attend; None = all.
        ``past_key_values``: per layer (k, v), each (B, heads, Tpast, head_dim), for the earlier
        positions (Tk = Tpast + Tq). With ``use_cache`` the per-layer (k, v) including the new
        positions come back as the second element; otherwise it is None.
        """
        if past_key_values is not None and len(past_key_values) != len(self.layers):
            raise ValueError(f"past_key_values has {len(past_key_values)} entries for "
                             f"{len(self.layers)} layers")
        mask = prepare_attention_mask(attention_mask)
        presents: list[KeyValue] | None = [] if use_cache else None
        x = hidden_states
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            x, present = layer(x, mask, past, use_cache)
            if presents is not None:
                presents.append(present)
        return x, presents

    def encode_text(self, input_ids: Tensor, token_type_ids: Tensor | None = None,
                    attention_mask: Tensor | None = None) -> Tensor:
        """Text-only BERT: (B, L) ids and optional 1/0 padding mask → last hidden states (B, L, H),
        equal to ``transformers.BertModel(...).last_hidden_state``."""
        mask = None
        if attention_mask is not None:
            keys = attention_mask.to(torch.bool)
            if not bool(keys.all()):  # no mask at all is SDPA's fastest path
                keys = keys | ~keys.any(dim=-1, keepdim=True)  # an all-pad row must not give NaN
                mask = keys[:, None, None, :]
        x = self.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
        for layer in self.layers:
            x, _ = layer(x, mask)
        return x
