"""The RRG head's findings plan: the plan words per study, the rewritten training text, the
plan cut from generated reports, and clear errors."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from cbf.errors import DataError
from cbf.testing import build_tiny_run, first_batch, tiny_recipe
from cbf_rrg.plan import MAX_PLAN_WORDS, FindingsPlan

NAN = math.nan


class _Vocab:
    """A tokenizer stand-in: ids are positions in ``vocab``; unknown words map to [UNK]."""

    def __init__(self, words):
        self.vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]

    def token_id(self, word):
        return self.vocab.index(word) if word in self.vocab else 1

    unk_id, pad_id = 1, 0


ALL = ["normal", ".", "mediastinum", "cardiomegaly", "nodule", "opacity", "edema", "consolidation", "pneumonia",
       "atelectasis", "pneumothorax", "effusion", "thickening", "fracture", "device", "heart", "big"]


def _row(**positive):
    row = [NAN] * 14
    for index, value in positive.items():
        row[int(index[1:])] = value
    return row


def test_plan_words_are_the_positive_findings_in_chexpert_order():
    tok = _Vocab(ALL)
    plan = FindingsPlan(tok)
    ids = tok.token_id
    assert plan.words(_row()) == [ids("normal"), ids(".")]
    assert plan.words(_row(c0=1.0)) == [ids("normal"), ids(".")]
    # uncertain (-1), negative (0) and blank are not positive; order is CheXpert's, not the row's
    assert plan.words(_row(c10=1.0, c2=1.0, c8=-1.0, c4=0.0)) == [ids("cardiomegaly"), ids("effusion"), ids(".")]
    many = plan.words(_row(**{f"c{i}": 1.0 for i in range(1, 14)}))
    assert len(many) == MAX_PLAN_WORDS + 1 == plan.max_length
    assert many[0] == ids("mediastinum")


def test_missing_words_warn_or_fail():
    with pytest.warns(UserWarning, match="Cardiomegaly"):
        plan = FindingsPlan(_Vocab([w for w in ALL if w != "cardiomegaly"]))
    assert plan.words(_row(c2=1.0)) == plan.words(_row())  # nothing to say it with: "normal ."
    with pytest.raises(ValueError, match="normal"):
        FindingsPlan(_Vocab([w for w in ALL if w != "normal"]))


def test_prepend_rewrites_every_report_field():
    tok = _Vocab(ALL)
    plan = FindingsPlan(tok)
    i = tok.token_id
    text = torch.tensor([[i("heart"), i("big"), 3, 0], [i("heart"), 3, 0, 0]])
    batch = {"text_ids": text, "input_ids": text.clone(), "text_mask": text != 0,
             "mesh_tags": torch.tensor([[1, 0, 0, 0], [1, 0, 0, 0]]),
             "chexpert": torch.tensor([_row(c2=1.0), _row()])}
    plan.prepend(batch)
    assert batch["text_ids"].tolist() == [[i("cardiomegaly"), i("."), i("heart"), i("big"), 3],
                                          [i("normal"), i("."), i("heart"), 3, 0]]
    assert torch.equal(batch["input_ids"], batch["text_ids"])
    assert batch["text_mask"].tolist() == [[True] * 5, [True] * 4 + [False]]
    assert batch["mesh_tags"].tolist() == [[0, 0, 1, 0, 0], [0, 0, 1, 0, 0]]
    assert plan.strip([i("cardiomegaly"), i("."), i("heart"), i("big")]) == [i("heart"), i("big")]
    assert plan.strip([i("heart"), i("big")]) == [i("heart"), i("big")]  # no plan end: unchanged
    far = [i("heart")] * plan.max_length + [i("."), i("big")]
    assert plan.strip(far) == far  # an end word past the plan's length belongs to the report


def test_prepend_errors_name_the_problem():
    plan = FindingsPlan(_Vocab(ALL))
    text = torch.tensor([[5, 3]])
    with pytest.raises(DataError, match="chexpert"):
        plan.prepend({"text_ids": text, "input_ids": text.clone(), "text_mask": text != 0})
    with pytest.raises(ValueError, match="before any objective"):
        plan.prepend({"text_ids": text, "input_ids": torch.tensor([[4, 3]]), "text_mask": text != 0,
                      "chexpert": torch.tensor([_row()])})


@pytest.fixture(scope="module")
def plan_run():
    with pytest.warns(UserWarning, match="left out of the plans"):  # the toy reports never say "cardiomegaly"
        run = build_tiny_run(tiny_recipe({}, views={"s2s": 1.0},
                                         head={"type": "rrg", "training": "pseudo", "findings_plan": True}))
    return run


def test_training_with_a_plan_predicts_the_plan_first(plan_run):
    run, head = plan_run, plan_run.head
    tok = run.tokenizer
    batch = first_batch(run)
    effusion = batch["chexpert"][:, 10] == 1
    assert effusion.any() and (~effusion).any()
    head.prepare(batch, "s2s", torch.Generator().manual_seed(0))
    labels = batch["rrg_labels"]
    half = labels.shape[1] // 2  # pseudo masks: the words, then one [MASK] per word
    first = labels[:, half]  # the first [MASK] predicts the first plan word
    assert torch.equal(first[effusion], torch.full_like(first[effusion], tok.token_id("effusion")))
    assert torch.equal(first[~effusion], torch.full_like(first[~effusion], tok.token_id("normal")))
    assert (labels[:, half + 1] == tok.token_id(".")).all()
    loss = head(run.model(batch, "s2s"), batch, "s2s")
    assert torch.isfinite(loss)


def test_generate_cuts_the_plan(plan_run):
    run, head = plan_run, plan_run.head
    g = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in run.model.parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    batch = first_batch(run, size=4)
    cut = head.generate(run.model, batch, run.tokenizer, beam_size=2, max_length=8)
    plan = head.plan
    try:
        head.plan = None
        raw = head.generate(run.model, batch, run.tokenizer, beam_size=2, max_length=8 + plan.max_length)
    finally:
        head.plan = plan
    assert cut == [plan.strip(r) for r in raw]
    assert any(len(c) < len(r) for c, r in zip(cut, raw)), "no generated report had a plan to cut"
