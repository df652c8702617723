"""Report generation head: training targets and loss, the decoders (cached == uncached, beam 1 ==
a hand-written greedy decode), n-gram blocking, the length penalty's ranking, options."""
from __future__ import annotations

import math

import pytest
import torch

from cbf.config.binding import ConfigError, bind_dataclass
from cbf.config.schema import RunConfig
from cbf.masking import IGNORE_INDEX
from cbf.testing import build_tiny_run, first_batch, tiny_recipe
from cbf_rrg import BeamOptions, beam_search
from cbf_rrg.beam import block_repeated_ngrams


def _recipe(**head):
    return tiny_recipe({}, views={"s2s": 1.0}, head={"type": "rrg", **head})


@pytest.fixture(scope="module")
def run():
    return build_tiny_run(_recipe())


@pytest.fixture(scope="module")
def sharp_run():
    """Random weights with a large scale: reports depend on the image and beams disagree."""
    run = build_tiny_run(_recipe())
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in run.model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    run.model.eval()
    return run


def _studies(run, size=6):
    return first_batch(run, size=size)


# -- training ---------------------------------------------------------------------------

def test_contract_loss_finite_and_gradient_reaches_encoder_and_backbone(run):
    head = run.head
    assert head.task == "generation" and head.views == frozenset({"s2s"})
    # the shared prediction head is the model's, not the head's own parameter
    assert not any(p is q for p in head.parameters() for q in run.model.prediction_head.parameters())
    run.model.train()
    run.model.zero_grad(set_to_none=True)
    batch = first_batch(run)
    head.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    loss = head(run.model(batch, "s2s"), batch, "s2s")
    assert loss is not None and loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    for part in (run.model.encoder, run.model.backbone, run.model.prediction_head):
        norm = sum(float(p.grad.norm()) for p in part.parameters() if p.grad is not None)
        assert norm > 0, f"no gradient reaches {type(part).__name__}"


def test_targets_skip_mesh_words_and_loss_is_cross_entropy(run):
    head = run.head
    batch = first_batch(run)
    head.prepare(batch, "s2s", torch.Generator().manual_seed(1))
    labels = batch["rrg_labels"]
    selected = labels != IGNORE_INDEX
    assert selected.any()
    assert not (selected & (batch["mesh_tags"] == 1)).any()
    assert torch.equal(labels[selected], batch["text_ids"][selected])
    assert not selected[~batch["text_mask"]].any()  # never padding
    run.model.eval()
    with torch.no_grad():
        out = run.model(batch, "s2s")
        loss = head(out, batch, "s2s")
        logits = run.model.prediction_head(out.text)
    nll = [float(torch.logsumexp(logits[b, l], 0) - logits[b, l, batch["text_ids"][b, l]])
           for b, l in selected.nonzero().tolist()]
    assert loss.item() == pytest.approx(sum(nll) / len(nll), rel=1e-5)


def test_closing_sep_is_a_target(run):
    sep = run.tokenizer.sep_id
    seen_end = False
    for seed in range(40):  # sampled like any word: some draws pick it
        batch = first_batch(run)
        run.head.prepare(batch, "s2s", torch.Generator().manual_seed(seed))
        seen_end |= bool(((batch["rrg_labels"] == sep)).any())
    assert seen_end
    always = build_tiny_run(_recipe(always_predict_end=True)).head
    batch = first_batch(run)
    always.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    assert int((batch["rrg_labels"] == sep).sum()) == batch["text_ids"].shape[0]  # one per row
    never = build_tiny_run(_recipe(predict_end=False)).head
    batch = first_batch(run)
    never.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    assert not (batch["rrg_labels"] == sep).any()


@pytest.mark.parametrize("head, message", [
    ({"views": ["bi"]}, "s2s views only"),
    ({"mask_rate": 0.0}, "mask_rate"),
    ({"mask_token_prob": 0.95, "random_token_prob": 0.1}, "mask_token_prob"),
    ({"random_token_prob": -0.1}, "random_token_prob"),
    ({"beam_size": 0}, "beam_size"),
    ({"min_length": 70, "max_length": 60}, "min_length"),
])
def test_bad_config_is_rejected(head, message):
    with pytest.raises(ConfigError, match=message):
        bind_dataclass(RunConfig, _recipe(**head))


# -- decoding ---------------------------------------------------------------------------

@pytest.mark.parametrize("beam", [1, 3])
@pytest.mark.parametrize("ngram", [0, 2])
def test_cached_and_uncached_decoders_give_identical_reports(sharp_run, beam, ngram):
    run = sharp_run
    batch = _studies(run)
    kw = dict(beam_size=beam, max_length=14, no_repeat_ngram_size=ngram)
    cached = run.head.generate(run.model, batch, run.tokenizer, use_cache=True, **kw)
    full = run.head.generate(run.model, batch, run.tokenizer, use_cache=False, **kw)
    assert cached == full
    assert len(cached) == len(batch["ids"])
    assert len({tuple(r) for r in cached}) > 1, "every study got the same report: the test proves nothing"
    specials = run.tokenizer.special_ids
    assert all(t not in specials for r in cached for t in r)


def _greedy_by_hand(run, batch, max_length):
    """The paper's loop written plainly: [MASK] appended, full forward, argmax, replace, repeat."""
    tok = run.tokenizer
    blocked = [tok.pad_id, tok.cls_id, tok.mask_id, tok.unk_id]
    reports = []
    for i in range(len(batch["ids"])):
        words: list[int] = []
        for _ in range(max_length):
            ids = torch.tensor([words + [tok.mask_id]])
            one = {"images": batch["images"][i:i + 1], "image_mask": batch["image_mask"][i:i + 1],
                   "input_ids": ids, "text_mask": torch.ones_like(ids, dtype=torch.bool)}
            with torch.no_grad():
                logits = run.model.prediction_head(run.model(one, "s2s").text[0, -1])
            logits[blocked] = -math.inf
            choice = int(logits.argmax())
            if choice == tok.sep_id:
                break
            words.append(choice)
        reports.append(words)
    return reports


def test_beam_one_is_the_greedy_decode(sharp_run):
    run = sharp_run
    batch = _studies(run, size=4)
    want = _greedy_by_hand(run, batch, max_length=12)
    got = run.head.generate(run.model, batch, run.tokenizer, beam_size=1, max_length=12)
    assert got == want


def test_beam_search_scores_at_least_as_well_as_greedy(sharp_run):
    run = sharp_run
    batch = _studies(run, size=4)
    greedy = run.head.generate(run.model, batch, run.tokenizer, beam_size=1, max_length=10, min_length=10)
    beam = run.head.generate(run.model, batch, run.tokenizer, beam_size=4, max_length=10, min_length=10)
    assert all(len(r) == 10 for r in greedy + beam)  # min_length = max_length forces the length
    assert greedy != beam  # the search finds other (better-scoring) reports


def test_no_repeat_ngram_blocking(sharp_run):
    run = sharp_run
    batch = _studies(run)
    plain = run.head.generate(run.model, batch, run.tokenizer, beam_size=2, max_length=14, min_length=14)
    assert any(len(set(r)) < len(r) for r in plain), "no repeats to block: the test proves nothing"
    for n in (1, 2, 3):
        out = run.head.generate(run.model, batch, run.tokenizer, beam_size=2, max_length=14, min_length=14,
                                no_repeat_ngram_size=n)
        for report in out:
            grams = [tuple(report[i:i + n]) for i in range(len(report) - n + 1)]
            assert len(grams) == len(set(grams)), (n, report)


def test_block_repeated_ngrams_unit():
    seqs = torch.tensor([[5, 6, 5, 7, 5], [8, 9, 8, 9, 8]])
    logp = torch.zeros(2, 12)
    block_repeated_ngrams(logp, seqs, 2)  # last word 5: 5→6 and 5→7 were seen; 8→9 seen
    assert torch.isinf(logp[0]).nonzero().flatten().tolist() == [6, 7]
    assert torch.isinf(logp[1]).nonzero().flatten().tolist() == [9]
    logp = torch.zeros(2, 12)
    block_repeated_ngrams(logp, seqs, 3)  # (7,5)→? never seen; (9,8)→9 seen
    assert not torch.isinf(logp[0]).any()
    assert torch.isinf(logp[1]).nonzero().flatten().tolist() == [9]


class _ScriptedDecoder:
    """Next-word distributions keyed by the words so far (tokens 0-4 are the specials)."""

    SEP, A, B = 3, 5, 6

    def __init__(self, script, studies, beam):
        self.script = script
        self.words = [() for _ in range(studies * beam)]

    def log_probs(self, previous):
        if previous is not None:
            self.words = [w + (int(p),) for w, p in zip(self.words, previous)]
        rows = []
        for w in self.words:
            probs = torch.full((7,), 1e-9)
            for token, p in self.script.get(w, {self.A: 0.5, self.B: 0.5}).items():
                probs[token] = p
            rows.append((probs / probs.sum()).log())
        return torch.stack(rows)

    def reorder(self, index):
        self.words = [self.words[i] for i in index.tolist()]


def test_length_penalty_changes_the_ranking():
    S, A, B = _ScriptedDecoder.SEP, _ScriptedDecoder.A, _ScriptedDecoder.B
    # "a [SEP]": log .6 + log .5 = -1.204 over 2 choices; "b b b [SEP]": log .4 + 3 log .9 = -1.232 over 4
    script = {(): {A: 0.6, B: 0.4}, (A,): {S: 0.5, A: 0.25, B: 0.25}, (B,): {B: 0.9, A: 0.05, S: 0.05},
              (B, B): {B: 0.9, A: 0.05, S: 0.05}, (B, B, B): {S: 0.9, A: 0.05, B: 0.05}}
    results = {}
    for lp in (0.0, 1.0):
        options = BeamOptions(beam_size=2, max_length=10, length_penalty=lp)
        best = beam_search(_ScriptedDecoder(script, 1, 2), 1, options, sep_id=S, blocked_ids=[0, 1, 2, 4])[0]
        results[lp] = (best.tokens, best.score, best.length)
    assert results[0.0][0] == (A,) and results[0.0][2] == 2
    assert results[0.0][1] == pytest.approx(math.log(0.6) + math.log(0.5), abs=1e-5)
    assert results[1.0][0] == (B, B, B) and results[1.0][2] == 4
    assert results[1.0][1] == pytest.approx(math.log(0.4) + 3 * math.log(0.9), abs=1e-5)


def test_generate_restores_training_mode_and_rejects_bad_options(run):
    batch = _studies(run, size=2)
    run.model.train()
    run.head.generate(run.model, batch, run.tokenizer, beam_size=2, max_length=4)
    assert run.model.training
    with pytest.raises(ValueError, match="beam_size"):
        run.head.generate(run.model, batch, run.tokenizer, beam_size=0)


def test_pseudo_mask_training_matches_what_decoding_sees():
    """Under 'pseudo' training, the logits at [MASK]_t equal the greedy decoder's step-t logits
    for the same prefix: train and inference see exactly the same context."""
    import torch

    from cbf.testing import build_tiny_run, first_batch, tiny_recipe
    from cbf_rrg.decoders import FullDecoder

    run = build_tiny_run(tiny_recipe({}, head={"type": "rrg", "training": "pseudo"}))
    run.model.eval()
    head = run.objectives["rrg"]
    batch = first_batch(run, size=2)
    head.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    length = batch["text_ids"].shape[1]
    with torch.no_grad():
        out = run.model(batch, "s2s")
        pseudo_logits = run.model.prediction_head(out.text[:, length:])
        dec = FullDecoder(run.model, batch["images"], batch["image_mask"], 1, run.tokenizer.mask_id)
        previous = None
        for t in range(4):
            step = dec.log_probs(previous)
            assert torch.allclose(step, torch.log_softmax(pseudo_logits[:, t].float(), -1), atol=1e-4)
            previous = batch["text_ids"][:, t]
    loss = head(out, batch, "s2s")
    assert torch.isfinite(loss)
    n_targets = int((batch["rrg_labels"] != -100).sum())
    assert n_targets == int(batch["text_mask"][:, :length].sum())  # every word and the end
