"""The paper's decoding step, twice: with a key/value cache and by full recomputation.

Step ``t`` predicts text slot ``t`` from a [MASK] there: the sequence is
``[CLS] f… [SEP] w_0 … w_{t-1} [MASK]_t`` under the s2s attention, so the [MASK] sees the image,
the words before it and itself. The chosen word then replaces the [MASK] and a new [MASK] is
appended.

Under s2s nothing in the prefix ever sees a later token: the image segment sees the image
segment only, and a word sees the image and the words to its left. Their keys/values are
therefore final once computed, and :class:`CachedDecoder` keeps them: each step feeds only
``[w_{t-1}, [MASK]_t]`` (positions ``t-1`` and ``t`` of the text), keeps ``w_{t-1}``'s keys/values
and drops the mask's. :class:`FullDecoder` recomputes the whole sequence every step (the same
math, for checks). Both expose the :class:`cbf_rrg.beam.StepDecoder` interface, and both take an
optional ``condition`` (B, H) added to the hidden state the prediction head reads (the RRG
head's findings condition). :class:`GuidedDecoder` combines two of them.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from cbf.model.attention_masks import build_attention_mask


class _Base:
    def __init__(self, model, images: torch.Tensor, image_mask: torch.Tensor, beam_size: int,
                 mask_id: int, condition: torch.Tensor | None = None) -> None:
        self.model = model
        self.mask_id = mask_id
        #: (B·beam, H) added to the hidden state the prediction head reads, or None
        self.condition = None if condition is None else condition.repeat_interleave(beam_size, 0)
        visual, visual_valid = model.visual_tokens(images, image_mask)
        self.image_part = model.embed_image_segment(visual)  # (B, P, H)
        b = visual.shape[0]
        ones = torch.ones(b, 1, dtype=torch.bool, device=visual.device)
        self.image_valid = torch.cat([ones, visual_valid, ones], dim=1)  # (B, P)
        self.beam_size = beam_size
        self.step = 0

    def _logp(self, hidden_last: torch.Tensor) -> torch.Tensor:
        if self.condition is not None:
            hidden_last = hidden_last + self.condition.to(hidden_last.dtype)
        return F.log_softmax(self.model.prediction_head(hidden_last).float(), dim=-1)

    def _reorder_condition(self, index: torch.Tensor) -> None:
        if self.condition is not None:
            self.condition = self.condition.index_select(0, index)


class CachedDecoder(_Base):
    """Keeps the keys/values of the image segment and of the chosen words."""

    def __init__(self, model, images: torch.Tensor, image_mask: torch.Tensor, beam_size: int,
                 mask_id: int, condition: torch.Tensor | None = None) -> None:
        super().__init__(model, images, image_mask, beam_size, mask_id, condition)
        # the image segment attends to itself only (s2s): its keys/values never change
        mask = build_attention_mask(self.image_valid, self.image_valid[:, :0], "s2s")
        _, past = model.encoder(self.image_part, attention_mask=mask, use_cache=True)
        self.past = [(k.repeat_interleave(beam_size, 0), v.repeat_interleave(beam_size, 0)) for k, v in past]
        self.key_valid = self.image_valid.repeat_interleave(beam_size, 0)  # (rows, P + t)

    def log_probs(self, previous: torch.Tensor | None) -> torch.Tensor:
        rows = self.key_valid.shape[0]
        dev = self.key_valid.device
        mask_col = torch.full((rows, 1), self.mask_id, dtype=torch.long, device=dev)
        if previous is None:
            ids, start = mask_col, self.step
        else:
            ids, start = torch.cat([previous[:, None], mask_col], dim=1), self.step - 1
        q = ids.shape[1]
        hidden = self.model.embed_text(ids, start=start)
        # past keys as they are; among the new ones a query sees itself and those before it
        causal = torch.ones(q, q, dtype=torch.bool, device=dev).tril()
        mask = torch.cat([self.key_valid[:, None, :].expand(rows, q, -1), causal.expand(rows, q, q)], dim=2)
        out, present = self.model.encoder(hidden, attention_mask=mask[:, None], past_key_values=self.past,
                                          use_cache=True)
        keep = present[0][0].shape[2] - 1  # drop the [MASK]'s keys/values: it is replaced next step
        self.past = [(k[:, :, :keep], v[:, :, :keep]) for k, v in present]
        if previous is not None:
            self.key_valid = torch.cat([self.key_valid, self.key_valid.new_ones(rows, 1)], dim=1)
        self.step += 1
        return self._logp(out[:, -1])

    def reorder(self, index: torch.Tensor) -> None:
        self.past = [(k.index_select(0, index), v.index_select(0, index)) for k, v in self.past]
        self.key_valid = self.key_valid.index_select(0, index)
        self._reorder_condition(index)


class FullDecoder(_Base):
    """Recomputes ``[CLS] f… [SEP] w_0 … w_{t-1} [MASK]`` in full at every step."""

    def __init__(self, model, images: torch.Tensor, image_mask: torch.Tensor, beam_size: int,
                 mask_id: int, condition: torch.Tensor | None = None) -> None:
        super().__init__(model, images, image_mask, beam_size, mask_id, condition)
        self.image_part = self.image_part.repeat_interleave(beam_size, 0)
        self.image_valid = self.image_valid.repeat_interleave(beam_size, 0)
        self.words = torch.zeros(self.image_part.shape[0], 0, dtype=torch.long, device=self.image_part.device)

    def log_probs(self, previous: torch.Tensor | None) -> torch.Tensor:
        if previous is not None:
            self.words = torch.cat([self.words, previous[:, None]], dim=1)
        rows = self.words.shape[0]
        mask_col = torch.full((rows, 1), self.mask_id, dtype=torch.long, device=self.words.device)
        ids = torch.cat([self.words, mask_col], dim=1)
        hidden = torch.cat([self.image_part, self.model.embed_text(ids, start=0)], dim=1)
        text_valid = torch.ones_like(ids, dtype=torch.bool)
        mask = build_attention_mask(self.image_valid, text_valid, "s2s")
        out, _ = self.model.encoder(hidden, attention_mask=mask)
        self.step += 1
        return self._logp(out[:, -1])

    def reorder(self, index: torch.Tensor) -> None:
        self.image_part = self.image_part.index_select(0, index)
        self.image_valid = self.image_valid.index_select(0, index)
        self.words = self.words.index_select(0, index)
        self._reorder_condition(index)


class GuidedDecoder:
    """Guidance between two decoders of the same studies that differ only in their condition:
    ``log p = log p_c + γ·(log p_c − log p_ref)``, renormalised, for the words that

    - the conditioned decoder itself finds plausible (``p_c(w) ≥ α·max p_c``, after contrastive
      decoding's plausibility constraint; Li et al., 2023), so guidance chooses among the words
      the model would write and never promotes one it would not;
    - the hypothesis has not said yet: a word is pushed until it is written once, then it gets
      the conditioned model's own probability, as every other word does.

    The other words keep ``log p_c``. This is classifier-free guidance for text (Sanchez et al.,
    2023) with the all-normal study as the reference: a study predicted normal is decoded exactly
    as without guidance, and a finding's words get 1 + γ times the push that the condition alone
    gives them. Why it is needed: beam search returns the single most probable report, and a
    finding's phrasings are many and each is rarer than the one normal sentence, so a decoder that
    gives a finding real weight still writes the normal template. Why once: pushed at every step,
    a finding's words come back again and again ("cardiomegaly . cardiomegaly . stable
    cardiomegaly"); on the demo's validation split the once-rule took the reports with a word
    repeated back to back from 35 of 393 to 0 at the same clinical efficacy.
    """

    def __init__(self, conditioned, reference, guidance: float, plausibility: float) -> None:
        self.conditioned, self.reference = conditioned, reference
        self.guidance = guidance
        self.log_alpha = math.log(plausibility) if plausibility > 0 else None
        self.said: torch.Tensor | None = None  # (rows, V) bool: words each hypothesis has written

    def log_probs(self, previous: torch.Tensor | None) -> torch.Tensor:
        logp = self.conditioned.log_probs(previous)
        guided = logp + self.guidance * (logp - self.reference.log_probs(previous))
        if self.said is None:
            self.said = torch.zeros_like(logp, dtype=torch.bool)
        if previous is not None:
            self.said[torch.arange(len(previous), device=previous.device), previous] = True
        guide = ~self.said
        if self.log_alpha is not None:
            guide &= logp >= logp.max(-1, keepdim=True).values + self.log_alpha
        return F.log_softmax(torch.where(guide, guided, logp), dim=-1)

    def reorder(self, index: torch.Tensor) -> None:
        self.conditioned.reorder(index)
        self.reference.reorder(index)
        if self.said is not None:
            self.said = self.said.index_select(0, index)
