"""Reports per second of the rule-based labeler on one core, over the real IU reports.

    python bench/labeler_speed.py [--repeat 3]

Pure Python (no torch threads involved). Prints the best of ``--repeat`` passes, both by
wall clock and by this process's CPU time (the fair figure on a busy shared machine).
"""
from __future__ import annotations

import argparse
import time

from labeler_common import iu_reports, labeler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--labeler", default="chexpert_rules")
    args = parser.parse_args()
    reports = list(iu_reports().values())
    lab = labeler(args.labeler)
    lab.label(reports[0])  # compile the rules outside the timing
    wall = cpu = float("inf")
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        lab.label_batch(reports)
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    n = len(reports)
    chars = sum(map(len, reports)) / n
    print(f"{lab.name}: {n} IU reports (mean {chars:.0f} chars), best of {args.repeat}, one core: "
          f"{n / cpu:,.0f} reports/s by CPU time ({cpu:.2f} s), "
          f"{n / wall:,.0f} reports/s by wall clock ({wall:.2f} s)")


if __name__ == "__main__":
    main()
