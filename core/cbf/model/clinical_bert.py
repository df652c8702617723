"""Clinical-BERT: backbone grid features + report tokens in one BERT encoder (paper, Fig. 2).

Sequence layout: ``[CLS] f_1 … f_C [SEP] w_1 … w_L`` where the text slots end with the
report's own [SEP] and padding. Position ids: [CLS] 0, every visual token 1, first [SEP] 2,
text 3, 4, … (the paper's Fig. 2). Segments: image segment (incl. [CLS] and first [SEP]) = 0,
text = 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from cbf.model.attention_masks import build_attention_mask
from cbf.model.encoder import BertEncoder

IMAGE_SEGMENT = 0
TEXT_SEGMENT = 1
#: position id of the first text token (after [CLS]=0, visual tokens=1, [SEP]=2)
TEXT_POSITION_START = 3


def mean_visual(visual: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean over a study's valid visual tokens: (B, C, H), (B, C) bool → (B, H); what heads that
    classify the backbone's features directly (bypassing the encoder) pool."""
    weights = valid.unsqueeze(-1).to(visual.dtype)
    return (visual * weights).sum(1) / weights.sum(1).clamp_min(1.0)


@dataclass
class EncoderOutput:
    """The encoder's output plus the layout facts objectives need to slice it."""

    hidden: torch.Tensor  # (B, T, H)
    num_visual: int  # C, visual tokens per study (all views)
    text_len: int  # L, text slots
    attention: str  # "bi" | "s2s"
    visual_valid: torch.Tensor  # (B, C) bool: visual tokens of existing views
    #: (B, C, H) the projected backbone features, before embedding and encoder: what a
    #: linear probe of the backbone sees (RD's ``features: "visual_mean"`` pools them)
    visual_input: torch.Tensor | None = None

    @property
    def cls(self) -> torch.Tensor:
        return self.hidden[:, 0]

    @property
    def visual(self) -> torch.Tensor:
        return self.hidden[:, 1 : 1 + self.num_visual]

    @property
    def first_sep(self) -> torch.Tensor:
        return self.hidden[:, 1 + self.num_visual]

    @property
    def text(self) -> torch.Tensor:
        return self.hidden[:, 2 + self.num_visual : 2 + self.num_visual + self.text_len]


class PredictionHead(nn.Module):
    """FC → LayerNorm → ReLU → FC over the vocabulary; shared by MLM, MMM and report generation."""

    def __init__(self, hidden_size: int, vocab_size: int, eps: float = 1e-12) -> None:
        super().__init__()
        self.transform = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size, eps=eps)
        self.decoder = nn.Linear(hidden_size, vocab_size)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.relu(self.norm(self.transform(hidden))))


class ClinicalBert(nn.Module):
    def __init__(self, encoder: BertEncoder, backbone: nn.Module, vocab_size: int,
                 cls_id: int, sep_id: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.backbone = backbone
        hidden = encoder.config.hidden_size
        self.visual_projection = nn.Linear(backbone.out_channels, hidden)
        self.prediction_head = PredictionHead(hidden, vocab_size, encoder.config.layer_norm_eps)
        self.cls_id = cls_id
        self.sep_id = sep_id

    @property
    def hidden_size(self) -> int:
        return self.encoder.config.hidden_size

    # -- pieces, public so that decoders can run them incrementally ----------------------
    def visual_tokens(self, images: torch.Tensor, image_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, V, 3, H, W) → projected visual tokens (B, V·h·w, H) and their validity (B, V·h·w)."""
        b, v = images.shape[:2]
        grid = self.backbone(images.flatten(0, 1))  # (B·V, C, h, w)
        per_view = grid.shape[2] * grid.shape[3]
        feats = grid.flatten(2).transpose(1, 2).reshape(b, v * per_view, grid.shape[1])
        valid = image_mask.bool().repeat_interleave(per_view, dim=1)
        return self.visual_projection(feats), valid

    def embed_image_segment(self, visual: torch.Tensor) -> torch.Tensor:
        """Embeddings of ``[CLS] f_1..f_C [SEP]`` (B, C+2, H)."""
        b, c, _ = visual.shape
        dev = visual.device
        word = self.encoder.embeddings.word_embeddings
        cls = word(torch.full((b, 1), self.cls_id, device=dev, dtype=torch.long))
        sep = word(torch.full((b, 1), self.sep_id, device=dev, dtype=torch.long))
        inputs = torch.cat([cls, visual.to(cls.dtype), sep], dim=1)
        positions = torch.ones(b, c + 2, dtype=torch.long, device=dev)
        positions[:, 0] = 0
        positions[:, -1] = 2
        segments = torch.full((b, c + 2), IMAGE_SEGMENT, dtype=torch.long, device=dev)
        return self.encoder.embeddings(inputs_embeds=inputs, position_ids=positions, token_type_ids=segments)

    def embed_text(self, input_ids: torch.Tensor, start: int = 0,
                   positions: torch.Tensor | None = None) -> torch.Tensor:
        """Embeddings of text slots ``start .. start+L-1`` (B, L, H), or of explicit text
        ``positions`` (B, L) counted from the first text slot."""
        b, length = input_ids.shape
        if positions is not None:
            positions = positions + TEXT_POSITION_START
        else:
            positions = torch.arange(TEXT_POSITION_START + start, TEXT_POSITION_START + start + length,
                                     device=input_ids.device).expand(b, length)
        segments = torch.full_like(input_ids, TEXT_SEGMENT)
        return self.encoder.embeddings(input_ids=input_ids, position_ids=positions, token_type_ids=segments)

    # -- the training/eval forward -------------------------------------------------------
    def forward(self, batch: dict[str, Any], attention: str, use_text: bool = True) -> EncoderOutput:
        visual, visual_valid = self.visual_tokens(batch["images"], batch["image_mask"])
        image_part = self.embed_image_segment(visual)
        b = visual.shape[0]
        ones = torch.ones(b, 1, dtype=torch.bool, device=visual.device)
        image_valid = torch.cat([ones, visual_valid, ones], dim=1)
        if use_text:
            input_ids = batch["input_ids"]
            text_valid = batch["text_mask"].bool()
            hidden = torch.cat([image_part, self.embed_text(input_ids, positions=batch.get("text_positions"))], dim=1)
        else:
            text_valid = torch.zeros(b, 0, dtype=torch.bool, device=visual.device)
            hidden = image_part
        visibility = batch.get("text_visibility") if use_text else None
        mask = build_attention_mask(image_valid, text_valid, attention, visibility)
        hidden, _ = self.encoder(hidden, attention_mask=mask)
        return EncoderOutput(hidden=hidden, num_visual=visual.shape[1], text_len=text_valid.shape[1],
                             attention=attention, visual_valid=visual_valid, visual_input=visual)
