"""Fine-tuning with its own vocabulary carries the shared words' rows from the earlier run."""
from __future__ import annotations

import torch

from cbf.pipeline import run_recipe
from cbf.testing import build_tiny_run, tiny_recipe
from cbf.training.checkpoint import load_checkpoint


def test_refit_vocabulary_carries_shared_rows(tmp_path):
    first = tiny_recipe({"mlm": "mlm"}, views={"s2s": 1.0})
    first["trainer"]["max_steps"] = 1
    run_recipe(first, out_dir=tmp_path / "pre", log=lambda *_: None)
    state = load_checkpoint(tmp_path / "pre")
    old_vocab = state["annotators"]["tokenizer"]["vocab"]

    second = tiny_recipe({"mlm": "mlm"}, views={"s2s": 1.0}, init_from=str(tmp_path / "pre"), vocabulary="fit")
    second["data"]["dataset"]["num_studies"] = 30  # other reports: another vocabulary
    second["data"]["tokenizer"]["min_count"] = 2
    run = build_tiny_run(second, tmp_path / "ft")
    new_vocab = run.tokenizer.vocab
    assert new_vocab != old_vocab
    emb = run.model.encoder.embeddings.word_embeddings.weight
    old_emb = state["model"]["encoder.embeddings.word_embeddings.weight"]
    shared = [t for t in new_vocab if t in old_vocab]
    assert len(shared) >= 5
    for tok in shared:
        assert torch.equal(emb[new_vocab.index(tok)], old_emb[old_vocab.index(tok)])
    keep = tiny_recipe({"mlm": "mlm"}, init_from=str(tmp_path / "pre"))
    assert build_tiny_run(keep, tmp_path / "ft2").tokenizer.vocab == old_vocab
