"""The core's text-file helpers for dataset plugins: plain and gzip'd text, JSON objects, and
errors that name the file."""
from __future__ import annotations

import gzip

import pytest

from cbf.data.files import open_text, read_json_object
from cbf.errors import DataError


def test_open_text_reads_plain_and_gzipped_files(tmp_path):
    plain, packed = tmp_path / "t.csv", tmp_path / "t.csv.gz"
    plain.write_text("a,b\r\n1,é\r\n", encoding="utf-8")
    packed.write_bytes(gzip.compress("a,b\r\n1,é\r\n".encode("utf-8")))
    for path in (plain, packed):
        with open_text(path) as fh:
            assert fh.read() == "a,b\r\n1,é\r\n"  # newline="" keeps the CRLF for the csv module
    with pytest.raises(DataError, match=r"missing\.csv: file not found"):
        open_text(tmp_path / "missing.csv")


def test_read_json_object_names_the_file_and_the_problem(tmp_path):
    good = tmp_path / "a.json"
    good.write_text('{"train": []}', encoding="utf-8")
    assert read_json_object(good, "an object") == {"train": []}
    with pytest.raises(DataError, match=r"nope\.json: file not found"):
        read_json_object(tmp_path / "nope.json", "an object")
    broken = tmp_path / "b.json"
    broken.write_text('{"train": [', encoding="utf-8")
    with pytest.raises(DataError, match=r"b\.json: not valid JSON"):
        read_json_object(broken, "an object")
    listed = tmp_path / "c.json"
    listed.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(DataError, match=r"c\.json: expected an object with splits"):
        read_json_object(listed, "an object with splits")
