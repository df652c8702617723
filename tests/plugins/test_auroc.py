"""The ``auroc`` metric against a pairwise count computed here (and torchmetrics' own)."""
from __future__ import annotations

import math
import warnings

import pytest
import torch
from torchmetrics.functional.classification import binary_auroc

from cbf.fields import NIH_LABELS
from cbf.registry import load_plugin


def pairwise_auroc(scores: list[float], labels: list[int]) -> float:
    """P(positive scores higher than negative), ties one half: the definition, O(n^2)."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@pytest.fixture(scope="module")
def auroc_cls():
    return load_plugin("metrics", "auroc")


def test_textbook_example(auroc_cls):
    metric = auroc_cls(auroc_cls.Config(class_names=["x"]))
    metric.update(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
    got = metric.compute()
    assert got["AUROC_x"] == 0.75 and got["AUROC_mean"] == 0.75


def test_per_class_matches_definition_with_ties_and_batches(auroc_cls):
    g = torch.Generator().manual_seed(1)
    preds = (torch.rand(60, 14, generator=g) * 10).round() / 10  # coarse: many ties
    target = (torch.rand(60, 14, generator=g) < 0.3).float()
    target[:, 7] = 0.0  # Hernia: no positive → undefined
    metric = auroc_cls()
    metric.update(preds[:25], target[:25])
    metric.update(preds[25:], target[25:])
    got = metric.compute()
    expected = []
    for j, name in enumerate(NIH_LABELS):
        if j == 7:
            assert math.isnan(got["AUROC_Hernia"])
            continue
        want = pairwise_auroc(preds[:, j].tolist(), target[:, j].long().tolist())
        assert got[f"AUROC_{name}"] == pytest.approx(want, abs=1e-12), name
        assert got[f"AUROC_{name}"] == pytest.approx(float(binary_auroc(preds[:, j], target[:, j].long())), abs=1e-6)
        expected.append(want)
    assert got["AUROC_mean"] == pytest.approx(sum(expected) / 13, abs=1e-12)
    assert got["AUROC_num_classes"] == 13.0 and got["AUROC_num_excluded"] == 1.0
    assert got["AUROC_excluded"] == "Hernia"
    assert list(got)[:14] == [f"AUROC_{n}" for n in NIH_LABELS]  # the paper's Table 3 order


def test_large_logits_are_not_squashed_into_ties(auroc_cls):
    metric = auroc_cls(auroc_cls.Config(num_classes=1))
    metric.update(torch.tensor([[40.0], [50.0], [45.0]]), torch.tensor([[0.0], [1.0], [0.0]]))
    got = metric.compute()
    assert got["AUROC_class_0"] == 1.0  # a sigmoid in float32 would make all three 1.0 → 0.5


def test_nan_targets_are_ignored_per_class(auroc_cls):
    metric = auroc_cls(auroc_cls.Config(class_names=["a", "b"]))
    preds = torch.tensor([[0.9, 0.2], [0.1, 0.8], [0.5, 0.5]])
    target = torch.tensor([[1.0, 0.0], [0.0, 1.0], [float("nan"), 1.0]])
    metric.update(preds, target)
    got = metric.compute()
    assert got["AUROC_a"] == 1.0
    assert got["AUROC_b"] == pairwise_auroc([0.2, 0.8, 0.5], [0, 1, 1]) == 1.0


def test_all_single_valued_gives_nan_mean(auroc_cls):
    metric = auroc_cls(auroc_cls.Config(class_names=["a", "b"]))
    metric.update(torch.rand(5, 2), torch.ones(5, 2))
    got = metric.compute()
    assert math.isnan(got["AUROC_mean"]) and got["AUROC_num_excluded"] == 2.0
    assert got["AUROC_excluded"] == "a,b"


def test_bad_inputs_and_config(auroc_cls):
    metric = auroc_cls()
    with pytest.raises(ValueError, match=r"shape \(N, 14\)"):
        metric.update(torch.rand(4, 13), torch.ones(4, 13))
    with pytest.raises(ValueError, match="targets must be 0, 1"):
        metric.update(torch.rand(4, 14), torch.full((4, 14), 2.0))
    with pytest.raises(ValueError, match="NaN or inf"):
        metric.update(torch.full((4, 14), float("nan")), torch.ones(4, 14))
    with warnings.catch_warnings(), pytest.raises(ValueError, match="no data"):
        warnings.simplefilter("ignore")  # torchmetrics warns about compute() before update()
        metric.compute()
    with pytest.raises(ValueError, match="num_classes=3 but 2 class_names"):
        auroc_cls(auroc_cls.Config(class_names=["a", "b"], num_classes=3))
