"""List the installed plugins by kind, with the distribution that provides each and any
error loading it. A broken plugin is reported here and never stops the others."""
from __future__ import annotations

import argparse
import json

from cbf.registry import KINDS, registry


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--kind", choices=KINDS, help="only this kind")


def main(args: argparse.Namespace) -> int:
    kinds = [args.kind] if args.kind else list(KINDS)
    report: dict[str, list[dict[str, str | None]]] = {}
    for kind in kinds:
        report[kind] = [{"name": info.name, "value": info.value, "package": info.distribution, "error": err}
                        for info, err in registry(kind).check_all()]
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for kind, rows in report.items():
        print(f"{kind}:")
        if not rows:
            print("  (none)")
        for row in rows:
            status = "ok" if row["error"] is None else f"ERROR: {row['error']}"
            print(f"  {row['name']:<20} {row['value']:<45} [{row['package']}] {status}")
    return 0
