"""The attention views of VLP / Clinical-BERT over ``[CLS] f_1..f_C [SEP] w_1..w_L``.

*bi*: every token sees every valid (non-pad) token.
*s2s*: the image segment ([CLS], visual tokens, first [SEP]) sees only the image segment; a
text token sees the image segment, the text to its left and itself. Causality inside the
text is what lets the report decoder cache keys/values: the prefix never changes.
*dual* (not in the paper): each segment sees only itself, so one pass encodes the image and
the report separately with the same weights, as a two-tower model would. Scores between
image i and report j computed from such a pass depend on nothing else, which is what
in-batch negatives need (see the IMM objective's ``contrastive`` mode).
"""
from __future__ import annotations

import torch


def build_attention_mask(image_valid: torch.Tensor, text_valid: torch.Tensor, attention: str,
                         text_visibility: torch.Tensor | None = None) -> torch.Tensor:
    """Boolean (B, 1, T, T) mask, True where a query (row) may attend to a key (column).

    ``image_valid`` (B, P) covers the image segment ([CLS], visual tokens, [SEP]);
    ``text_valid`` (B, L) covers the text slots (report tokens and final [SEP]).
    ``text_visibility`` (B, L, L), when given, replaces the text-to-text block of the s2s
    view (which text slot may see which); the image segment still sees only itself and
    every text slot sees the image. Report-generation heads use it for pseudo-masks.
    """
    if attention not in ("bi", "s2s", "dual"):
        raise ValueError(f"unknown attention view {attention!r}; expected 'bi', 's2s' or 'dual'")
    key_valid = torch.cat([image_valid, text_valid], dim=1)  # (B, T)
    b, p = image_valid.shape
    t = key_valid.shape[1]
    allowed = key_valid[:, None, :].expand(b, t, t)
    if text_visibility is not None:
        if attention != "s2s":
            raise ValueError("a custom text visibility is defined for the s2s view only")
        structure = torch.zeros(b, t, t, dtype=torch.bool, device=key_valid.device)
        structure[:, :p, :p] = True  # image segment ↔ image segment
        structure[:, p:, :p] = True  # text → image
        structure[:, p:, p:] = text_visibility.bool()
        return (allowed & structure)[:, None, :, :]
    if attention == "dual":
        pos = torch.arange(t, device=key_valid.device)
        in_image = pos < p
        allowed = allowed & (in_image[:, None] == in_image[None, :])
    if attention == "s2s":
        pos = torch.arange(t, device=key_valid.device)
        q, k = pos[:, None], pos[None, :]
        structure = (k < p) | ((q >= p) & (k <= q))  # image segment, or causal text
        allowed = allowed & structure
    return allowed[:, None, :, :]
