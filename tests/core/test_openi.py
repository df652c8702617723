"""The Open-i reader on the real archive (the copy inside torchxrayvision, and the shared one)."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from cbf.data.openi import OpenIReport, openi_archive_from_torchxrayvision, read_openi_tgz
from cbf.errors import DataError

GOOD = b"""<?xml version="1.0" encoding="utf-8"?>
<eCitation><uId id="CXR{n}"/><MedlineCitation><Article><Abstract>
<AbstractText Label="COMPARISON">None.</AbstractText>
<AbstractText Label="INDICATION">Cough</AbstractText>
<AbstractText Label="FINDINGS">Small   left effusion.</AbstractText>
<AbstractText Label="IMPRESSION">Effusion.</AbstractText>
</Abstract></Article></MedlineCitation>
<MeSH><major>Pleural Effusion/left/small</major><automatic>effusion</automatic></MeSH>
<parentImage id="CXR{n}_1_IM-0001-1001"/><parentImage id="CXR{n}_1_IM-0001-2001"/>
</eCitation>"""


def _tgz(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(scope="module")
def reports() -> list[OpenIReport]:
    return read_openi_tgz(openi_archive_from_torchxrayvision())


def test_real_archive_counts_and_order(reports):
    assert len(reports) == 3955
    assert sum(len(r.image_ids) for r in reports) == 7470
    assert len({r.uid for r in reports}) == 3955
    numbers = [r.number for r in reports]
    assert numbers == sorted(numbers)
    assert all(r.xml_path == f"ecgen-radiology/{r.number}.xml" for r in reports)


def test_real_archive_fields(reports):
    first = reports[0]
    assert first.uid == "CXR1" and first.xml_path == "ecgen-radiology/1.xml"
    assert first.indication == "Positive TB test"
    assert first.findings.startswith("The cardiac silhouette and mediastinum size are within normal limits.")
    assert first.impression == "Normal chest x-XXXX."
    assert first.mesh_major == ["normal"]
    assert first.image_ids == ["CXR1_1_IM-0001-3001", "CXR1_1_IM-0001-4001"]
    majors = {m for r in reports for m in r.mesh_major}
    assert "Pleural Effusion/left" in majors and "Cardiomegaly/mild" in majors
    assert any(r.mesh_automatic for r in reports)
    # a few reports have neither findings nor impression (the demo drops them)
    assert 0 < sum(1 for r in reports if not r.findings and not r.impression) < 100


def test_matches_shared_copy(reports, shared_data):
    assert read_openi_tgz(shared_data / "iu_xray" / "NLMCXR_reports.tgz") == reports


def test_small_archive_parses_sections(tmp_path):
    path = _tgz(tmp_path / "r.tgz", {"ecgen-radiology/7.xml": GOOD.replace(b"{n}", b"7"),
                                     "ecgen-radiology/README.txt": b"not a report"})
    (r,) = read_openi_tgz(path)
    assert (r.uid, r.comparison, r.indication) == ("CXR7", "None.", "Cough")
    assert r.findings == "Small left effusion."  # whitespace collapsed
    assert r.mesh_major == ["Pleural Effusion/left/small"] and r.mesh_automatic == ["effusion"]
    assert r.image_ids == ["CXR7_1_IM-0001-1001", "CXR7_1_IM-0001-2001"]


def test_corrupt_member_is_named(tmp_path):
    path = _tgz(tmp_path / "bad.tgz", {"ecgen-radiology/1.xml": GOOD.replace(b"{n}", b"1"),
                                       "ecgen-radiology/2.xml": b"<eCitation><uId id='CXR2'/>"})
    with pytest.raises(DataError, match=r"bad\.tgz.*ecgen-radiology/2\.xml"):
        read_openi_tgz(path)


def test_not_an_archive_and_missing(tmp_path):
    junk = tmp_path / "junk.tgz"
    junk.write_bytes(b"this is not gzip")
    with pytest.raises(DataError, match="junk.tgz"):
        read_openi_tgz(junk)
    with pytest.raises(DataError, match="not found"):
        read_openi_tgz(tmp_path / "missing.tgz")
    empty = _tgz(tmp_path / "empty.tgz", {"other/1.xml": b"<x/>"})
    with pytest.raises(DataError, match="no ecgen-radiology"):
        read_openi_tgz(empty)


def test_torchxrayvision_missing_is_clear(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torchxrayvision" else real(name, *a))
    with pytest.raises(DataError, match="pip install torchxrayvision"):
        openi_archive_from_torchxrayvision()
