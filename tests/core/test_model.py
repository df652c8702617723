"""The input builder and attention views, checked on the real encoder's outputs."""
from __future__ import annotations

import torch

from cbf.model.attention_masks import build_attention_mask
from cbf.testing import build_tiny_run, first_batch, tiny_recipe


def _run_and_batch():
    run = build_tiny_run(tiny_recipe({"mlm": "mlm"}))
    run.model.eval()
    batch = first_batch(run)
    return run, batch


def _changed_later_token(batch, position):
    other = dict(batch)
    ids = batch["input_ids"].clone()
    ids[:, position] = (ids[:, position] + 7) % 20 + 5  # another ordinary word id
    other["input_ids"] = ids
    return other


@torch.no_grad()
def test_s2s_later_token_does_not_change_earlier_positions():
    run, batch = _run_and_batch()
    pos = 4
    a = run.model(batch, "s2s")
    b = run.model(_changed_later_token(batch, pos), "s2s")
    c0 = 2 + a.num_visual  # first text slot in the sequence
    assert torch.allclose(a.hidden[:, : c0 + pos], b.hidden[:, : c0 + pos], atol=1e-6)
    assert not torch.allclose(a.hidden[:, c0 + pos], b.hidden[:, c0 + pos], atol=1e-4)


@torch.no_grad()
def test_bi_later_token_changes_earlier_positions():
    run, batch = _run_and_batch()
    pos = 4
    a = run.model(batch, "bi")
    b = run.model(_changed_later_token(batch, pos), "bi")
    assert not torch.allclose(a.text[:, :pos], b.text[:, :pos], atol=1e-4)
    assert not torch.allclose(a.cls, b.cls, atol=1e-4)


@torch.no_grad()
def test_s2s_image_segment_ignores_text_and_padding_is_inert():
    run, batch = _run_and_batch()
    a = run.model(batch, "s2s")
    b = run.model(_changed_later_token(batch, 0), "s2s")
    assert torch.allclose(a.cls, b.cls, atol=1e-6) and torch.allclose(a.visual, b.visual, atol=1e-6)
    # extra padding slots change nothing for real tokens, in either view
    padded = dict(batch)
    pad = torch.full((batch["input_ids"].shape[0], 3), run.tokenizer.pad_id)
    padded["input_ids"] = torch.cat([batch["input_ids"], pad], 1)
    padded["text_mask"] = torch.cat([batch["text_mask"], pad.bool() & False], 1)
    for view in ("s2s", "bi"):
        x, y = run.model(batch, view), run.model(padded, view)
        real = batch["text_mask"]
        assert torch.allclose(x.text[real], y.text[:, : real.shape[1]][real], atol=1e-5)
        assert torch.allclose(x.cls, y.cls, atol=1e-5)


@torch.no_grad()
def test_missing_view_is_masked_out():
    run, batch = _run_and_batch()
    one_view = dict(batch, image_mask=batch["image_mask"].clone())
    one_view["image_mask"][:, 1] = False
    noisy = dict(one_view, images=one_view["images"].clone())
    noisy["images"][:, 1] = torch.randn_like(noisy["images"][:, 1])
    a, b = run.model(one_view, "bi"), run.model(noisy, "bi")
    assert torch.allclose(a.cls, b.cls, atol=1e-5)
    assert a.visual_valid[:, : a.num_visual // 2].all() and not a.visual_valid[:, a.num_visual // 2 :].any()


def test_mask_layout_by_hand():
    image_valid = torch.tensor([[True, True, True, True]])  # [CLS] f1 f2 [SEP]
    text_valid = torch.tensor([[True, True, False]])  # w1 [SEP] [PAD]
    s2s = build_attention_mask(image_valid, text_valid, "s2s")[0, 0].int()
    expected = torch.tensor([
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 1, 1, 1, 0, 0],
        [1, 1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 1, 1, 0],
    ])
    assert torch.equal(s2s, expected)
    bi = build_attention_mask(image_valid, text_valid, "bi")[0, 0].int()
    assert torch.equal(bi, torch.tensor([[1, 1, 1, 1, 1, 1, 0]] * 7))
    dual = build_attention_mask(image_valid, text_valid, "dual")[0, 0].int()
    assert torch.equal(dual, torch.tensor([[1, 1, 1, 1, 0, 0, 0]] * 4 + [[0, 0, 0, 0, 1, 1, 0]] * 3))


@torch.no_grad()
def test_dual_view_encodes_image_and_report_apart():
    """Under 'dual' the report's outputs do not depend on the image and the image's not on the
    report: a pass over shuffled pairs gives each side exactly its own outputs."""
    run, batch = _run_and_batch()
    a = run.model(batch, "dual")
    shuffled = dict(batch, images=torch.roll(batch["images"], 1, 0), image_mask=torch.roll(batch["image_mask"], 1, 0))
    b = run.model(shuffled, "dual")
    assert torch.allclose(a.text, b.text, atol=1e-5)
    assert torch.allclose(torch.roll(a.visual, 1, 0), b.visual, atol=1e-5)
    assert not torch.allclose(a.visual, b.visual, atol=1e-4)
    s2s = run.model(shuffled, "s2s")  # under s2s the words see the image: they change
    assert not torch.allclose(run.model(batch, "s2s").text, s2s.text, atol=1e-4)


def test_positions_and_segments_follow_the_paper():
    run, batch = _run_and_batch()
    emb = run.model.encoder.embeddings
    seen = {}

    def spy(module, args, kwargs):
        seen.setdefault("calls", []).append((kwargs.get("position_ids"), kwargs.get("token_type_ids")))

    handle = emb.register_forward_pre_hook(spy, with_kwargs=True)
    with torch.no_grad():
        out = run.model(batch, "bi")
    handle.remove()
    (img_pos, img_seg), (txt_pos, txt_seg) = seen["calls"]
    c = out.num_visual
    assert img_pos[0].tolist() == [0] + [1] * c + [2]
    assert img_seg.unique().tolist() == [0] and txt_seg.unique().tolist() == [1]
    assert txt_pos[0, :3].tolist() == [3, 4, 5]


def test_image_only_objective_cannot_share_a_view_with_text_objectives():
    import pytest

    from cbf.errors import DataError

    bad = tiny_recipe({"mlm": "mlm"}, head={"type": "rd", "target": "chexpert"},
                      views={"s2s": 0.5, "bi": 0.5})
    with pytest.raises(DataError, match=r"view 'bi': \['rd'\] read the image alone"):
        build_tiny_run(bad)
    good = tiny_recipe({"mlm": "mlm"}, head={"type": "rd", "target": "chexpert", "views": ["image"]},
                       views={"s2s": 0.5, "image": 0.5})
    run = build_tiny_run(good)
    batch = first_batch(run)
    out = run.model(batch, "bi", use_text=False)
    assert out.text_len == 0 and out.hidden.shape[1] == 2 + out.num_visual
