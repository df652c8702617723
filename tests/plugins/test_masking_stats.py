"""Corruption statistics over many samples: MMM's 80/10/10 with replacements from the MeSH
pool, MLM's 15% of non-MeSH tokens (MeSH words never MLM targets)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from cbf.api import BuildContext
from cbf.masking import IGNORE_INDEX
from cbf_mlm import MaskedLanguageModeling
from cbf_mmm import MaskedMeshModeling

PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
MESH_IDS = list(range(5, 15))  # MeSH words
OTHER_IDS = list(range(15, 60))  # everything else
B, L = 1000, 24


def _ctx() -> BuildContext:
    tok = SimpleNamespace(mask_id=MASK, sep_id=SEP, pad_id=PAD, special_ids={PAD, UNK, CLS, SEP, MASK},
                          vocab=[f"w{i}" for i in range(60)])
    return BuildContext(model=SimpleNamespace(prediction_head=None), tokenizer=tok, mesh_token_ids=MESH_IDS)


def _batch(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(8, L, (B,), generator=g)  # real words, then [SEP], then padding
    tags = (torch.rand(B, L, generator=g) < 0.3).long()
    text = torch.where(tags == 1, torch.tensor(MESH_IDS)[torch.randint(len(MESH_IDS), (B, L), generator=g)],
                       torch.tensor(OTHER_IDS)[torch.randint(len(OTHER_IDS), (B, L), generator=g)])
    pos = torch.arange(L)[None]
    text = torch.where(pos < lengths[:, None], text, torch.full_like(text, PAD))
    text[torch.arange(B), lengths] = SEP
    tags = tags * (pos < lengths[:, None])
    return {"text_ids": text, "text_mask": text != PAD, "input_ids": text.clone(), "mesh_tags": tags}


def _shares(before: torch.Tensor, after: torch.Tensor, targets: torch.Tensor) -> tuple[float, float, float]:
    n = int(targets.sum())
    masked = (after == MASK) & targets
    replaced = (after != MASK) & (after != before) & targets
    kept = (after == before) & targets
    return masked.sum().item() / n, replaced.sum().item() / n, kept.sum().item() / n


def test_mmm_corrupts_every_mesh_word_80_10_10_from_the_mesh_pool():
    obj = MaskedMeshModeling(MaskedMeshModeling.Config(), _ctx())
    batch = _batch()
    before = batch["input_ids"].clone()
    obj.prepare(batch, "mmm", torch.Generator().manual_seed(7))
    after, labels = batch["input_ids"], batch["mmm_labels"]
    mesh = batch["mesh_tags"].bool() & batch["text_mask"]
    assert int(mesh.sum()) > 4000
    assert torch.equal(labels != IGNORE_INDEX, mesh)
    assert torch.equal(after[~mesh], before[~mesh])  # non-MeSH words, [SEP] and padding untouched
    masked, replaced, kept = _shares(before, after, mesh)
    # a random MeSH word equals the original 1 time in 10: 10% random -> 9% changed, 11% kept
    assert masked == pytest.approx(0.80, abs=0.025)
    assert replaced == pytest.approx(0.09, abs=0.015)
    assert kept == pytest.approx(0.11, abs=0.015)
    swapped = after[mesh & (after != MASK) & (after != before)]
    assert set(swapped.tolist()) <= set(MESH_IDS)  # replacements only from the MeSH pool
    assert len(set(swapped.tolist())) == len(MESH_IDS)  # ... drawn across the whole pool


def test_mlm_targets_15_percent_of_non_mesh_tokens_and_never_a_mesh_word():
    obj = MaskedLanguageModeling(MaskedLanguageModeling.Config(), _ctx())
    batch = _batch(seed=1)
    before = batch["input_ids"].clone()
    obj.prepare(batch, "s2s", torch.Generator().manual_seed(3))
    targets = batch["mlm_labels"] != IGNORE_INDEX
    mesh = batch["mesh_tags"].bool()
    candidates = batch["text_mask"] & ~mesh  # non-MeSH words and the closing [SEP]
    assert not (targets & mesh).any()
    assert torch.equal(batch["input_ids"][mesh], before[mesh])
    assert torch.equal(batch["input_ids"][~targets], before[~targets])
    rate = targets.sum().item() / candidates.sum().item()
    assert rate == pytest.approx(0.15, abs=0.02)
    per_row = targets.sum(1)
    expected = torch.clamp(torch.round(candidates.sum(1).float() * 0.15), min=1).long()
    assert torch.equal(per_row, expected)  # a fixed count per row (the core's choose_positions)
    masked, replaced, kept = _shares(before, batch["input_ids"], targets)
    assert masked == pytest.approx(0.80, abs=0.04)
    assert replaced + kept == pytest.approx(0.20, abs=0.04)
    assert kept >= 0.08  # 10% kept (+ the rare random draw equal to the original)


def test_mmm_then_mlm_on_one_step_never_share_a_position():
    mmm = MaskedMeshModeling(MaskedMeshModeling.Config(views=["s2s"]), _ctx())
    mlm = MaskedLanguageModeling(MaskedLanguageModeling.Config(exclude_mesh=False), _ctx())
    batch = _batch(seed=2)
    g = torch.Generator().manual_seed(5)
    mmm.prepare(batch, "s2s", g)
    changed_by_mmm = batch["input_ids"] != batch["text_ids"]
    assert changed_by_mmm.sum() > 3000
    mlm.prepare(batch, "s2s", g)
    # MLM skips the positions MMM changed; MMM's kept 10% stay eligible (they look untouched)
    assert not (changed_by_mmm & (batch["mlm_labels"] != IGNORE_INDEX)).any()
    assert ((batch["mmm_labels"] != IGNORE_INDEX) & (batch["mlm_labels"] != IGNORE_INDEX)).any()


def test_prepare_leaves_the_batch_fields_it_reads_unchanged():
    """Objectives share one batch per step (and evaluation reuses it across views): only
    ``input_ids`` and an objective's own label field may change. ``text_mask`` feeds the
    attention mask, so changing it would hide words from the encoder."""
    for obj in (MaskedLanguageModeling(MaskedLanguageModeling.Config(), _ctx()),
                MaskedMeshModeling(MaskedMeshModeling.Config(), _ctx())):
        batch = _batch(seed=4)
        original = {k: v.clone() for k, v in batch.items()}
        obj.prepare(batch, "s2s", torch.Generator().manual_seed(0))
        for key in ("text_ids", "text_mask", "mesh_tags"):
            assert torch.equal(batch[key], original[key]), f"{type(obj).__name__}.prepare changed {key!r}"
