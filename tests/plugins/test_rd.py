"""Radiograph diagnosis head: the loss by hand, image-only input, predict, targets, config."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from cbf.config.binding import ConfigError, bind_dataclass
from cbf.config.schema import RunConfig
from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS, NIH_LABELS
from cbf.testing import build_tiny_run, first_batch, tiny_recipe


def _recipe(**head):
    return tiny_recipe({}, views={"bi": 1.0}, head={"type": "rd", **head})


@pytest.fixture(scope="module")
def run():
    # the toy dataset's task labels are [heart enlarged, effusion]
    return build_tiny_run(_recipe(num_labels=2, label_names=["Cardiomegaly", "Effusion"]))


def test_contract_image_only_bi_view_with_gradient_to_encoder_and_backbone(run):
    head = run.head
    assert head.task == "classification" and head.uses_text is False and head.views == frozenset({"bi"})
    assert head.label_names == ["Cardiomegaly", "Effusion"]
    run.model.train()
    run.model.zero_grad(set_to_none=True)
    batch = first_batch(run)
    out = run.model(batch, "bi", use_text=head.uses_text)
    num_visual = out.num_visual
    assert out.hidden.shape[1] == num_visual + 2 and out.text_len == 0  # [CLS] f… [SEP], no text
    loss = head(out, batch, "bi")
    assert torch.isfinite(loss)
    loss.backward()
    for part in (run.model.encoder, run.model.backbone):
        assert sum(float(p.grad.norm()) for p in part.parameters() if p.grad is not None) > 0


def test_text_does_not_change_the_prediction(run):
    batch = first_batch(run)
    a = run.head.predict(run.model, batch)
    batch["input_ids"] = torch.randint(5, len(run.tokenizer.vocab), batch["input_ids"].shape)
    b = run.head.predict(run.model, batch)
    assert torch.equal(a, b)


def test_loss_by_hand(run):
    head = run.head
    batch = first_batch(run)
    run.model.eval()
    with torch.no_grad():
        out = run.model(batch, "bi", use_text=False)
        loss = head(out, batch, "bi")
        logits = out.hidden[:, 0] @ head.classifier.weight.T + head.classifier.bias
    y = batch["labels"]
    p = torch.sigmoid(logits)
    want = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_predict_shape_range_and_eval_mode(run):
    batch = first_batch(run, size=3)
    run.model.train()
    probs = run.head.predict(run.model, batch)
    assert probs.shape == (3, 2) and ((probs > 0) & (probs < 1)).all()
    assert run.model.training  # restored
    inputs = {"images": batch["images"], "image_mask": batch["image_mask"]}  # no text needed
    assert torch.equal(run.head.predict(run.model, inputs), probs)


def test_chexpert_target_is_u_zeros():
    run = build_tiny_run(_recipe(target="chexpert"))
    head = run.head
    assert head.label_names == list(CHEXPERT_LABELS)
    batch = {"chexpert": torch.tensor([[1.0, 0.0, -1.0, float("nan")] + [1.0] * 10])}
    assert head.targets(batch).tolist() == [[1.0, 0.0, 0.0, 0.0] + [1.0] * 10]
    batch = first_batch(run)
    out = run.model(batch, "bi", use_text=False)
    loss = head(out, batch, "bi")
    want = F.binary_cross_entropy_with_logits(head.logits(out), (batch["chexpert"] == 1).float())
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_nan_labels_are_left_out(run):
    batch = first_batch(run)
    batch["labels"][0, 1] = float("nan")
    out = run.model(batch, "bi", use_text=False)
    loss = run.head(out, batch, "bi")
    known = ~torch.isnan(batch["labels"])
    want = F.binary_cross_entropy_with_logits(run.head.logits(out)[known], batch["labels"][known])
    assert torch.isfinite(loss) and loss.item() == pytest.approx(want.item(), rel=1e-5)


def test_wrong_label_count_or_missing_field_is_a_clear_error():
    run = build_tiny_run(_recipe())  # default: 14 NIH labels, but the toy set has 2
    assert run.head.label_names == list(NIH_LABELS)
    batch = first_batch(run)
    out = run.model(batch, "bi", use_text=False)
    with pytest.raises(DataError, match=r"shape \(4, 2\), expected \(batch, 14\)"):
        run.head(out, batch, "bi")
    del batch["labels"]
    with pytest.raises(DataError, match="target: 'chexpert'"):
        run.head(out, batch, "bi")


@pytest.mark.parametrize("head, message", [
    ({"target": "chexpert", "num_labels": 2}, "num_labels"),
    ({"num_labels": 2, "label_names": ["a"]}, "label_names"),
    ({"threshold": 1.5}, "threshold"),
    ({"views": ["xx"]}, "unknown view"),
])
def test_bad_config_is_rejected(head, message):
    with pytest.raises(ConfigError, match=message):
        bind_dataclass(RunConfig, _recipe(**head))


def test_visual_mean_features_classify_the_pooled_projected_backbone_features():
    """``features: visual_mean`` = FC on the mean of the valid projected visual tokens, before the
    encoder: the encoder gets no gradient from it, the backbone and projection do."""
    run = build_tiny_run(_recipe(num_labels=2, label_names=["Cardiomegaly", "Effusion"], features="visual_mean"))
    head = run.head
    batch = first_batch(run)
    batch["image_mask"][0, 1:] = False  # a study with one view: its other view must not count
    run.model.train()
    run.model.zero_grad(set_to_none=True)
    out = run.model(batch, "bi", use_text=False)
    logits = head.logits(out)
    visual, valid = run.model.visual_tokens(batch["images"], batch["image_mask"])
    want = torch.stack([visual[i][valid[i]].mean(0) for i in range(visual.shape[0])]) @ head.classifier.weight.T
    assert torch.allclose(logits, want + head.classifier.bias, atol=1e-5)
    head(out, batch, "bi").backward()
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in run.model.encoder.parameters())
    for part in (run.model.backbone, run.model.visual_projection):
        assert sum(float(p.grad.norm()) for p in part.parameters() if p.grad is not None) > 0
    with pytest.raises(ConfigError, match="features"):
        bind_dataclass(RunConfig, _recipe(features="pooled"))
