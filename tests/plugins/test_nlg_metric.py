"""The ``nlg`` metric: R2Gen tokenization, and `cbf evaluate` == pycocoevalcap called directly.

Real text: IU X-Ray reports from the ``NLMCXR_reports.tgz`` that ships inside the installed
torchxrayvision wheel (so this runs without the shared data folder). METEOR starts a JVM
(seconds): only the module-scoped comparison below runs it, twice.
"""
from __future__ import annotations

import importlib.resources
import json
import random
import tarfile
import warnings
import xml.etree.ElementTree as ET

import pytest

from cbf.cli import main as cli_main
from cbf.registry import load_plugin

N_REPORTS = 200


def _iu_reports(limit: int) -> list[str]:
    """findings + impression of the first ``limit`` non-empty Open-i reports."""
    archive = importlib.resources.files("torchxrayvision") / "data" / "NLMCXR_reports.tgz"
    reports: list[str] = []
    with tarfile.open(str(archive), mode="r:gz") as tar:
        for member in tar:
            if not (member.isfile() and member.name.endswith(".xml")):
                continue
            root = ET.fromstring(tar.extractfile(member).read())
            parts = {a.get("Label"): " ".join("".join(a.itertext()).split())
                     for a in root.iter("AbstractText")}
            text = " ".join(p for p in (parts.get("FINDINGS"), parts.get("IMPRESSION")) if p)
            if text:
                reports.append(text)
            if len(reports) == limit:
                break
    assert len(reports) == limit
    return reports


@pytest.fixture(scope="module")
def nlg_cls():
    return load_plugin("metrics", "nlg")


@pytest.fixture(scope="module")
def shuffled_run(tmp_path_factory):
    """`cbf evaluate` on real reports with shuffled references as predictions (one empty)."""
    references = _iu_reports(N_REPORTS)
    predictions = references[:]
    random.Random(0).shuffle(predictions)
    predictions[3] = ""  # an empty generation must be scored, not crash
    folder = tmp_path_factory.mktemp("nlg")
    path = folder / "pred.jsonl"
    with path.open("w") as f:
        for i, (p, r) in enumerate(zip(predictions, references)):
            f.write(json.dumps({"id": f"r{i}", "prediction": p, "reference": r}) + "\n")
    out = folder / "metrics.json"
    assert cli_main(["evaluate", str(path), "--no-ce", "--out", str(out)]) == 0
    return predictions, references, json.loads(out.read_text())


def test_evaluate_equals_pycocoevalcap_called_directly(shuffled_run):
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.meteor.meteor import Meteor
    from pycocoevalcap.rouge.rouge import Rouge

    from cbf_nlg import clean_report

    predictions, references, got = shuffled_run
    res = {i: [clean_report(p, "r2gen-iu")] for i, p in enumerate(predictions)}
    gts = {i: [clean_report(r, "r2gen-iu")] for i, r in enumerate(references)}
    assert res[3] == [""]
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    meteor = Meteor()
    expected = {"BLEU_1": bleu[0], "BLEU_2": bleu[1], "BLEU_3": bleu[2], "BLEU_4": bleu[3],
                "METEOR": meteor.compute_score(gts, res)[0],
                "ROUGE_L": Rouge().compute_score(gts, res)[0],
                "CIDEr": Cider().compute_score(gts, res)[0]}
    del meteor
    assert list(got)[:7] == list(expected)  # NLG keys first, pycocoevalcap's names
    for key, value in expected.items():
        assert got[key] == pytest.approx(float(value), abs=1e-9), key
    assert got["n"] == N_REPORTS and got["tokenization"] == "r2gen-iu" and got["labeler"] is None
    # shuffled reports share phrasing but are not the references: scores strictly in between
    assert 0.05 < got["BLEU_4"] < 0.5 and 0.1 < got["METEOR"] < 0.5 and 0 < got["CIDEr"] < 1


def test_identical_reports_score_perfectly(nlg_cls):
    reports = _iu_reports(20)
    metric = nlg_cls(nlg_cls.Config(meteor=False))
    metric.update(reports[:12], reports[:12])
    metric.update(reports[12:], reports[12:])
    got = metric.compute()
    assert "METEOR" not in got
    assert got["BLEU_4"] == pytest.approx(1.0, abs=1e-6)
    assert got["ROUGE_L"] == 1.0
    assert got["CIDEr"] > 1.0  # CIDEr is not bounded by 1; identical text scores high


def test_empty_predictions_score_zero_not_crash(nlg_cls):
    metric = nlg_cls(nlg_cls.Config(meteor=False))
    metric.update(["", "   "], ["The heart is normal.", "No effusion."])
    got = metric.compute()
    assert got["ROUGE_L"] == 0.0 and got["CIDEr"] == 0.0 and got["BLEU_1"] < 1e-6


def test_reset_and_bad_input(nlg_cls):
    metric = nlg_cls(nlg_cls.Config(meteor=False))
    metric.update(["a b ."], ["a b ."])
    metric.reset()
    with warnings.catch_warnings(), pytest.raises(ValueError, match="no reports"):
        warnings.simplefilter("ignore")  # torchmetrics warns about compute() before update()
        metric.compute()
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        metric.update(["a", "b"], ["a"])
    with pytest.raises(TypeError, match="not a single string"):
        metric.update("a", "b")
    with pytest.raises(ValueError, match="tokenization"):
        nlg_cls(nlg_cls.Config(tokenization="ptb", meteor=False))


@pytest.mark.parametrize("text, expected", [
    # lower-cased, sentence marks " .", commas/colons dropped, '-' kept (R2Gen's class keeps it)
    ("Heart size normal. Lungs are clear, no effusion.", "heart size normal . lungs are clear no effusion ."),
    # list numbers and doubled dots go; quotes and slashes vanish without a space
    ("1. No acute disease.. 2. Stable T-spine/L-spine \"XXXX\".",
     "no acute disease . stable t-spinel-spine xxxx ."),
    # R2Gen's ':-\[' is a character *range*: '<', '=', '>', '@' are removed as well
    ("Size: 5 cm <stable> = @prior", "size 5 cm stable prior ."),
    ("", ""),  # blank stays blank (no lone ".")
    ("  \n ", ""),
])
def test_clean_report_follows_r2gen(text, expected):
    from cbf_nlg import clean_report

    assert clean_report(text, "r2gen-iu") == expected


def test_clean_report_mimic_and_none():
    from cbf_nlg import clean_report

    text = "FINDINGS:\n1. Tubes ___ in place...  2. No pneumothorax."
    assert clean_report(text, "r2gen-mimic") == "findings tubes in place . no pneumothorax ."
    assert clean_report("Keep  As\nIs .", "none") == "Keep As Is ."
    with pytest.raises(ValueError, match="unknown tokenization"):
        clean_report("x", "bert")


def test_clean_report_is_idempotent_on_r2gen_annotation(shared_data):
    """Model outputs are already in cleaned form and get cleaned again: that must not change them."""
    from cbf_nlg import clean_report

    data = json.loads((shared_data / "iu_xray" / "r2gen_annotation.json").read_text())
    reports = [item["report"] for split in data.values() for item in split]
    cleaned = [clean_report(r) for r in reports]
    assert len(cleaned) == 2955
    assert all(clean_report(c) == c for c in cleaned)
    assert all(c.endswith(" .") and c == c.lower() for c in cleaned)


def test_missing_java_is_a_clear_error(nlg_cls, monkeypatch, tmp_path, capsys):
    import cbf_nlg.metric as nlg_module

    monkeypatch.setattr(nlg_module.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="no-meteor"):
        nlg_cls()
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "a", "prediction": "x .", "reference": "x ."}) + "\n")
    assert cli_main(["evaluate", str(path), "--no-ce"]) == 1
    assert "java not found" in capsys.readouterr().err
    assert cli_main(["evaluate", str(path), "--no-ce", "--no-meteor"]) == 0


def test_text_states_sync_across_processes(nlg_cls, tmp_path):
    """A 1-process gloo group runs the DDP gather path; torchmetrics' default would fail on str."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        metric = nlg_cls(nlg_cls.Config(meteor=False))
        metric.update(["the heart is normal ."], ["the heart is normal ."])
        got = metric.compute()
    finally:
        dist.destroy_process_group()
    assert got["ROUGE_L"] == 1.0
    assert metric.predictions == ["the heart is normal ."]  # unsynced back after compute
