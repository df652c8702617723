"""Read reports to label (CSV or JSONL) and write CheXpert-style label tables (CSV).

Why collect every bad row before failing: a user fixing a 50,000-row file wants all the
problems at once, and nothing may be silently dropped.
"""
from __future__ import annotations

import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import IO, Iterable, Sequence

from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS

#: Extensions read as JSON lines (one object per line); everything else must be .csv.
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
#: At most this many bad rows are listed in one error (the count is always given).
MAX_LISTED = 20


def read_reports(path: str | Path) -> list[tuple[str, str]]:
    """``[(id, report), ...]`` from a CSV (header with ``id`` and ``report``; other columns
    ignored) or JSONL file (objects with ``id`` and ``report``), chosen by extension.

    Raises :class:`DataError` naming the file and every bad line (missing id, missing or
    non-text report, bad JSON, duplicate id).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows, problems = _read_csv(path)
    elif suffix in JSONL_SUFFIXES:
        rows, problems = _read_jsonl(path)
    else:
        raise DataError(f"{path}: unknown input format {suffix or '(no extension)'!r}; "
                        f"use .csv (columns id,report) or .jsonl (keys id, report)")
    seen: dict[str, int] = {}
    out: list[tuple[str, str]] = []
    for line, rid, report in rows:
        if rid in seen:
            problems.append(f"line {line}: duplicate id {rid!r} (first on line {seen[rid]})")
            continue
        seen[rid] = line
        out.append((rid, report))
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED])
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise DataError(f"{path}: {len(problems)} bad row(s):\n  {listed}{more}")
    return out


def _check(line: int, rid: object, report: object, problems: list[str]) -> tuple[str, str] | None:
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or not str(rid).strip():
        problems.append(f"line {line}: missing or empty id")
        return None
    if not isinstance(report, str):
        what = "missing report" if report is None else f"report is {type(report).__name__}, not text"
        problems.append(f"line {line}: {what} (id {str(rid)!r})")
        return None
    return str(rid).strip(), report


def _read_csv(path: Path) -> tuple[list[tuple[int, str, str]], list[str]]:
    problems: list[str] = []
    rows: list[tuple[int, str, str]] = []
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file (expected a header with id,report)") from None
        names = [h.strip().lower() for h in header]
        missing = [c for c in ("id", "report") if c not in names]
        if missing:
            raise DataError(f"{path}, line 1: header {header!r} lacks column(s) {', '.join(missing)} "
                            f"(expected id,report)")
        i_id, i_rep = names.index("id"), names.index("report")
        for record in reader:
            line = reader.line_num  # last physical line of the record (reports may span lines)
            if not record or not any(c.strip() for c in record):
                continue  # blank line
            rid = record[i_id] if i_id < len(record) else None
            rep = record[i_rep] if i_rep < len(record) else None
            ok = _check(line, rid, rep, problems)
            if ok:
                rows.append((line, *ok))
    return rows, problems


def _read_jsonl(path: Path) -> tuple[list[tuple[int, str, str]], list[str]]:
    problems: list[str] = []
    rows: list[tuple[int, str, str]] = []
    with path.open(encoding="utf-8-sig") as f:
        for line, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                problems.append(f"line {line}: bad JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                problems.append(f"line {line}: expected a JSON object, got {type(obj).__name__}")
                continue
            ok = _check(line, obj.get("id"), obj.get("report"), problems)
            if ok:
                rows.append((line, *ok))
    return rows, problems


def format_value(value: float | None) -> str:
    """CSV cell: ``1``, ``0``, ``-1``, or empty for not mentioned (nan/None)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    v = int(value)
    if v not in (1, 0, -1) or v != value:
        raise ValueError(f"a CheXpert label is 1, 0, -1 or nan, got {value!r}")
    return str(v)


def write_labels(path_or_stream: str | Path | IO[str] | None, ids: Sequence[str],
                 labels: Iterable[Sequence[float]]) -> None:
    """CSV with ``id`` and the 14 ``CHEXPERT_LABELS`` columns; ``None`` or ``"-"`` = stdout."""
    if path_or_stream is None or path_or_stream == "-":
        _write(sys.stdout, ids, labels)
    elif isinstance(path_or_stream, (str, Path)):
        with Path(path_or_stream).open("w", newline="", encoding="utf-8") as f:
            _write(f, ids, labels)
    else:
        _write(path_or_stream, ids, labels)


def _write(f: IO[str] | io.TextIOBase, ids: Sequence[str], labels: Iterable[Sequence[float]]) -> None:
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(["id", *CHEXPERT_LABELS])
    for rid, row in zip(ids, labels, strict=True):
        if len(row) != len(CHEXPERT_LABELS):
            raise ValueError(f"id {rid!r}: expected {len(CHEXPERT_LABELS)} labels, got {len(row)}")
        writer.writerow([rid, *(format_value(v) for v in row)])
