"""The rule-based CheXpert-style labeler: cues, scope, aggregation, No Finding, real data."""
from __future__ import annotations

import json
import math
import tarfile
import xml.etree.ElementTree as ET
from importlib import resources

import pytest

from cbf.api import Labeler
from cbf.cli import main as cli_main
from cbf.fields import CHEXPERT_LABELS
from cbf.registry import load_plugin
from cbf_chexpert import ChexpertRulesLabeler

IDX = {name: i for i, name in enumerate(CHEXPERT_LABELS)}


@pytest.fixture(scope="module")
def labeler() -> ChexpertRulesLabeler:
    return ChexpertRulesLabeler()


def lab(labeler: ChexpertRulesLabeler, text: str) -> dict[str, float | None]:
    """Category -> value, None where not mentioned."""
    values = labeler.label(text)
    assert len(values) == 14
    return {c: (None if math.isnan(v) else v) for c, v in zip(CHEXPERT_LABELS, values)}


def test_is_a_registered_labeler():
    cls = load_plugin("annotators", "chexpert_rules")
    assert cls is ChexpertRulesLabeler and issubclass(cls, Labeler)
    assert cls.name == "cbf-chexpert-rules"
    with pytest.raises(ValueError, match="scope_words"):
        ChexpertRulesLabeler(ChexpertRulesLabeler.Config(scope_words=0))


@pytest.mark.parametrize("text, category", [
    ("No pleural effusion.", "Pleural Effusion"),
    ("There is no evidence of pneumothorax.", "Pneumothorax"),
    ("Lungs are clear without focal consolidation.", "Consolidation"),
    ("Negative for acute displaced rib fracture.", "Fracture"),
    ("The lungs are free of focal airspace disease.", "Lung Opacity"),
    ("Previously seen left pleural effusion has resolved.", "Pleural Effusion"),
    ("Pneumothorax is not seen.", "Pneumothorax"),          # negation after the mention
    ("Pulmonary edema is no longer present.", "Edema"),
    ("Heart size is normal.", "Cardiomegaly"),              # anchor + post cue
    ("Normal heart size.", "Cardiomegaly"),                 # anchor + pre cue
    ("The cardiomediastinal silhouette is within normal limits.", "Enlarged Cardiomediastinum"),
])
def test_negation(labeler, text, category):
    assert lab(labeler, text)[category] == 0


def test_negation_covers_a_list(labeler):
    got = lab(labeler, "No pneumonia, effusions, edema, pneumothorax, adenopathy, nodules or masses.")
    for cat in ("Pneumonia", "Pleural Effusion", "Edema", "Pneumothorax", "Lung Lesion"):
        assert got[cat] == 0, cat
    assert got["No Finding"] == 1


@pytest.mark.parametrize("text, category", [
    ("Cannot exclude pneumonia.", "Pneumonia"),
    ("Pneumonia cannot be excluded.", "Pneumonia"),
    ("Left basilar opacity may represent atelectasis.", "Atelectasis"),
    ("Possible small right pleural effusion.", "Pleural Effusion"),
    ("Findings are suggestive of pulmonary edema.", "Edema"),
    ("Right base opacity, atelectasis versus pneumonia.", "Pneumonia"),
    ("Right base opacity, atelectasis versus pneumonia.", "Atelectasis"),
    ("Right lower lobe pneumonia?", "Pneumonia"),
    ("Heart size is at the upper limits of normal.", "Cardiomegaly"),
    ("No new consolidation.", "Consolidation"),  # CheXpert: "no new X" is uncertain
])
def test_uncertainty(labeler, text, category):
    assert lab(labeler, text)[category] == -1


@pytest.mark.parametrize("text, category", [
    ("There is a small left pleural effusion.", "Pleural Effusion"),
    ("Mild cardiomegaly.", "Cardiomegaly"),
    ("The heart is mildly enlarged.", "Cardiomegaly"),
    ("Left lower lobe airspace disease consistent with pneumonia.", "Pneumonia"),
    ("Right IJ central venous catheter tip in the SVC.", "Support Devices"),
    ("Healed left 9th rib fracture.", "Fracture"),
    ("No change in the small right pneumothorax.", "Pneumothorax"),  # "no change" negates nothing
    ("The mediastinum appears somewhat prominent.", "Enlarged Cardiomediastinum"),
])
def test_positive(labeler, text, category):
    assert lab(labeler, text)[category] == 1


def test_unmention_and_anchor_alone(labeler):
    got = lab(labeler, "Small pericardial effusion. Heart size is stable.")
    assert got["Pleural Effusion"] is None      # pericardial is not pleural
    assert got["Cardiomegaly"] is None          # "heart size is stable" says nothing


def test_sentence_boundaries(labeler):
    # the negation of the first sentence must not reach the second one
    got = lab(labeler, "No pneumothorax. Small right pleural effusion.")
    assert got["Pneumothorax"] == 0 and got["Pleural Effusion"] == 1
    # a decimal and "Dr." are not sentence ends: the cue and the mention stay together
    got = lab(labeler, "Dr. XXXX notes no 1.5 cm nodule.")
    assert got["Lung Lesion"] == 0
    got = lab(labeler, "There is a 1.5 cm nodule in the right upper lobe. No effusion.")
    assert got["Lung Lesion"] == 1 and got["Pleural Effusion"] == 0
    # "?" ends a sentence: its uncertainty stays with the first one
    got = lab(labeler, "Pneumonia? Atelectasis in the left base.")
    assert got["Pneumonia"] == -1 and got["Atelectasis"] == 1


def test_scope_breakers(labeler):
    got = lab(labeler, "No pleural effusion, but there is a small pneumothorax.")
    assert got["Pleural Effusion"] == 0 and got["Pneumothorax"] == 1
    got = lab(labeler, "Heart size normal, small left effusion.")
    assert got["Cardiomegaly"] == 0 and got["Pleural Effusion"] == 1


def test_aggregation_positive_beats_uncertain_beats_negative(labeler):
    assert lab(labeler, "No effusion on the right. Small left effusion. Possible effusion.")[
        "Pleural Effusion"] == 1
    assert lab(labeler, "No effusion on the right. Possible left effusion.")["Pleural Effusion"] == -1
    assert lab(labeler, "No effusion. No pleural fluid.")["Pleural Effusion"] == 0


def test_no_finding_rule(labeler):
    normal = lab(labeler, "Heart size normal. Lungs are clear. No effusion or pneumothorax.")
    assert normal["No Finding"] == 1
    # support devices do not count as a finding
    assert lab(labeler, "Left PICC line in the SVC. Lungs are clear.")["No Finding"] == 1
    # a positive or an uncertain pathology blanks No Finding
    assert lab(labeler, "Mild cardiomegaly. Lungs are clear.")["No Finding"] is None
    assert lab(labeler, "Possible left lower lobe pneumonia.")["No Finding"] is None
    # nothing mentioned at all: No Finding, as the original labeler; empty text: all blank
    assert lab(labeler, "Normal chest.")["No Finding"] == 1
    assert all(v is None for v in lab(labeler, "   ").values())
    # strict mode: findings outside the 14 (granuloma) also stop No Finding
    text = "Calcified granuloma in the right upper lobe. No acute disease."
    assert lab(labeler, text)["No Finding"] == 1
    strict = ChexpertRulesLabeler(ChexpertRulesLabeler.Config(strict_no_finding=True))
    assert lab(strict, text)["No Finding"] is None


def test_batch_and_annotate(labeler):
    texts = ["No effusion.", "Cardiomegaly."]
    assert labeler.label_batch(texts)[1] == labeler.label(texts[1])
    rec = labeler.annotate({"report": "Cardiomegaly."})
    assert rec["chexpert"][IDX["Cardiomegaly"]] == 1
    source = [0.0] * 14
    assert labeler.annotate({"report": "Cardiomegaly.", "chexpert": source})["chexpert"] is source
    over = ChexpertRulesLabeler(ChexpertRulesLabeler.Config(overwrite_source=True))
    assert over.annotate({"report": "Cardiomegaly.", "chexpert": source})["chexpert"][2] == 1


def test_explain_names_the_mentions(labeler):
    found = {(m.category, m.text, m.value) for m in labeler.explain("No pneumothorax. Mild edema.")}
    assert ("Pneumothorax", "pneumothorax", 0) in found and ("Edema", "edema", 1) in found


def test_cli_end_to_end(tmp_path, capsys):
    src = tmp_path / "reports.jsonl"
    src.write_text(json.dumps({"id": "a", "report": "No pneumothorax. Mild cardiomegaly."}) + "\n"
                   + json.dumps({"id": "b", "report": "Normal chest."}) + "\n")
    out = tmp_path / "labels.csv"
    assert cli_main(["label", str(src), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "id," + ",".join(CHEXPERT_LABELS)
    row_a = dict(zip(lines[0].split(","), lines[1].split(",")))
    assert row_a["id"] == "a" and row_a["Cardiomegaly"] == "1" and row_a["Pneumothorax"] == "0"
    assert row_a["No Finding"] == "" and row_a["Edema"] == ""
    assert lines[2].split(",")[1] == "1"  # b: No Finding
    # stdout when --out is absent
    capsys.readouterr()
    assert cli_main(["label", str(src)]) == 0
    assert capsys.readouterr().out.splitlines() == lines
    # a bad row: one clear error line, exit 1
    bad = tmp_path / "bad.csv"
    bad.write_text("id,report\nx,fine\n,no id here\n")
    assert cli_main(["label", str(bad)]) == 1
    assert "line 3" in capsys.readouterr().err
    # an unknown labeler is a clear error too
    assert cli_main(["label", str(src), "--labeler", "nope"]) == 1


def _iu_reports(limit: int | None = None) -> list[str]:
    path = resources.files("torchxrayvision") / "data" / "NLMCXR_reports.tgz"
    texts = []
    with resources.as_file(path) as p, tarfile.open(p) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".xml"):
                root = ET.fromstring(tar.extractfile(member).read())
                parts = {e.get("Label"): (e.text or "") for e in root.iter("AbstractText")}
                text = f"{parts.get('FINDINGS', '')} {parts.get('IMPRESSION', '')}".strip()
                if text:
                    texts.append(text)
                if limit and len(texts) >= limit:
                    break
    return texts


def test_real_iu_reports_from_torchxrayvision(labeler):
    texts = _iu_reports(limit=1000)
    labels = labeler.label_batch(texts)
    assert len(labels) == len(texts) == 1000
    allowed = {1.0, 0.0, -1.0}
    assert all(math.isnan(v) or v in allowed for row in labels for v in row)
    share = lambda cat, val: sum(r[IDX[cat]] == val for r in labels) / len(labels)  # noqa: E731
    # IU is mostly normal studies; every category that IU reports discuss shows up
    assert 0.55 < share("No Finding", 1) < 0.85
    for cat in ("Cardiomegaly", "Lung Opacity", "Atelectasis", "Pleural Effusion", "Lung Lesion"):
        assert share(cat, 1) > 0.01, cat
    assert share("Pneumothorax", 0) > 0.4  # "no pneumothorax" is in most reports
    # No Finding is never 1 next to a positive or uncertain pathology
    for row in labels:
        if row[IDX["No Finding"]] == 1:
            assert all(not (row[i] in (1.0, -1.0)) for i in range(1, 13))


#: F1 floors (positive = 1) vs the neural CheXpert labeler on 3,337 IU reports, set a little
#: below what the rules reach (docs/labeler.md); only categories with >= 90 reference positives.
F1_FLOORS = {"No Finding": 0.90, "Cardiomegaly": 0.80, "Lung Lesion": 0.65, "Lung Opacity": 0.65,
             "Edema": 0.70, "Pleural Effusion": 0.80, "Atelectasis": 0.55, "Pneumonia": 0.50}


def test_agreement_with_reference_labeler(labeler, shared_data):
    ref_dir = shared_data / "labeler_reference"
    ref = json.loads((ref_dir / "iu_chexpert_lstm_labels.json").read_text())
    reports = json.loads((ref_dir / "iu_reports_ori.json").read_text())
    order = ("Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum",
             "Fracture", "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion",
             "Pleural Other", "Pneumonia", "Pneumothorax", "Support Devices")
    keys = sorted(ref)
    assert len(keys) == 3337
    texts = [" ".join(s for s in (reports[k]["report"].get("FINDINGS"),
                                  reports[k]["report"].get("IMPRESSION")) if s) for k in keys]
    pred = labeler.label_batch(texts)
    for cat, floor in F1_FLOORS.items():
        j, r = IDX[cat], order.index(cat)
        tp = sum(p[j] == 1 and ref[k][r] == 1 for p, k in zip(pred, keys))
        fp = sum(p[j] == 1 and ref[k][r] != 1 for p, k in zip(pred, keys))
        fn = sum(p[j] != 1 and ref[k][r] == 1 for p, k in zip(pred, keys))
        f1 = 2 * tp / (2 * tp + fp + fn)
        assert f1 >= floor, f"{cat}: F1 {f1:.3f} < floor {floor}"
