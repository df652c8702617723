"""Clinical Diagnosis: U-Zeros targets, the loss against a hand computation, errors, gradients."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from cbf.config.binding import ConfigError, bind_dataclass
from cbf.errors import DataError
from cbf.testing import check_objective
from cbf.targets import u_ones, u_zeros, uncertainty_targets
from cbf_cd import ClinicalDiagnosis

NAN = float("nan")


def test_u_zeros_and_u_ones_map_every_chexpert_value():
    values = torch.tensor([[1.0, 0.0, -1.0, NAN]])
    assert u_zeros(values).tolist() == [[1.0, 0.0, 0.0, 0.0]]
    assert u_ones(values).tolist() == [[1.0, 0.0, 1.0, 0.0]]
    assert torch.equal(uncertainty_targets(values, "zeros"), u_zeros(values))
    with pytest.raises(ValueError, match="policy"):
        uncertainty_targets(values, "ignore")


def _objective(hidden: int = 3, width: int = 4, policy: str = "zeros") -> ClinicalDiagnosis:
    ctx = SimpleNamespace(hidden_size=width)
    obj = ClinicalDiagnosis(ClinicalDiagnosis.Config(hidden=hidden, policy=policy), ctx)
    g = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in obj.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    return obj


def _out(cls: torch.Tensor, sep: torch.Tensor) -> SimpleNamespace:
    return SimpleNamespace(cls=cls, first_sep=sep, hidden=cls[:, None])


def _hand_loss(obj: ClinicalDiagnosis, cls: list[list[float]], sep: list[list[float]],
               chexpert: list[list[float]], uncertain_as: float) -> float:
    w1, b1 = obj.classifier[0].weight.tolist(), obj.classifier[0].bias.tolist()
    w2, b2 = obj.classifier[2].weight.tolist(), obj.classifier[2].bias.tolist()
    total, count = 0.0, 0
    for c_row, s_row, labels in zip(cls, sep, chexpert):
        joint = [c * s for c, s in zip(c_row, s_row)]  # Hadamard product
        h = [max(0.0, sum(w * x for w, x in zip(row, joint)) + b) for row, b in zip(w1, b1)]
        for i, value in enumerate(labels):
            z = sum(w * x for w, x in zip(w2[i], h)) + b2[i]
            p = 1 / (1 + math.exp(-z))
            d = 1.0 if value == 1 else (uncertain_as if value == -1 else 0.0)  # nan and 0 -> 0
            total -= d * math.log(p) + (1 - d) * math.log(1 - p)
            count += 1
    return total / count


def _labels() -> list[list[float]]:
    return [[1, 0, -1, NAN, 1, 1, 0, NAN, NAN, -1, 0, 1, NAN, 0],
            [NAN] * 7 + [-1] * 3 + [1] * 4]


@pytest.mark.parametrize("policy,uncertain_as", [("zeros", 0.0), ("ones", 1.0)])
def test_loss_equals_hand_computed_bce(policy, uncertain_as):
    obj = _objective(policy=policy)
    g = torch.Generator().manual_seed(0)
    cls, sep = torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    labels = _labels()
    loss = obj(_out(cls, sep), {"chexpert": torch.tensor(labels)}, "bi")
    expected = _hand_loss(obj, cls.tolist(), sep.tolist(), labels, uncertain_as)
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_policies_differ_when_labels_are_uncertain():
    cls, sep = torch.randn(2, 4), torch.randn(2, 4)
    batch = {"chexpert": torch.tensor(_labels())}
    assert _objective(policy="zeros")(_out(cls, sep), batch, "bi").item() != pytest.approx(
        _objective(policy="ones")(_out(cls, sep), batch, "bi").item())


def test_missing_labels_name_the_labeler():
    obj = _objective()
    with pytest.raises(DataError, match="chexpert_rules"):
        obj(_out(torch.randn(2, 4), torch.randn(2, 4)), {}, "bi")
    with pytest.raises(DataError, match=r"\(2, 13\)"):
        obj(_out(torch.randn(2, 4), torch.randn(2, 4)), {"chexpert": torch.zeros(2, 13)}, "bi")


def test_config_defaults_and_validation():
    cfg = bind_dataclass(ClinicalDiagnosis.Config, {})
    assert cfg.views == ["bi"] and cfg.policy == "zeros" and cfg.hidden is None
    obj = ClinicalDiagnosis(cfg, SimpleNamespace(hidden_size=6))
    assert obj.classifier[0].out_features == 6 and obj.classifier[2].out_features == 14
    for bad in ({"views": ["x2x"]}, {"hidden": 0}, {"policy": "maybe"}, {"views": []}):
        with pytest.raises(ConfigError):
            bind_dataclass(ClinicalDiagnosis.Config, bad)


def test_gradients_reach_encoder_and_backbone():
    result = check_objective("cd")
    assert set(result.losses) == {"bi"}
    assert 0 < result.losses["bi"] < 2
