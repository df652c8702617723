"""Radiograph report generation (paper, "Downstream Tasks"): fine-tuning and decoding.

Training: "fine-tune without the bidirectional objective". On the s2s view a share of the
report's positions (``mask_rate``, VLP's 15% by default) is corrupted 80/10/10 by the core's
shared :func:`cbf.masking.corrupt` and predicted through the model's shared prediction head;
each target sees the image and the words to its left, exactly what the decoder sees. MeSH
words are left to MMM (``exclude_mesh``), which the recipe adds on its own share of steps
(paper: s2s 0.75 : MMM 0.25). The report's closing [SEP] is a candidate target like any word,
so that decoding learns to stop; ``always_predict_end`` makes it a target on every row.

Inference: :meth:`ReportGenerationHead.generate`, the paper's append-[MASK]-and-predict loop
under beam search (:mod:`cbf_rrg.beam`), with a key/value cache (:mod:`cbf_rrg.decoders`).

``findings_plan`` (off by default; not in the paper) makes the decoder first write a plan, the
study's positive CheXpert findings as words, then the report; see :mod:`cbf_rrg.plan`.
``findings_condition`` (off by default; not in the paper) conditions every word on the study's
CheXpert findings, predicted from the image at inference, and decodes with guidance; see
:mod:`cbf_rrg.condition`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Literal

import torch

from cbf.api import VIEW_ATTENTION, BuildContext, Head, Tokenizer, check_objective_options
from cbf.masking import (IGNORE_INDEX, check_probs, choose_positions, corrupt, masked_token_loss,
                         ordinary_ids)
from cbf_rrg.beam import BeamOptions, beam_search
from cbf_rrg.condition import FindingsCondition, normal_findings
from cbf_rrg.decoders import CachedDecoder, FullDecoder, GuidedDecoder
from cbf_rrg.plan import FindingsPlan


class ReportGenerationHead(Head):
    task: ClassVar[str] = "generation"

    @dataclass
    class Config:
        weight: float = 1.0
        #: s2s only: the paper fine-tunes without the bidirectional objective
        views: list[str] = field(default_factory=lambda: ["s2s"])
        #: "masked": VLP's seq2seq fine-tuning (corrupt ``mask_rate`` of the words, predict them
        #: under s2s). "pseudo": every word is predicted on every step, each from a [MASK] that
        #: sees exactly what decoding will show it — the image, the real words to its left and
        #: itself (UniLMv2's pseudo-masks: one pass, the text doubled with a [MASK] per slot).
        #: The paper does not say which; "pseudo" learns the decoder's task directly and gives
        #: ~1/mask_rate times more targets per step.
        training: Literal["masked", "pseudo"] = "masked"
        #: share of the candidate positions predicted per report. 0.15 is VLP's seq2seq
        #: fine-tuning; higher rates (0.3–0.5) give more targets per step (faster fine-tuning on
        #: small sets) at the price of a more corrupted left context than decoding will see.
        mask_rate: float = 0.15
        mask_token_prob: float = 0.8
        random_token_prob: float = 0.1
        #: MeSH-tagged words are MMM's targets (the recipe adds MMM on its own steps)
        exclude_mesh: bool = True
        #: the closing [SEP] is a candidate target (decoding must learn to stop)
        predict_end: bool = True
        #: also make the closing [SEP] a target on every row, on top of the sampled ones
        always_predict_end: bool = False
        # decoding defaults (the paper: beam 5; max length 60 IU, 80 COV-CTR, 100 MIMIC-CXR);
        # ``cbf generate`` options override them
        beam_size: int = 5
        max_length: int = 60
        min_length: int = 0
        length_penalty: float = 1.0
        no_repeat_ngram_size: int = 0
        #: never emit [UNK] (a report of "[UNK]" words helps nobody)
        block_unk: bool = True
        #: not in the paper: write the study's positive CheXpert findings as words first
        #: ("cardiomegaly effusion ." or "normal ."), then the report; the plan is cut from the
        #: output. Needs the ``chexpert`` field (a labeler annotator or dataset labels). See
        #: cbf_rrg.plan for why: the plan's words depend on the image alone.
        findings_plan: bool = False
        #: not in the paper: condition every word on the study's 14 CheXpert findings — its own
        #: labels while training, a jointly trained image classifier's at inference. Needs the
        #: ``chexpert`` field. See cbf_rrg.condition
        findings_condition: bool = False
        #: findings_condition: a finding is on at inference when its probability exceeds this
        condition_threshold: float = 0.3
        #: findings_condition: guidance γ at decoding; 0 decodes the conditioned model as it is
        condition_guidance: float = 0.0
        #: findings_condition: guidance keeps only words with p ≥ this × the top word's p under
        #: the conditioned model (0 keeps every word)
        condition_plausibility: float = 0.1

        def validate(self) -> None:
            check_objective_options(self.views, self.weight)
            bi = [v for v in self.views if VIEW_ATTENTION[v] != "s2s"]
            if bi:
                raise ValueError(f"report generation trains on s2s views only (the decoder sees the left "
                                 f"context alone); got {bi}")
            if not 0 < self.mask_rate <= 1:
                raise ValueError(f"mask_rate must be in (0, 1], got {self.mask_rate}")
            check_probs(self.mask_token_prob, self.random_token_prob)
            self.beam_options().validate()
            if not 0 < self.condition_threshold < 1:
                raise ValueError(f"condition_threshold must be in (0, 1), got {self.condition_threshold}")
            if self.condition_guidance < 0:
                raise ValueError(f"condition_guidance must be >= 0, got {self.condition_guidance}")
            if not 0 <= self.condition_plausibility < 1:
                raise ValueError(f"condition_plausibility must be in [0, 1), got {self.condition_plausibility}")
            if self.findings_plan and self.findings_condition:
                raise ValueError("findings_plan and findings_condition are two answers to the same problem; "
                                 "turn one of them off")

        def beam_options(self, **overrides: Any) -> BeamOptions:
            values = {"beam_size": self.beam_size, "max_length": self.max_length, "min_length": self.min_length,
                      "length_penalty": self.length_penalty, "no_repeat_ngram_size": self.no_repeat_ngram_size}
            values.update({k: v for k, v in overrides.items() if v is not None})
            return BeamOptions(**values)

    labels_key = "rrg_labels"
    condition_key = "rrg_findings"

    def __init__(self, config: "ReportGenerationHead.Config", ctx: BuildContext) -> None:
        super().__init__(config)
        tok = ctx.tokenizer
        self.mask_id, self.sep_id = tok.mask_id, tok.sep_id
        self.register_buffer("pool", torch.tensor(ordinary_ids(tok), dtype=torch.long), persistent=False)
        self.plan = FindingsPlan(tok) if config.findings_plan else None
        self.condition = (FindingsCondition(ctx.model.hidden_size, config.condition_threshold)
                          if config.findings_condition else None)
        # the prediction head is the model's, shared with MLM/MMM: kept out of this module's parameters
        self._shared = {"head": ctx.model.prediction_head}

    # -- training ------------------------------------------------------------------------
    def prepare(self, batch: dict[str, Any], view: str, generator: torch.Generator) -> None:
        if self.plan is not None:
            self.plan.prepend(batch)
        if self.condition is not None:
            batch[self.condition_key] = self.condition.targets(batch)
        if self.config.training == "pseudo":
            self._prepare_pseudo(batch)
            return
        text = batch["text_ids"]
        real = batch["text_mask"].bool()
        candidates = real.clone()
        is_end = text == self.sep_id
        if not self.config.predict_end:
            candidates &= ~is_end
        if self.config.exclude_mesh and "mesh_tags" in batch:
            candidates &= batch["mesh_tags"] == 0
        untouched = batch["input_ids"] == text  # never take positions an earlier objective owns
        candidates &= untouched
        targets = choose_positions(candidates, self.config.mask_rate, generator)
        if self.config.always_predict_end:
            targets |= is_end & real & untouched
        batch["input_ids"], labels = corrupt(batch["input_ids"], targets, self.mask_id, self.pool, generator,
                                             self.config.mask_token_prob, self.config.random_token_prob)
        batch[self.labels_key] = labels

    def _prepare_pseudo(self, batch: dict[str, Any]) -> None:
        """Text slots become ``w_1..w_L`` followed by ``[MASK]_1..[MASK]_L`` (same positions);
        [MASK]_i sees the image, w_<i and itself; w_i sees the image and w_≤i."""
        text, real = batch["text_ids"], batch["text_mask"].bool()
        if not torch.equal(batch["input_ids"], text):
            raise ValueError("the rrg head with training 'pseudo' must be the only objective that changes the "
                             "text on its view; another objective corrupted input_ids first")
        b, length = text.shape
        dev = text.device
        tril = torch.ones(length, length, dtype=torch.bool, device=dev).tril()
        vis = torch.zeros(2 * length, 2 * length, dtype=torch.bool, device=dev)
        vis[:length, :length] = tril  # words: causal
        vis[length:, :length] = tril.tril(-1)  # [MASK]_i: words strictly before i
        vis[length:, length:] = torch.eye(length, dtype=torch.bool, device=dev)  # and itself
        batch["input_ids"] = torch.cat([text, torch.full_like(text, self.mask_id)], dim=1)
        batch["text_mask"] = torch.cat([real, real], dim=1)
        pos = torch.arange(length, device=dev)
        batch["text_positions"] = torch.cat([pos, pos]).expand(b, 2 * length)
        batch["text_visibility"] = vis.expand(b, -1, -1)
        targets = real if self.config.predict_end else real & (text != self.sep_id)
        labels = torch.full((b, 2 * length), IGNORE_INDEX, dtype=torch.long, device=dev)
        labels[:, length:] = torch.where(targets, text, torch.full_like(text, IGNORE_INDEX))
        batch[self.labels_key] = labels

    def forward(self, out: Any, batch: dict[str, Any], view: str) -> torch.Tensor | None:
        text, labels = out.text, batch[self.labels_key]
        if self.condition is not None:
            findings = batch[self.condition_key].to(text.device)
            text = text + self.condition.embed(findings)[:, None, :].to(text.dtype)
        loss = masked_token_loss(self._shared["head"], text, labels)
        if self.condition is None:
            return loss
        extra = self.condition.classifier_loss(out.visual_input, out.visual_valid, findings)
        return extra if loss is None else loss + extra

    # -- inference -----------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, model: Any, batch: dict[str, Any], tokenizer: Tokenizer, *,
                 beam_size: int | None = None, max_length: int | None = None, min_length: int | None = None,
                 length_penalty: float | None = None, no_repeat_ngram_size: int | None = None,
                 block_unk: bool | None = None, use_cache: bool = True,
                 findings: torch.Tensor | None = None) -> list[list[int]]:
        """Token ids (no specials) of the best report per study of ``batch`` (``images``,
        ``image_mask``). Options left at None take the head's configured values. With
        ``findings_condition``, ``findings`` (B, 14) 0/1 CheXpert labels replace the image
        classifier's decisions (to write a report that states given findings, or for checks)."""
        options = self.config.beam_options(beam_size=beam_size, max_length=max_length, min_length=min_length,
                                           length_penalty=length_penalty,
                                           no_repeat_ngram_size=no_repeat_ngram_size)
        options.validate()
        if self.plan is not None:  # the plan's words come on top of the report's length
            options = replace(options, max_length=options.max_length + self.plan.max_length)
        images, image_mask = batch["images"], batch["image_mask"]
        device = next(model.parameters()).device
        images, image_mask = images.to(device), image_mask.to(device)
        blocked = [tokenizer.pad_id, tokenizer.cls_id, tokenizer.mask_id]
        if self.config.block_unk if block_unk is None else block_unk:
            blocked.append(tokenizer.unk_id)
        was_training = model.training
        model.eval()
        try:
            cls = CachedDecoder if use_cache else FullDecoder
            if self.condition is None:
                if findings is not None:
                    raise ValueError("findings are given but this rrg head has no findings_condition")
                decoder = cls(model, images, image_mask, options.beam_size, tokenizer.mask_id)
            else:
                decoder = self._conditioned_decoder(cls, model, images, image_mask, options.beam_size,
                                                    tokenizer.mask_id, findings)
            best = beam_search(decoder, images.shape[0], options, sep_id=tokenizer.sep_id, blocked_ids=blocked,
                               device=device)
        finally:
            model.train(was_training)
        reports = [list(h.tokens) if h is not None else [] for h in best]
        if self.plan is not None:
            reports = [self.plan.strip(ids) for ids in reports]
        return reports

    def _conditioned_decoder(self, cls: type, model: Any, images: torch.Tensor, image_mask: torch.Tensor,
                             beam_size: int, mask_id: int, findings: torch.Tensor | None) -> Any:
        visual, valid = model.visual_tokens(images, image_mask)
        if findings is None:
            findings = self.condition.decide(self.condition.probabilities(visual, valid))
        elif findings.shape != (images.shape[0], self.condition.embedding.in_features):
            raise ValueError(f"findings must be (studies, {self.condition.embedding.in_features}) 0/1 labels, "
                             f"got {tuple(findings.shape)}")
        findings = findings.to(images.device).float()
        conditioned = cls(model, images, image_mask, beam_size, mask_id, self.condition.embed(findings))
        if not self.config.condition_guidance:
            return conditioned
        normal = self.condition.embed(normal_findings(images.shape[0], images.device))
        reference = cls(model, images, image_mask, beam_size, mask_id, normal)
        return GuidedDecoder(conditioned, reference, self.config.condition_guidance,
                             self.config.condition_plausibility)
