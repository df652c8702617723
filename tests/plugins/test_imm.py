"""Image-MeSH Matching: the score step by step against plain loops, true properties of the
sparse attention, the paper and contrastive losses, errors, gradients."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from cbf.config.binding import ConfigError, bind_dataclass
from cbf.errors import DataError
from cbf.testing import check_objective
from cbf_imm import (ImageMeshMatching, contrastive_loss, matched_loss, matching_score, paper_loss, score_matrix,
                     sparsify, word_weights)


# -- a reference in plain Python, one equation at a time ---------------------------------
def _cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _softmax(values: list[float]) -> list[float]:
    m = max(values)
    ex = [math.exp(v - m) for v in values]
    return [e / sum(ex) for e in ex]


def reference_score(words, regions, tags, word_mask, k, rho1, rho2, sparse, region_mask=None, pooling="printed"):
    """One study: words L×H, regions R×H (lists). Returns (S, α per real word)."""
    valid = [i for i in range(len(regions)) if region_mask is None or region_mask[i]]
    real = [l for l in range(len(words)) if word_mask[l]]
    beta = dict(zip(real, _softmax([float(tags[l]) for l in real])))  # β = softmax(T) over real words
    s, alphas = [], {}
    for l in real:
        a = dict(zip(valid, _softmax([rho1 * _cos(words[l], regions[i]) for i in valid])))  # eq. 5
        if sparse:  # eq. 6: keep the top-K α, softmax over the kept α values
            top = sorted(valid, key=lambda i: -a[i])[:k]
            a = dict(zip(top, _softmax([a[i] for i in top])))
        alphas[l] = [a.get(i, 0.0) for i in range(len(regions))]
        r = [sum(a[i] * regions[i][h] for i in a) for h in range(len(words[l]))]
        s.append((beta[l], _cos(words[l], r)))
    if pooling == "printed":  # eq. 7: s_l = β_l·cos, S = log Σ exp(ρ2·s_l) / ρ2
        score = math.log(sum(math.exp(rho2 * b * c) for b, c in s)) / rho2
    else:  # ours: S = log Σ β_l·exp(ρ2·cos_l) / ρ2
        score = math.log(sum(b * math.exp(rho2 * c) for b, c in s)) / rho2
    return score, alphas


def _case(seed=0, b=1, length=4, r=5, h=3):
    g = torch.Generator().manual_seed(seed)
    words = torch.randn(b, length, h, generator=g, dtype=torch.float64)
    regions = torch.randn(b, r, h, generator=g, dtype=torch.float64)
    tags = torch.zeros(b, length, dtype=torch.long)
    tags[:, 0] = 1
    tags[:, 2] = 1
    mask = torch.ones(b, length, dtype=torch.bool)
    mask[:, -1] = False  # a padding slot
    return words, regions, tags, mask


@pytest.mark.parametrize("sparse,k", [(True, 2), (True, 3), (False, 2)])
def test_score_and_attention_match_the_equations_step_by_step(sparse, k):
    words, regions, tags, mask = _case()
    score, alpha = matching_score(words, regions, tags, mask, k=k, rho1=4.0, rho2=4.0, sparse=sparse,
                                  return_attention=True)
    ref, ref_alpha = reference_score(words[0].tolist(), regions[0].tolist(), tags[0].tolist(), mask[0].tolist(),
                                     k, 4.0, 4.0, sparse)
    assert score.shape == (1,)
    assert score.item() == pytest.approx(ref, rel=1e-5)
    for l, row in ref_alpha.items():
        assert alpha[0, l].tolist() == pytest.approx(row, abs=1e-6)
    if sparse:
        assert int((alpha[0, :3] > 0).sum(-1).max()) == k


@pytest.mark.parametrize("sparse", [True, False])
def test_weighted_pooling_matches_its_formula_step_by_step(sparse):
    words, regions, tags, mask = _case(seed=7)
    score = matching_score(words, regions, tags, mask, k=2, rho1=4.0, rho2=4.0, sparse=sparse, pooling="weighted")
    ref, _ = reference_score(words[0].tolist(), regions[0].tolist(), tags[0].tolist(), mask[0].tolist(),
                             2, 4.0, 4.0, sparse, pooling="weighted")
    printed, _ = reference_score(words[0].tolist(), regions[0].tolist(), tags[0].tolist(), mask[0].tolist(),
                                 2, 4.0, 4.0, sparse)
    assert score.item() == pytest.approx(ref, rel=1e-6)
    assert ref != pytest.approx(printed, rel=1e-3)
    matrix = score_matrix(words, regions, tags, mask, k=2, rho1=4.0, rho2=4.0, sparse=sparse, pooling="weighted")
    assert matrix[0, 0].item() == pytest.approx(ref, rel=1e-6)


def test_weighted_pooling_has_no_length_term_and_stays_in_cosine_range():
    """Repeating a report's words leaves the weighted S unchanged; eq. 7's S grows by about
    log(2)/ρ2 = 0.17 (less the shrinking of each β_l·cos, which is of order 1/n)."""
    words, regions, tags, mask = _case(seed=8)
    mask[:] = True
    twice = (torch.cat([words, words], 1), torch.cat([tags, tags], 1), torch.cat([mask, mask], 1))
    growth = {}
    for pooling in ("weighted", "printed"):
        one = matching_score(words, regions, tags, mask, 2, 4.0, 4.0, pooling=pooling).item()
        two = matching_score(twice[0], regions, twice[1], twice[2], 2, 4.0, 4.0, pooling=pooling).item()
        growth[pooling] = two - one
    assert growth["weighted"] == pytest.approx(0.0, abs=1e-9)
    assert 0.1 < growth["printed"] < math.log(2) / 4.0 + 0.05
    s = matching_score(words, regions, tags, mask, 2, 4.0, 4.0, pooling="weighted").item()
    assert -1.0 <= s <= 1.0
    aligned = matching_score(regions[:, :1].expand_as(words).clone(), regions, tags, mask, 1, 4.0, 4.0,
                             pooling="weighted").item()
    assert aligned == pytest.approx(1.0, abs=1e-6)  # every word equal to its best region: cos 1
    with pytest.raises(ValueError, match="pooling"):
        matching_score(words, regions, tags, mask, 2, 4.0, 4.0, pooling="mean")


def test_region_mask_equals_dropping_the_invalid_regions():
    words, regions, tags, mask = _case(seed=1, r=6)
    region_mask = torch.tensor([[True, False, True, True, False, True]])
    score, alpha = matching_score(words, regions, tags, mask, 2, 4.0, 4.0, region_mask=region_mask,
                                  return_attention=True)
    kept = regions[:, region_mask[0]]
    assert score.item() == pytest.approx(matching_score(words, kept, tags, mask, 2, 4.0, 4.0).item(), rel=1e-6)
    assert (alpha[0, :, ~region_mask[0]] == 0).all()
    ref, _ = reference_score(words[0].tolist(), regions[0].tolist(), tags[0].tolist(), mask[0].tolist(), 2,
                             4.0, 4.0, True, region_mask[0].tolist())
    assert score.item() == pytest.approx(ref, rel=1e-5)


def test_k_one_is_hard_attention_on_the_most_similar_region():
    words, regions, tags, mask = _case(seed=2)
    _, alpha = matching_score(words, regions, tags, mask, 1, 4.0, 4.0, return_attention=True)
    cos = torch.nn.functional.cosine_similarity(words[0, :, None], regions[0, None], dim=-1)
    best = cos.argmax(-1)
    assert torch.equal(alpha[0], torch.nn.functional.one_hot(best, regions.shape[1]).double())


def test_k_at_least_r_is_softmax_of_alpha_not_the_dense_attention():
    """Eq. 6 re-applies softmax to α, so keeping every region is not 'no sparsity'."""
    words, regions, tags, mask = _case(seed=3)
    r = regions.shape[1]
    _, dense = matching_score(words, regions, tags, mask, 1, 4.0, 4.0, sparse=False, return_attention=True)
    _, all_kept = matching_score(words, regions, tags, mask, r + 3, 4.0, 4.0, sparse=True, return_attention=True)
    assert torch.allclose(all_kept, torch.softmax(dense, dim=-1))
    assert not torch.allclose(all_kept, dense, atol=1e-3)
    assert all_kept.std(-1).mean() < dense.std(-1).mean()  # flatter: the documented effect of eq. 6
    s_all = matching_score(words, regions, tags, mask, r, 4.0, 4.0, sparse=True)
    s_dense = matching_score(words, regions, tags, mask, r, 4.0, 4.0, sparse=False)
    assert s_all.item() != pytest.approx(s_dense.item())


def test_word_weights_are_a_softmax_of_the_tags_over_real_words():
    tags = torch.tensor([[1, 0, 0, 1, 1], [0, 0, 0, 0, 0], [1, 1, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]]).bool()
    beta = word_weights(tags, mask)
    e = math.e
    assert beta[0].tolist() == pytest.approx([e / (e + 2), 1 / (e + 2), 1 / (e + 2), 0, 0])
    assert beta[1].tolist() == pytest.approx([0.5, 0.5, 0, 0, 0])
    assert beta[2].tolist() == [0, 0, 0, 0, 0]  # no words: no weight, no NaN


def test_padding_and_excluded_slots_do_not_change_the_score():
    words, regions, tags, mask = _case(seed=4)
    s = matching_score(words, regions, tags, mask, 2, 4.0, 4.0)
    words2, tags2 = words.clone(), tags.clone()
    words2[0, -1] = torch.randn(3, dtype=torch.float64) * 10
    tags2[0, -1] = 1
    assert matching_score(words2, regions, tags2, mask, 2, 4.0, 4.0).item() == pytest.approx(s.item(), rel=1e-9)
    empty = matching_score(words, regions, tags, torch.zeros_like(mask), 2, 4.0, 4.0)
    assert empty.item() == float("-inf")


def test_mesh_words_weigh_more_than_other_words():
    """Making the MeSH word match its best region raises S more than doing it for a non-MeSH word."""
    words, regions, tags, mask = _case(seed=5, length=3)
    mask[:] = True
    tags[:] = torch.tensor([[1, 0, 0]])
    base = matching_score(words, regions, tags, mask, 2, 4.0, 4.0).item()
    gains = []
    for l in (0, 1):
        w = words.clone()
        w[0, l] = regions[0, 0]
        gains.append(matching_score(w, regions, tags, mask, 2, 4.0, 4.0).item() - base)
    assert gains[0] > gains[1]


def test_score_matrix_pairs_every_image_with_every_report():
    words, regions, tags, mask = _case(seed=6, b=3, length=5, r=4, h=6)
    region_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 1, 1]]).bool()
    matrix = score_matrix(words, regions, tags, mask, 2, 4.0, 4.0, region_mask=region_mask)
    assert matrix.shape == (3, 3)
    for i in range(3):
        for j in range(3):
            one = matching_score(words[j : j + 1], regions[i : i + 1], tags[j : j + 1], mask[j : j + 1], 2, 4.0,
                                 4.0, region_mask=region_mask[i : i + 1])
            assert matrix[i, j].item() == pytest.approx(one.item(), rel=1e-9)


def test_autocast_does_not_lower_the_precision():
    words, regions, tags, mask = _case(seed=7, b=2)
    words, regions = words.float(), regions.float()
    ref = matching_score(words, regions, tags, mask, 2, 4.0, 4.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = matching_score(words, regions, tags, mask, 2, 4.0, 4.0)
    assert got.dtype == torch.float32 and torch.allclose(got, ref, rtol=1e-6)


def test_sparsify_ignores_invalid_regions_even_when_k_exceeds_them():
    alpha = torch.tensor([[[0.1, 0.5, 0.4, 0.0]]])
    out = sparsify(alpha, torch.tensor([[[True, False, True, True]]]), k=3)
    expected = torch.softmax(torch.tensor([0.1, 0.4, 0.0]), 0)
    assert out[0, 0].tolist() == pytest.approx([expected[0], 0.0, expected[1], expected[2]])


# -- losses ------------------------------------------------------------------------------
def _aligned_batch(b=4, length=5, r=6, h=16, seed=0):
    """Each study has its own direction; its words and some regions point there."""
    g = torch.Generator().manual_seed(seed)
    topics = torch.linalg.qr(torch.randn(h, h, generator=g))[0][:b]  # orthonormal
    words = topics[:, None] + 0.3 * torch.randn(b, length, h, generator=g)
    regions = 0.3 * torch.randn(b, r, h, generator=g)
    regions[:, :2] += topics[:, None]
    tags = (torch.rand(b, length, generator=g) < 0.5).long()
    return words, regions, tags, torch.ones(b, length, dtype=torch.bool)


def test_contrastive_loss_prefers_true_pairs_over_shuffled_ones():
    words, regions, tags, mask = _aligned_batch()
    true = contrastive_loss(score_matrix(words, regions, tags, mask, 2, 4.0, 4.0), 0.01)
    shuffled_regions = regions[torch.tensor([1, 2, 3, 0])]
    shuffled = contrastive_loss(score_matrix(words, shuffled_regions, tags, mask, 2, 4.0, 4.0), 0.01)
    assert true < shuffled
    m = torch.tensor([[2.0, 1.0], [0.5, 3.0]])  # by hand, τ = 1: two 2-way cross-entropies per direction

    def nll(target: float, other: float) -> float:
        return -math.log(math.exp(target) / (math.exp(target) + math.exp(other)))

    rows = (nll(2.0, 1.0) + nll(3.0, 0.5)) / 2  # image -> report
    cols = (nll(2.0, 0.5) + nll(3.0, 1.0)) / 2  # report -> image
    assert contrastive_loss(m, 1.0).item() == pytest.approx(0.5 * (rows + cols), rel=1e-6)
    assert contrastive_loss(m, 0.5).item() == pytest.approx(contrastive_loss(2 * m, 1.0).item(), rel=1e-6)


def _objective(**options):
    cfg = bind_dataclass(ImageMeshMatching.Config, options)
    return ImageMeshMatching(cfg, SimpleNamespace(tokenizer=SimpleNamespace(sep_id=3)))


def _fake_out(words, regions, visual_valid=None):
    return SimpleNamespace(text=words, visual=regions,
                           visual_valid=visual_valid if visual_valid is not None else
                           torch.ones(regions.shape[:2], dtype=torch.bool))


def _text_batch(tags):
    b, length = tags.shape
    text = torch.full((b, length), 7)
    text[:, -2] = 3  # closing [SEP]
    text[:, -1] = 0  # padding
    text[0, -3:] = torch.tensor([3, 0, 0])  # a shorter report
    return {"text_ids": text, "text_mask": text != 0, "mesh_tags": tags * (text == 7)}


def test_paper_loss_is_minus_score_over_tau_without_the_closing_sep():
    words, regions, tags, _ = _aligned_batch(b=3, length=7)
    batch = _text_batch(tags)
    obj = _objective()
    loss = obj(_fake_out(words, regions), batch, "s2s")
    word_mask = batch["text_mask"] & (batch["text_ids"] != 3)
    expected = -matching_score(words, regions, batch["mesh_tags"], word_mask, 12, 4.0, 4.0).mean() / 0.01
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert paper_loss(torch.tensor([0.5, 0.3]), 0.01).item() == pytest.approx(-40.0)
    words2 = words.clone()
    words2[:, -2] = 5.0  # the [SEP] slot
    words2[0, -3] = 5.0  # row 0's [SEP] slot
    assert obj(_fake_out(words2, regions), batch, "s2s").item() == pytest.approx(loss.item(), rel=1e-6)
    assert obj.last_attention.shape == (3, 7, regions.shape[1])
    assert not obj.last_attention.requires_grad
    assert torch.equal(obj.last_word_mask, word_mask)


def test_contrastive_objective_matches_the_functions():
    words, regions, tags, _ = _aligned_batch(b=4, length=6)
    batch = _text_batch(tags)
    obj = _objective(mode="contrastive", k=3, sparsity=False)
    loss = obj(_fake_out(words, regions), batch, "bi")
    word_mask = batch["text_mask"] & (batch["text_ids"] != 3)
    matrix = score_matrix(words, regions, batch["mesh_tags"], word_mask, 3, 4.0, 4.0, sparse=False)
    assert loss.item() == pytest.approx(contrastive_loss(matrix, 0.01).item(), rel=1e-6)
    assert torch.allclose(obj.last_scores, matrix.diagonal())


def test_rows_without_words_are_skipped_and_missing_tags_are_an_error():
    words, regions, tags, _ = _aligned_batch(b=2, length=4)
    batch = _text_batch(tags)
    batch["text_mask"][:] = False
    assert _objective()(_fake_out(words, regions), batch, "s2s") is None
    del batch["mesh_tags"]
    with pytest.raises(DataError, match="MeSH tagger"):
        _objective()(_fake_out(words, regions), batch, "s2s")


def test_config_defaults_and_validation():
    cfg = bind_dataclass(ImageMeshMatching.Config, {})
    assert (cfg.k, cfg.rho1, cfg.rho2, cfg.tau, cfg.sparsity, cfg.mode) == (12, 4.0, 4.0, 0.01, True, "paper")
    assert cfg.views == ["s2s", "bi"]
    with pytest.raises(ConfigError, match="mmm"):
        bind_dataclass(ImageMeshMatching.Config, {"views": ["s2s", "mmm"]})
    for bad in ({"k": 0}, {"tau": 0}, {"mode": "triplet"}, {"rho1": -1}, {"negatives": 0}):
        with pytest.raises(ConfigError):
            bind_dataclass(ImageMeshMatching.Config, bad)


def test_bad_shapes_are_clear_errors():
    words, regions, tags, mask = _case()
    with pytest.raises(ValueError, match="word_mask"):
        matching_score(words, regions, tags, mask[:, :2], 2, 4.0, 4.0)
    with pytest.raises(ValueError, match="width"):
        matching_score(words, regions[..., :2], tags, mask, 2, 4.0, 4.0)


def test_matched_loss_by_hand():
    # 3 studies, 2 negatives: neg[s-1][i] = S(image i, report i+s mod 3)
    pos = torch.tensor([2.0, 1.0, 0.5])
    neg1 = torch.tensor([0.0, 1.5, -1.0])  # S(0,1), S(1,2), S(2,0)
    neg2 = torch.tensor([1.0, -0.5, 0.2])  # S(0,2), S(1,0), S(2,1)

    def nll(values: list[float]) -> float:
        return -values[0] + math.log(sum(math.exp(v) for v in values))

    to_report = [nll([2.0, 0.0, 1.0]), nll([1.0, 1.5, -0.5]), nll([0.5, -1.0, 0.2])]
    # report j against images j-1 and j-2: S(j-1, j) = neg1[j-1], S(j-2, j) = neg2[j-2]
    to_image = [nll([2.0, -1.0, -0.5]), nll([1.0, 0.0, 0.2]), nll([0.5, 1.5, 1.0])]
    expected = 0.5 * (sum(to_report) / 3 + sum(to_image) / 3)
    assert matched_loss(pos, [neg1, neg2], 1.0).item() == pytest.approx(expected, rel=1e-6)
    assert matched_loss(pos, [neg1, neg2], 0.5).item() == pytest.approx(
        matched_loss(2 * pos, [2 * neg1, 2 * neg2], 1.0).item(), rel=1e-6)
    # a report without words scores -inf: its pairs drop out, nothing becomes NaN
    inf = float("-inf")
    loss = matched_loss(torch.tensor([2.0, inf, 0.5]), [torch.tensor([0.0, inf, 1.0])], 1.0)
    assert torch.isfinite(loss)
    with pytest.raises(ValueError, match="negative"):
        matched_loss(pos, [], 1.0)


def test_matched_objective_scores_jointly_encoded_negative_pairs():
    """Each negative is a separate encoder pass of image i with report i+s: the loss equals
    matched_loss over scores recomputed from those passes by hand."""
    from cbf.testing import build_tiny_run, first_batch, tiny_recipe
    from cbf_imm import imm_word_mask

    run = build_tiny_run(tiny_recipe({"imm": {"type": "imm", "mode": "matched", "negatives": 2, "tau": 0.1}}))
    obj = run.objectives["imm"]
    run.model.eval()  # no dropout: the passes must be reproducible
    batch = first_batch(run)
    out = run.model(batch, "bi")
    loss = obj(out, batch, "bi")
    assert torch.isfinite(loss)

    def scores(b):
        o = run.model(b, "bi")
        return matching_score(o.text, o.visual, b["mesh_tags"], imm_word_mask(b, obj.sep_id), k=12, rho1=4.0,
                              rho2=4.0, region_mask=o.visual_valid)

    report_fields = ("input_ids", "text_ids", "text_mask", "mesh_tags")
    negatives = []
    for s in (1, 2):
        rolled = dict(batch, **{k: torch.roll(batch[k], -s, dims=0) for k in report_fields})
        negatives.append(scores(rolled))
        # the rolled pass really pairs image i with report i+s
        assert torch.equal(rolled["text_ids"][0], batch["text_ids"][s])
    with torch.no_grad():
        expected = matched_loss(scores(batch), negatives, 0.1)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert not torch.allclose(negatives[0], scores(batch))


@pytest.mark.parametrize("options", [{}, {"mode": "contrastive"}, {"mode": "matched"}, {"sparsity": False}])
def test_gradients_reach_encoder_and_backbone(options):
    result = check_objective("imm", options)
    assert set(result.losses) == {"s2s", "bi"}


def test_gradients_on_the_dual_view_with_centring():
    result = check_objective("imm", {"mode": "contrastive", "views": ["dual"], "center": True})
    assert set(result.losses) == {"dual"}


OFFSET = torch.linspace(-40.0, 60.0, 16)


def test_centering_removes_a_common_direction_and_keeps_running_means():
    """center: true scores the parts that differ between studies: adding one large vector to
    every region (the collapse seen on the demo encoder) changes nothing in training, and
    inference uses the running means."""
    cfg = bind_dataclass(ImageMeshMatching.Config, {"mode": "contrastive", "center": True, "center_momentum": 1.0,
                                                   "k": 3})
    obj = ImageMeshMatching(cfg, SimpleNamespace(tokenizer=SimpleNamespace(sep_id=3), hidden_size=16))
    words, regions, tags, _ = _aligned_batch(b=4, length=6)
    batch = _text_batch(tags)
    plain = obj(_fake_out(words, regions), batch, "bi")
    shifted = obj(_fake_out(words, regions + OFFSET), batch, "bi")
    assert shifted.item() == pytest.approx(plain.item(), rel=1e-4)
    word_mask = batch["text_mask"] & (batch["text_ids"] != 3)
    valid = torch.ones(regions.shape[:2], dtype=torch.bool)
    assert torch.allclose(obj.region_mean, (regions + OFFSET).mean((0, 1)))
    assert torch.allclose(obj.word_mean, words[word_mask].mean(0))
    obj.eval()
    w, r = obj.features(words, regions, word_mask, valid)
    assert torch.allclose(r, regions - obj.region_mean) and torch.allclose(w, words - obj.word_mean)
    uncentred = _objective(mode="contrastive", k=3)
    assert uncentred.features(words, regions, word_mask, valid) == (words, regions)
    assert uncentred(_fake_out(words, regions + 50.0), batch, "bi").item() != pytest.approx(plain.item(), rel=1e-3)
