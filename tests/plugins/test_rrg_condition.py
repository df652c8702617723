"""The RRG head's findings condition (late fusion, jointly trained classifier) and guided decoding,
each checked against a hand computation."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from cbf.config.binding import ConfigError, bind_dataclass
from cbf.config.schema import RunConfig
from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS
from cbf.masking import masked_token_loss
from cbf.testing import build_tiny_run, first_batch, tiny_recipe
from cbf_rrg.condition import GAIN, NO_FINDING, FindingsCondition, normal_findings
from cbf_rrg.decoders import GuidedDecoder

CARDIOMEGALY = CHEXPERT_LABELS.index("Cardiomegaly")
EFFUSION = CHEXPERT_LABELS.index("Pleural Effusion")


def _recipe(**head):
    return tiny_recipe({}, views={"s2s": 1.0},
                       head={"type": "rrg", "training": "pseudo", "findings_condition": True, **head})


@pytest.fixture(scope="module")
def run():
    return build_tiny_run(_recipe())


@pytest.fixture()
def sharp_run():
    """Large random weights, condition map included: reports depend on image and findings."""
    run = build_tiny_run(_recipe(condition_guidance=3.0))
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for module in (run.model, run.head):
            for p in module.parameters():
                if p.dim() >= 2:
                    p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    run.model.eval()
    run.head.eval()
    return run


# -- the condition module ---------------------------------------------------------------

def test_decide_thresholds_findings_and_derives_no_finding():
    cond = FindingsCondition(hidden_size=8, threshold=0.3)
    probs = torch.full((3, 14), 0.1)
    probs[0, NO_FINDING] = 0.05  # a normal study whatever the classifier says of "No Finding"
    probs[1, CARDIOMEGALY] = 0.31
    probs[1, NO_FINDING] = 0.9  # "No Finding" never sits beside a finding
    probs[2, EFFUSION] = 0.3  # not above the threshold
    labels = cond.decide(probs)
    expected = torch.zeros(3, 14)
    expected[0, NO_FINDING] = 1
    expected[1, CARDIOMEGALY] = 1
    expected[2, NO_FINDING] = 1
    assert torch.equal(labels, expected)
    assert torch.equal(normal_findings(2), expected[[0, 2]])


def test_condition_starts_at_zero_so_the_loss_is_the_plain_loss_plus_the_classifier_bce(run):
    head = run.head
    assert torch.count_nonzero(head.condition.embedding.weight) == 0
    batch = first_batch(run)
    head.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    out = run.model(batch, "s2s")
    loss = head(out, batch, "s2s").detach()
    y = (batch["chexpert"] == 1).float()
    assert torch.equal(batch[head.condition_key], y)
    pooled = out.visual_input.mean(1)  # the toy studies have every view
    bce = F.binary_cross_entropy_with_logits(head.condition.classifier(pooled), y)
    plain = masked_token_loss(run.model.prediction_head, out.text, batch["rrg_labels"]).detach()
    assert math.isclose(float(loss), float(plain + bce), rel_tol=1e-5)


def test_condition_shifts_every_text_slot_by_gain_times_the_map(run):
    head = run.head
    batch = first_batch(run)
    head.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    out = run.model(batch, "s2s")
    g = torch.Generator().manual_seed(1)
    try:
        with torch.no_grad():
            head.condition.embedding.weight.copy_(torch.randn(head.condition.embedding.weight.shape, generator=g))
        y = batch[head.condition_key]
        shifted = out.text + GAIN * (y @ head.condition.embedding.weight.T)[:, None, :]
        pooled = out.visual_input.mean(1)
        expected = (masked_token_loss(run.model.prediction_head, shifted, batch["rrg_labels"])
                    + F.binary_cross_entropy_with_logits(head.condition.classifier(pooled), y))
        assert math.isclose(float(head(out, batch, "s2s")), float(expected), rel_tol=1e-5)
    finally:
        with torch.no_grad():
            head.condition.embedding.weight.zero_()


def test_gradients_reach_the_map_and_the_classifier_reaches_the_backbone(run):
    head = run.head
    run.model.zero_grad(set_to_none=True)
    head.zero_grad(set_to_none=True)
    batch = first_batch(run)
    head.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    out = run.model(batch, "s2s")
    head(out, batch, "s2s").backward()
    assert float(head.condition.embedding.weight.grad.norm()) > 0  # zero-initialised, still learns
    assert float(head.condition.classifier.weight.grad.norm()) > 0
    assert sum(float(p.grad.norm()) for p in run.model.backbone.parameters() if p.grad is not None) > 0


def test_missing_chexpert_labels_are_a_clear_error(run):
    batch = first_batch(run)
    del batch["chexpert"]
    with pytest.raises(DataError, match="chexpert_rules"):
        run.head.prepare(batch, "s2s", torch.Generator().manual_seed(0))


@pytest.mark.parametrize("head, message", [
    ({"condition_threshold": 1.0}, "condition_threshold"),
    ({"condition_guidance": -1.0}, "condition_guidance"),
    ({"condition_plausibility": 1.0}, "condition_plausibility"),
    ({"findings_plan": True}, "turn one of them off"),
])
def test_bad_condition_options_are_rejected(head, message):
    with pytest.raises(ConfigError, match=message):
        bind_dataclass(RunConfig, _recipe(**head))


# -- guided decoding --------------------------------------------------------------------

class _Fixed:
    """A step decoder whose log-probabilities are given; records reorders."""

    def __init__(self, logits):
        self.logp = F.log_softmax(torch.tensor(logits, dtype=torch.float), dim=-1)
        self.reordered = []

    def log_probs(self, previous):
        return self.logp.clone()

    def reorder(self, index):
        self.reordered.append(index.tolist())


def test_guided_log_probs_by_hand():
    cond = _Fixed([[2.0, 1.0, 0.0, -5.0]])
    ref = _Fixed([[3.0, 0.0, 0.0, -9.0]])
    gamma, alpha = 2.0, 0.1
    got = GuidedDecoder(cond, ref, gamma, alpha).log_probs(None)[0]
    lc, lr = cond.logp[0], ref.logp[0]
    plausible = lc >= lc.max() + math.log(alpha)  # the last word is not: it keeps log p_c
    assert plausible.tolist() == [True, True, True, False]
    raw = torch.where(plausible, lc + gamma * (lc - lr), lc)
    expected = raw - torch.logsumexp(raw, 0)
    assert torch.allclose(got, expected, atol=1e-6)
    assert int(got.argmax()) == 1  # the word the condition favours over the reference wins
    assert int(lc.argmax()) == 0  # …where the conditioned model alone would not choose it
    # without the constraint the implausible word is pushed too
    free = GuidedDecoder(cond, ref, gamma, 0.0).log_probs(None)[0]
    raw = lc + gamma * (lc - lr)
    assert torch.allclose(free, raw - torch.logsumexp(raw, 0), atol=1e-6)


def _guided_by_hand(lc, lr, gamma, guide):
    raw = torch.where(guide, lc + gamma * (lc - lr), lc)
    return raw - torch.logsumexp(raw, 0)


def test_a_word_is_guided_until_the_hypothesis_has_said_it():
    row_c, row_r = [2.0, 1.0, 0.0, -5.0], [3.0, 0.0, 0.0, -9.0]
    cond, ref = _Fixed([row_c, row_c]), _Fixed([row_r, row_r])
    lc, lr = cond.logp[0], ref.logp[0]
    dec = GuidedDecoder(cond, ref, 2.0, 0.1)
    plausible = torch.tensor([True, True, True, False])
    first = dec.log_probs(None)
    assert torch.allclose(first[0], _guided_by_hand(lc, lr, 2.0, plausible), atol=1e-6)
    second = dec.log_probs(torch.tensor([1, 0]))  # row 0 wrote word 1, row 1 wrote word 0
    assert torch.allclose(second[0], _guided_by_hand(lc, lr, 2.0, plausible & torch.tensor([1, 0, 1, 1]).bool()),
                          atol=1e-6)
    assert torch.allclose(second[1], _guided_by_hand(lc, lr, 2.0, plausible & torch.tensor([0, 1, 1, 1]).bool()),
                          atol=1e-6)
    assert int(second[0].argmax()) == 0  # word 1 is no longer pushed past word 0
    dec.reorder(torch.tensor([1, 1]))  # both beams now continue row 1: word 0 said, not word 1
    third = dec.log_probs(torch.tensor([2, 2]))
    expected = _guided_by_hand(lc, lr, 2.0, plausible & torch.tensor([0, 1, 0, 1]).bool())
    assert torch.allclose(third[0], expected, atol=1e-6) and torch.allclose(third[1], expected, atol=1e-6)


def test_guidance_changes_nothing_when_the_condition_is_the_reference():
    cond = _Fixed([[0.5, 2.0, -1.0, -8.0]])
    got = GuidedDecoder(cond, _Fixed([[0.5, 2.0, -1.0, -8.0]]), 7.0, 0.1).log_probs(None)
    assert torch.allclose(got, cond.logp, atol=1e-6)


def test_guided_decoder_reorders_both():
    a, b = _Fixed([[0.0, 1.0]]), _Fixed([[0.0, 1.0]])
    GuidedDecoder(a, b, 1.0, 0.1).reorder(torch.tensor([0, 0]))
    assert a.reordered == b.reordered == [[0, 0]]


def test_cached_and_uncached_guided_decoding_agree(sharp_run):
    run = sharp_run
    batch = first_batch(run, size=6)
    kw = dict(beam_size=3, max_length=12)
    cached = run.head.generate(run.model, batch, run.tokenizer, use_cache=True, **kw)
    full = run.head.generate(run.model, batch, run.tokenizer, use_cache=False, **kw)
    assert cached == full
    assert len({tuple(r) for r in cached}) > 1


def test_given_findings_steer_the_report_and_normal_ones_need_no_guidance(sharp_run):
    run, head = sharp_run, sharp_run.head
    batch = first_batch(run, size=4)
    n = len(batch["ids"])
    normal = normal_findings(n)
    sick = torch.zeros(n, 14)
    sick[:, CARDIOMEGALY] = 1
    sick[:, EFFUSION] = 1
    kw = dict(beam_size=2, max_length=12)
    as_normal = head.generate(run.model, batch, run.tokenizer, findings=normal, **kw)
    as_sick = head.generate(run.model, batch, run.tokenizer, findings=sick, **kw)
    assert as_normal != as_sick, "the findings never reached the decoder"
    guidance = head.config.condition_guidance
    try:
        head.config.condition_guidance = 0.0
        unguided = head.generate(run.model, batch, run.tokenizer, findings=normal, **kw)
    finally:
        head.config.condition_guidance = guidance
    assert unguided == as_normal  # the all-normal study is the reference: guidance is a no-op


def test_generate_uses_the_classifier_when_no_findings_are_given(sharp_run):
    run, head = sharp_run, sharp_run.head
    batch = first_batch(run, size=4)
    with torch.no_grad():
        visual, valid = run.model.visual_tokens(batch["images"], batch["image_mask"])
        decided = head.condition.decide(head.condition.probabilities(visual, valid))
    kw = dict(beam_size=2, max_length=12)
    assert (head.generate(run.model, batch, run.tokenizer, **kw)
            == head.generate(run.model, batch, run.tokenizer, findings=decided, **kw))


def test_findings_are_checked(sharp_run, run):
    batch = first_batch(sharp_run, size=2)
    with pytest.raises(ValueError, match=r"\(studies, 14\)"):
        sharp_run.head.generate(sharp_run.model, batch, sharp_run.tokenizer, findings=torch.zeros(2, 13))
    plain = build_tiny_run(tiny_recipe({}, views={"s2s": 1.0}, head={"type": "rrg"}))
    with pytest.raises(ValueError, match="no findings_condition"):
        plain.head.generate(plain.model, batch, plain.tokenizer, findings=torch.zeros(2, 14))
