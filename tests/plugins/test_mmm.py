"""Masked MeSH Modeling: targets, the loss against a hand computation, errors, gradients."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from cbf.api import BuildContext
from cbf.config.binding import ConfigError, bind_dataclass
from cbf.errors import DataError
from cbf.masking import IGNORE_INDEX
from cbf.testing import build_tiny_run, check_objective, first_batch, tiny_recipe
from cbf_mmm import MaskedMeshModeling


@pytest.fixture(scope="module")
def run():
    return build_tiny_run(tiny_recipe({"mmm": {"type": "mmm"}}))


def test_loss_is_cross_entropy_at_every_mesh_word(run):
    obj = run.objectives["mmm"]
    batch = first_batch(run, size=4)
    mesh = (batch["mesh_tags"] == 1) & batch["text_mask"]
    assert mesh.any() and (~mesh & batch["text_mask"]).any()
    obj.prepare(batch, "mmm", torch.Generator().manual_seed(1))
    labels = batch["mmm_labels"]
    assert torch.equal(labels != IGNORE_INDEX, mesh)  # every MeSH word is a target, nothing else
    assert torch.equal(labels[mesh], batch["text_ids"][mesh])
    run.model.eval()
    with torch.no_grad():
        out = run.model(batch, "s2s")
        loss = obj(out, batch, "mmm")
        logits = run.model.prediction_head(out.text)  # (B, L, V)
    nll = []
    for b, l in mesh.nonzero().tolist():
        row = logits[b, l]
        nll.append(float(torch.logsumexp(row, 0) - row[batch["text_ids"][b, l]]))
    assert loss.item() == pytest.approx(sum(nll) / len(nll), rel=1e-5)


def test_non_mesh_words_untouched_and_rows_without_mesh_give_nothing(run):
    obj = run.objectives["mmm"]
    batch = first_batch(run, size=4)
    batch["mesh_tags"][0] = 0  # a row without MeSH words
    obj.prepare(batch, "mmm", torch.Generator().manual_seed(2))
    non_mesh = batch["mesh_tags"] == 0
    assert torch.equal(batch["input_ids"][non_mesh], batch["text_ids"][non_mesh])
    assert (batch["mmm_labels"][0] == IGNORE_INDEX).all()
    assert (batch["input_ids"][0] == batch["text_ids"][0]).all()

    empty = first_batch(run, size=4)
    empty["mesh_tags"].zero_()
    obj.prepare(empty, "mmm", torch.Generator().manual_seed(2))
    assert obj(run.model(empty, "s2s"), empty, "mmm") is None


def test_positions_corrupted_by_an_earlier_objective_are_left_alone(run):
    obj = run.objectives["mmm"]
    batch = first_batch(run, size=4)
    mesh = (batch["mesh_tags"] == 1) & batch["text_mask"]
    b, l = mesh.nonzero()[0].tolist()
    batch["input_ids"][b, l] = run.tokenizer.mask_id  # as if MLM had taken it
    obj.prepare(batch, "mmm", torch.Generator().manual_seed(0))
    assert batch["mmm_labels"][b, l] == IGNORE_INDEX


def test_pool_is_the_mesh_vocabulary(run):
    obj = run.objectives["mmm"]
    words = {run.tokenizer.vocab[i] for i in obj.pool.tolist()}
    assert words and words <= {"heart", "enlarged", "pleural", "effusion", "lungs", "consolidation"}


def test_empty_pool_falls_back_to_the_vocabulary_with_a_warning():
    tok = SimpleNamespace(mask_id=4, special_ids={0, 1, 2, 3, 4}, vocab=[f"w{i}" for i in range(9)])
    ctx = BuildContext(model=SimpleNamespace(prediction_head=None), tokenizer=tok, mesh_token_ids=[])
    with pytest.warns(UserWarning, match="no MeSH word"):
        obj = MaskedMeshModeling(MaskedMeshModeling.Config(), ctx)
    assert obj.pool.tolist() == [5, 6, 7, 8]


def test_missing_tags_is_a_clear_error(run):
    batch = first_batch(run, size=2)
    del batch["mesh_tags"]
    with pytest.raises(DataError, match="MeSH tagger"):
        run.objectives["mmm"].prepare(batch, "mmm", torch.Generator())


def test_config_defaults_and_validation():
    cfg = bind_dataclass(MaskedMeshModeling.Config, {})
    assert cfg.views == ["mmm"] and cfg.mask_token_prob == 0.8 and cfg.random_token_prob == 0.1
    for bad in ({"views": ["nope"]}, {"mask_token_prob": 0.95}, {"random_token_prob": -0.1}):
        with pytest.raises(ConfigError):
            bind_dataclass(MaskedMeshModeling.Config, bad)


def test_shares_the_core_prediction_head(run):
    obj = run.objectives["mmm"]
    assert obj._shared["head"] is run.model.prediction_head
    assert not list(obj.parameters())  # not registered twice (the optimizer sees it once)


def test_gradients_reach_encoder_and_backbone():
    result = check_objective("mmm")
    assert set(result.losses) == {"mmm"}
