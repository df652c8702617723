"""Reading reports (CSV/JSONL) with every bad row reported by line; writing label CSVs."""
from __future__ import annotations

import io
import json

import pytest

from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS
from cbf.reports_io import format_value, read_reports, write_labels


def test_csv_with_extra_columns_and_multiline_report(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text('split,id,report\ntrain,a,"No effusion.\nMild cardiomegaly."\ntest,b,Normal.\n\n')
    assert read_reports(p) == [("a", "No effusion.\nMild cardiomegaly."), ("b", "Normal.")]


def test_csv_header_must_name_id_and_report(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("uid,text\n1,x\n")
    with pytest.raises(DataError, match=r"r\.csv, line 1: .*lacks column\(s\) id, report"):
        read_reports(p)


def test_csv_bad_rows_all_reported_with_line_numbers(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("id,report\na,ok\n,no id\nb\nc,fine\na,again\n")
    with pytest.raises(DataError) as err:
        read_reports(p)
    msg = str(err.value)
    assert str(p) in msg and "3 bad row(s)" in msg
    assert "line 3: missing or empty id" in msg
    assert "line 4: missing report (id 'b')" in msg
    assert "line 6: duplicate id 'a' (first on line 2)" in msg


def test_jsonl_bad_rows(tmp_path):
    p = tmp_path / "r.jsonl"
    lines = [json.dumps({"id": "a", "report": "ok"}), "{not json", json.dumps({"report": "x"}),
             json.dumps({"id": 7, "report": 3}), "", json.dumps(["id", "report"]),
             json.dumps({"id": 8, "report": "fine"})]
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        read_reports(p)
    msg = str(err.value)
    assert "4 bad row(s)" in msg
    assert "line 2: bad JSON" in msg
    assert "line 3: missing or empty id" in msg
    assert "line 4: report is int, not text (id '7')" in msg
    assert "line 6: expected a JSON object, got list" in msg


def test_jsonl_good_and_numeric_ids(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text(json.dumps({"id": 1, "report": "a", "x": 0}) + "\n" + json.dumps({"id": "2", "report": ""}) + "\n")
    assert read_reports(p) == [("1", "a"), ("2", "")]


def test_unknown_extension_and_missing_file(tmp_path):
    p = tmp_path / "r.txt"
    p.write_text("id,report\n")
    with pytest.raises(DataError, match="unknown input format"):
        read_reports(p)
    with pytest.raises(FileNotFoundError):
        read_reports(tmp_path / "absent.csv")


def test_write_labels():
    buf = io.StringIO()
    nan = float("nan")
    write_labels(buf, ["a", "b"], [[1.0, 0.0, -1.0] + [nan] * 11, [nan] * 13 + [1.0]])
    lines = buf.getvalue().splitlines()
    assert lines[0] == "id," + ",".join(CHEXPERT_LABELS)
    assert lines[1] == "a,1,0,-1" + "," * 11
    assert lines[2] == "b" + "," * 13 + ",1"
    with pytest.raises(ValueError, match="expected 14"):
        write_labels(io.StringIO(), ["a"], [[1.0]])
    with pytest.raises(ValueError):
        format_value(0.5)
