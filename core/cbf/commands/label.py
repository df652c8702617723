"""CheXpert-style labels (1, 0, -1, empty) for reports in a CSV (id,report) or JSONL file.

Writes CSV with an id column and the 14 CheXpert categories, to --out or stdout.
"""
from __future__ import annotations

import argparse
import sys

from cbf.registry import load_plugin
from cbf.reports_io import read_reports, write_labels

#: Show a progress bar from this many reports on (small inputs stay quiet).
PROGRESS_FROM = 2000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT", help="CSV with columns id,report or JSONL with keys id, report")
    parser.add_argument("--out", "-o", metavar="FILE", help="output CSV (default: stdout)")
    parser.add_argument("--labeler", default="chexpert_rules",
                        help="annotators plugin that labels (default: chexpert_rules)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def main(args: argparse.Namespace) -> int:
    rows = read_reports(args.input)
    cls = load_plugin("annotators", args.labeler)
    labeler = cls()
    if not hasattr(labeler, "label"):
        print(f"cbf label: annotator {args.labeler!r} is not a labeler (it has no label())",
              file=sys.stderr)
        return 2
    reports = [r for _, r in rows]
    if len(reports) >= PROGRESS_FROM and not args.no_progress:
        from tqdm import tqdm

        reports = tqdm(reports, desc=f"labelling ({getattr(labeler, 'name', args.labeler)})",
                       unit="report", file=sys.stderr)
    labels = [labeler.label(r) for r in reports]
    write_labels(args.out, [i for i, _ in rows], labels)
    if args.out:
        print(f"cbf label: {len(rows)} reports -> {args.out}", file=sys.stderr)
    return 0
