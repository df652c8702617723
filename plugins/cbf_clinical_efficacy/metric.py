"""Clinical efficacy: do generated reports state the same findings as the references?

A labeler (an ``annotators`` plugin deriving the 14 CheXpert observations from text) labels
both sides; a finding counts as present only when labeled 1 (positive). Uncertain (-1),
negative (0) and not mentioned (nan) all count as absent — the "U-Zeros" reading of DESIGN §5.
The labeler is named in the output, since numbers from different labelers do not compare.

Reports are labeled in ``update`` and only counts are kept (summed across processes), so the
metric holds no text and reduces in DDP like any torchmetrics sum.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional, Sequence

import torch
from torchmetrics import Metric

from cbf.api import Labeler
from cbf.fields import CHEXPERT_LABELS
from cbf.registry import PluginLoadError, load_plugin

from .scoring import averaged_scores, confusion_counts, example_scores

PREFIX = "CE_"


def _key(label: str) -> str:
    return label.replace(" ", "_")


class ClinicalEfficacy(Metric):
    """Labeler-based precision/recall/F1: micro, macro, example-based and per class.

    ``update(predictions, references)`` takes report strings. ``compute()`` returns floats
    ``CE_{micro,macro,example}_{precision,recall,f1}``, per class ``CE_{precision,recall,f1,
    support}_<Label_With_Underscores>`` (support = reference positives), ``CE_n`` (reports)
    and the string ``labeler`` (the labeler's ``name``). The averagings are defined in
    :mod:`cbf_clinical_efficacy.scoring`.
    """

    @dataclass
    class Config:
        #: ``annotators`` plugin that labels the reports (ignored when a labeler is passed in).
        labeler: str = "chexpert_rules"
        #: score "No Finding" as one of the classes. True (all 14) is the protocol of R2Gen/CMN
        #: and their successors; false scores the 13 findings only.
        include_no_finding: bool = True

        def validate(self) -> None:
            if not self.labeler:
                raise ValueError("labeler must name an annotators plugin (e.g. 'chexpert_rules')")

    is_differentiable: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    full_state_update: ClassVar[bool] = False

    def __init__(self, config: Optional["ClinicalEfficacy.Config"] = None,
                 labeler: Labeler | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config if config is not None else self.Config()
        self.config.validate()
        self.labeler = labeler if labeler is not None else load_labeler(self.config.labeler)
        self.classes: tuple[str, ...] = tuple(
            c for c in CHEXPERT_LABELS if self.config.include_no_finding or c != "No Finding")
        self._columns = [CHEXPERT_LABELS.index(c) for c in self.classes]
        k = len(self.classes)
        for name in ("tp", "fp", "fn"):
            self.add_state(name, default=torch.zeros(k, dtype=torch.long), dist_reduce_fx="sum")
        for name in ("ex_precision", "ex_recall", "ex_f1"):
            self.add_state(name, default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("n", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    @property
    def labeler_name(self) -> str:
        return str(getattr(self.labeler, "name", type(self.labeler).__name__))

    def positives(self, reports: Sequence[str]) -> torch.Tensor:
        """Boolean (N, classes): which findings the labeler calls positive (value 1)."""
        rows = self.labeler.label_batch(list(reports))
        if len(rows) != len(reports):
            raise ValueError(f"labeler {self.labeler_name!r} returned {len(rows)} label rows "
                             f"for {len(reports)} reports")
        for i, row in enumerate(rows):
            if len(row) != len(CHEXPERT_LABELS):
                raise ValueError(f"labeler {self.labeler_name!r} returned {len(row)} labels for "
                                 f"report {i}; expected {len(CHEXPERT_LABELS)} (cbf.fields.CHEXPERT_LABELS)")
        values = torch.tensor(rows, dtype=torch.float64).reshape(len(rows), len(CHEXPERT_LABELS))
        return (values == 1)[:, self._columns]  # nan == 1 is False: blank counts as absent

    def update(self, predictions: Sequence[str], references: Sequence[str]) -> None:
        if isinstance(predictions, str) or isinstance(references, str):
            raise TypeError("ClinicalEfficacy.update takes sequences of reports, not a single string")
        if len(predictions) != len(references):
            raise ValueError(f"ClinicalEfficacy.update: {len(predictions)} predictions but "
                             f"{len(references)} references")
        if len(predictions) == 0:
            return
        pred = self.positives(predictions).to(self.tp.device)
        ref = self.positives(references).to(self.tp.device)
        tp, fp, fn = confusion_counts(pred, ref)
        self.tp += tp
        self.fp += fp
        self.fn += fn
        p, r, f = example_scores(pred.cpu(), ref.cpu())
        self.ex_precision += p.sum().to(self.ex_precision.device)
        self.ex_recall += r.sum().to(self.ex_recall.device)
        self.ex_f1 += f.sum().to(self.ex_f1.device)
        self.n += len(predictions)

    def compute(self) -> dict[str, Any]:
        n = int(self.n)
        if n == 0:
            raise ValueError("ClinicalEfficacy.compute: no reports were given to update()")
        scores = averaged_scores(self.tp.cpu(), self.fp.cpu(), self.fn.cpu())
        out: dict[str, Any] = {}
        for avg in ("micro", "macro"):
            for what in ("precision", "recall", "f1"):
                out[f"{PREFIX}{avg}_{what}"] = float(scores[f"{avg}_{what}"])
        out[f"{PREFIX}example_precision"] = float(self.ex_precision) / n
        out[f"{PREFIX}example_recall"] = float(self.ex_recall) / n
        out[f"{PREFIX}example_f1"] = float(self.ex_f1) / n
        support = (self.tp + self.fn).cpu()
        for what in ("precision", "recall", "f1"):
            for label, value in zip(self.classes, scores[f"class_{what}"].tolist()):
                out[f"{PREFIX}{what}_{_key(label)}"] = float(value)
        for label, value in zip(self.classes, support.tolist()):
            out[f"{PREFIX}support_{_key(label)}"] = float(value)
        out[f"{PREFIX}n"] = float(n)
        out["labeler"] = self.labeler_name
        return out


def load_labeler(name: str) -> Labeler:
    """The ``annotators`` plugin ``name``, built with its defaults; must be a Labeler."""
    cls = load_plugin("annotators", name)
    labeler = cls()
    if not isinstance(labeler, Labeler):
        raise PluginLoadError(f"annotators plugin {name!r} ({cls.__module__}.{cls.__qualname__}) is not a "
                        "cbf.api.Labeler: it cannot label reports for clinical efficacy")
    return labeler


__all__ = ["ClinicalEfficacy", "PREFIX", "load_labeler"]
