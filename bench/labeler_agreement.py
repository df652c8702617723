"""Agreement of the rule-based labeler with the neural CheXpert labeler's IU labels.

    python bench/labeler_agreement.py [--data /work/shared/data] [--sample out.md]

Reference: ``labeler_reference/iu_chexpert_lstm_labels.json`` (3,337 reports, 14 binary
labels in the alphabetical order below); texts: ``iu_reports_ori.json`` (same keys),
FINDINGS + IMPRESSION. Positive = 1 on both sides (our -1/0/blank count as 0), per
category and micro-averaged over the 14. ``--sample`` writes disagreements to read.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from cbf.fields import CHEXPERT_LABELS

from labeler_common import labeler

#: The reference file's label order (documented in shared/data/README.md).
REFERENCE_ORDER = (
    "Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum",
    "Fracture", "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion",
    "Pleural Other", "Pneumonia", "Pneumothorax", "Support Devices",
)


def load_reference(data: Path) -> tuple[list[str], list[str], list[list[int]]]:
    """(keys, texts, labels in CHEXPERT_LABELS order) for the labelled IU reports."""
    ref_dir = data / "labeler_reference"
    labels = json.loads((ref_dir / "iu_chexpert_lstm_labels.json").read_text())
    reports = json.loads((ref_dir / "iu_reports_ori.json").read_text())
    keys, texts, ys = [], [], []
    for key, vec in labels.items():
        sections = reports[key]["report"]
        text = " ".join(s for s in (sections.get("FINDINGS"), sections.get("IMPRESSION")) if s)
        by_name = dict(zip(REFERENCE_ORDER, vec))
        keys.append(key)
        texts.append(text)
        ys.append([int(by_name[c]) for c in CHEXPERT_LABELS])
    return keys, texts, ys


def agreement(pred: list[list[float]], ref: list[list[int]]) -> dict[str, dict[str, float]]:
    """Per category and micro: support (reference positives), predicted, P, R, F1."""
    table: dict[str, dict[str, float]] = {}
    tot = [0, 0, 0]
    for j, cat in enumerate(CHEXPERT_LABELS):
        tp = sum(1 for p, r in zip(pred, ref) if p[j] == 1 and r[j] == 1)
        fp = sum(1 for p, r in zip(pred, ref) if p[j] == 1 and r[j] != 1)
        fn = sum(1 for p, r in zip(pred, ref) if p[j] != 1 and r[j] == 1)
        tot = [tot[0] + tp, tot[1] + fp, tot[2] + fn]
        table[cat] = _prf(tp, fp, fn)
    table["micro"] = _prf(*tot)
    return table


def _prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"support": tp + fn, "predicted": tp + fp, "precision": p, "recall": r, "f1": f}


def format_table(table: dict[str, dict[str, float]]) -> str:
    lines = ["| category | support | predicted | precision | recall | F1 |",
             "|---|---:|---:|---:|---:|---:|"]
    for cat, m in table.items():
        lines.append(f"| {cat} | {m['support']} | {m['predicted']} | {m['precision']:.3f} | "
                     f"{m['recall']:.3f} | {m['f1']:.3f} |")
    return "\n".join(lines)


def write_sample(path: Path, keys, texts, pred, ref, per_cat: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    out = ["# Disagreements with the reference labeler (positive = 1)", ""]
    show = {1.0: "1", 0.0: "0", -1.0: "-1"}
    for j, cat in enumerate(CHEXPERT_LABELS):
        for kind, cond in (("we say 1, reference 0", lambda p, r: p == 1 and r != 1),
                           ("reference 1, we say not 1", lambda p, r: p != 1 and r == 1)):
            idx = [i for i in range(len(keys)) if cond(pred[i][j], ref[i][j])]
            if not idx:
                continue
            out.append(f"## {cat}: {kind} ({len(idx)})")
            out.append("")
            for i in rng.sample(idx, min(per_cat, len(idx))):
                ours = show.get(pred[i][j], "blank")
                out.append(f"- `{keys[i]}` (ours: {ours}): {texts[i]}")
            out.append("")
    path.write_text("\n".join(out), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--labeler", default="chexpert_rules")
    parser.add_argument("--sample", type=Path, help="write a markdown disagreement sample here")
    parser.add_argument("--per-category", type=int, default=8)
    parser.add_argument("--uncertain-as-positive", action="store_true",
                        help="also count our -1 as 1 (the reference is binary and reads "
                             "'probable pneumonia' as positive)")
    args = parser.parse_args()
    keys, texts, ref = load_reference(args.data)
    lab = labeler(args.labeler)
    pred = lab.label_batch(texts)
    if args.uncertain_as_positive:
        pred = [[1.0 if v == -1 else v for v in row] for row in pred]
    print(f"{lab.name} vs labeler_reference (neural CheXpert labeler), {len(keys)} IU reports, "
          f"positive = 1{' (ours: 1 or -1)' if args.uncertain_as_positive else ''}")
    print(format_table(agreement(pred, ref)))
    if args.sample:
        write_sample(args.sample, keys, texts, pred, ref, args.per_category)
        print(f"disagreement sample: {args.sample}")


if __name__ == "__main__":
    main()
