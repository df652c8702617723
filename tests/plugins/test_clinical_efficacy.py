"""The ``clinical_efficacy`` metric against P/R/F1 computed by hand on a tiny set.

A fake labeler reads labels straight from the text ("Cardiomegaly=1; Edema=-1"), so the
expected numbers depend only on the metric's definitions (docs/evaluation.md).
"""
from __future__ import annotations

import math
import textwrap
import warnings

import pytest
import torch

from cbf.api import Labeler
from cbf.fields import CHEXPERT_LABELS
from cbf.registry import PluginLoadError, load_plugin


class FakeLabeler(Labeler):
    """Labels written into the report: ``Name=value`` pairs separated by ';'; others nan."""

    name = "fake-labeler"

    def label(self, report: str) -> list[float]:
        row = [math.nan] * len(CHEXPERT_LABELS)
        for part in filter(None, (p.strip() for p in report.split(";"))):
            label, value = part.split("=")
            row[CHEXPERT_LABELS.index(label)] = float(value)
        return row


# (prediction, reference); uncertain (-1), 0 and blank all count as absent
PAIRS = [
    ("Cardiomegaly=1; Edema=-1", "Cardiomegaly=1; Edema=1"),
    ("Pleural Effusion=1; Cardiomegaly=0", "Cardiomegaly=1"),
    ("No Finding=1", "No Finding=1"),
    ("", "Edema=-1"),  # both positive sets empty
]


@pytest.fixture(scope="module")
def ce_cls():
    return load_plugin("metrics", "clinical_efficacy")


def _run(ce_cls, include_no_finding=True, split=2):
    metric = ce_cls(ce_cls.Config(include_no_finding=include_no_finding), labeler=FakeLabeler())
    preds, refs = zip(*PAIRS)
    metric.update(list(preds[:split]), list(refs[:split]))  # two updates must accumulate
    metric.update(list(preds[split:]), list(refs[split:]))
    return metric.compute()


def test_hand_computed_all_14_classes(ce_cls):
    got = _run(ce_cls)
    # per class: Cardiomegaly TP,FN -> P 1, R .5; Edema FN (pred -1) -> 0; Effusion FP -> 0; No Finding TP
    assert got["CE_precision_Cardiomegaly"] == 1.0 and got["CE_recall_Cardiomegaly"] == 0.5
    assert got["CE_f1_Cardiomegaly"] == pytest.approx(2 / 3)
    assert got["CE_recall_Edema"] == 0.0 and got["CE_precision_Edema"] == 0.0
    assert got["CE_precision_Pleural_Effusion"] == 0.0 and got["CE_f1_No_Finding"] == 1.0
    assert got["CE_support_Cardiomegaly"] == 2.0 and got["CE_support_Edema"] == 1.0
    # micro: TP 2, FP 1, FN 2
    assert got["CE_micro_precision"] == pytest.approx(2 / 3)
    assert got["CE_micro_recall"] == pytest.approx(0.5)
    assert got["CE_micro_f1"] == pytest.approx(4 / 7)
    # macro over all 14 classes (absent classes score 0)
    assert got["CE_macro_precision"] == pytest.approx(2 / 14)
    assert got["CE_macro_recall"] == pytest.approx(1.5 / 14)
    assert got["CE_macro_f1"] == pytest.approx((2 / 3 + 1) / 14)
    # example-based: (1, .5, 2/3), (0, 0, 0), (1, 1, 1), both empty (1, 1, 1)
    assert got["CE_example_precision"] == pytest.approx(0.75)
    assert got["CE_example_recall"] == pytest.approx(0.625)
    assert got["CE_example_f1"] == pytest.approx(2 / 3)
    assert got["CE_n"] == 4.0 and got["labeler"] == "fake-labeler"
    assert _run(ce_cls, split=1) == got


def test_hand_computed_without_no_finding(ce_cls):
    got = _run(ce_cls, include_no_finding=False)
    assert "CE_f1_No_Finding" not in got
    assert got["CE_micro_precision"] == pytest.approx(0.5)  # TP 1, FP 1, FN 2
    assert got["CE_micro_recall"] == pytest.approx(1 / 3)
    assert got["CE_micro_f1"] == pytest.approx(0.4)
    assert got["CE_macro_precision"] == pytest.approx(1 / 13)
    assert got["CE_macro_f1"] == pytest.approx((2 / 3) / 13)
    # report 3 becomes "both empty" (1, 1, 1): the same example-based averages
    assert got["CE_example_f1"] == pytest.approx(2 / 3)


def test_scoring_functions_directly():
    from cbf_clinical_efficacy import example_scores

    pred = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 1, 0]], dtype=torch.bool)
    ref = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 0, 1]], dtype=torch.bool)
    p, r, f = example_scores(pred, ref)
    assert p.tolist() == [0.0, 0.0, 0.5] and r.tolist() == [0.0, 0.0, 0.5] and f.tolist() == [0.0, 0.0, 0.5]


def test_bad_labeler_output_is_named(ce_cls):
    class Short(FakeLabeler):
        name = "short"

        def label(self, report):
            return [1.0] * 13

    metric = ce_cls(labeler=Short())
    with pytest.raises(ValueError, match="'short' returned 13 labels"):
        metric.update(["x"], ["y"])
    with warnings.catch_warnings(), pytest.raises(ValueError, match="no reports"):
        warnings.simplefilter("ignore")  # torchmetrics warns about compute() before update()
        metric.compute()


def _register_annotator(root, monkeypatch, name: str, body: str) -> None:
    """Install a throwaway distribution declaring ``cbf.annotators: name`` on sys.path."""
    (root / f"{name}_mod.py").write_text(textwrap.dedent(body))  # one module name per test
    dist = root / f"{name}-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text(f"[cbf.annotators]\n{name} = {name}_mod:Thing\n")
    monkeypatch.syspath_prepend(str(root))


def test_labeler_loaded_by_name_through_the_registry(ce_cls, tmp_path, monkeypatch):
    _register_annotator(tmp_path, monkeypatch, "ce_test_labeler", """
        import math
        from cbf.api import Labeler

        class Thing(Labeler):
            name = "registered-fake"

            def label(self, report):
                return [1.0 if "normal" in report else math.nan] + [math.nan] * 13
        """)
    metric = ce_cls(ce_cls.Config(labeler="ce_test_labeler"))
    metric.update(["normal", "normal"], ["normal", "bad"])
    got = metric.compute()
    assert got["labeler"] == "registered-fake"
    assert got["CE_micro_precision"] == 0.5 and got["CE_micro_recall"] == 1.0


def test_non_labeler_annotator_is_refused(ce_cls, tmp_path, monkeypatch):
    _register_annotator(tmp_path, monkeypatch, "ce_not_a_labeler", """
        class Thing:
            pass
        """)
    with pytest.raises(PluginLoadError, match="not a cbf.api.Labeler"):
        ce_cls(ce_cls.Config(labeler="ce_not_a_labeler"))
