"""Score generated reports: NLG metrics (BLEU-1..4, METEOR, ROUGE-L, CIDEr) and clinical efficacy.

FILE is JSONL, one object per line with string fields ``id``, ``prediction`` and ``reference``
(blank lines are skipped). Prints one JSON object: the NLG scores under pycocoevalcap's names,
then the clinical-efficacy scores (``CE_*``), then metadata (``n``, ``tokenization``,
``labeler``, the input file). See docs/evaluation.md for the exact definitions.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from cbf.errors import DataError
from cbf.registry import load_plugin

FIELDS: tuple[str, ...] = ("id", "prediction", "reference")
#: Keys of the metrics' outputs that are metadata, moved after the scores.
_METADATA_KEYS: tuple[str, ...] = ("tokenization", "labeler")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="JSONL with id, prediction, reference per line")
    parser.add_argument("--out", metavar="OUT.json", help="also write the JSON object to this file")
    parser.add_argument("--labeler", default="chexpert_rules",
                        help="annotators plugin labeling reports for clinical efficacy "
                             "(default: chexpert_rules)")
    parser.add_argument("--no-ce", action="store_true", help="skip clinical efficacy (no labeler)")
    parser.add_argument("--exclude-no-finding", action="store_true",
                        help="score the 13 findings only (default: all 14 CheXpert classes, as R2Gen/CMN)")
    parser.add_argument("--no-meteor", action="store_true", help="skip METEOR (it needs Java)")
    parser.add_argument("--tokenization", default="r2gen-iu",
                        choices=("r2gen-iu", "r2gen-mimic", "none"),
                        help="how both sides are tokenized before scoring (default: r2gen-iu, "
                             "R2Gen's IU X-Ray cleaner; 'none': text is already tokenized)")


def read_predictions(path: str | Path) -> list[dict[str, str]]:
    """The records of a predictions JSONL; any bad line is a DataError naming file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: predictions file not found")
    records: list[dict[str, str]] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})") from exc
            if not isinstance(obj, dict):
                raise DataError(f"{where}: expected a JSON object with {', '.join(FIELDS)}, "
                                f"got {type(obj).__name__}")
            missing = [k for k in FIELDS if k not in obj]
            if missing:
                raise DataError(f"{where}: missing key(s) {', '.join(missing)} "
                                f"(each line needs {', '.join(FIELDS)})")
            for key in FIELDS:
                if not isinstance(obj[key], str):
                    raise DataError(f"{where}: {key!r} must be a string, got {type(obj[key]).__name__}")
            if obj["id"] in seen:
                raise DataError(f"{where}: duplicate id {obj['id']!r} (first on line {seen[obj['id']]})")
            seen[obj["id"]] = lineno
            records.append({k: obj[k] for k in FIELDS})
    if not records:
        raise DataError(f"{path}: no predictions (the file is empty)")
    return records


def evaluate(records: list[dict[str, str]], *, tokenization: str = "r2gen-iu", meteor: bool = True,
             labeler: str | None = "chexpert_rules", include_no_finding: bool = True) -> dict[str, Any]:
    """NLG scores, then clinical efficacy (unless ``labeler`` is None), then metadata."""
    predictions = [r["prediction"] for r in records]
    references = [r["reference"] for r in records]
    nlg_cls = load_plugin("metrics", "nlg")
    nlg = nlg_cls(nlg_cls.Config(tokenization=tokenization, meteor=meteor))
    nlg.update(predictions, references)
    parts = [nlg.compute()]
    if labeler is not None:
        ce_cls = load_plugin("metrics", "clinical_efficacy")
        ce = ce_cls(ce_cls.Config(labeler=labeler, include_no_finding=include_no_finding))
        ce.update(predictions, references)
        parts.append(ce.compute())
    scores: dict[str, Any] = {}
    meta: dict[str, Any] = {"n": len(records), "tokenization": tokenization, "labeler": None,
                            "meteor": meteor}
    for part in parts:
        for key, value in part.items():
            if key in _METADATA_KEYS:
                meta[key] = value
            else:
                scores[key] = None if isinstance(value, float) and math.isnan(value) else value
    return {**scores, **meta}


def main(args: argparse.Namespace) -> int:
    records = read_predictions(args.file)
    result = evaluate(records, tokenization=args.tokenization, meteor=not args.no_meteor,
                      labeler=None if args.no_ce else args.labeler,
                      include_no_finding=not args.exclude_no_finding)
    result["file"] = str(args.file)
    text = json.dumps(result, indent=2, allow_nan=False)
    print(text)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    return 0
