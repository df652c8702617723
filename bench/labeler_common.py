"""Shared by the labeler benchmarks: the real IU reports (findings + impression) from the
installed torchxrayvision wheel, and the labeler loaded the way the CLI loads it."""
from __future__ import annotations

import tarfile
import xml.etree.ElementTree as ET
from importlib import resources

from cbf.registry import load_plugin


def iu_reports() -> dict[str, str]:
    """``{"ecgen-radiology/N.xml": "findings impression"}`` for every IU report with text."""
    path = resources.files("torchxrayvision") / "data" / "NLMCXR_reports.tgz"
    out: dict[str, str] = {}
    with resources.as_file(path) as p, tarfile.open(p) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.endswith(".xml"):
                continue
            root = ET.fromstring(tar.extractfile(member).read())
            parts = {el.get("Label"): (el.text or "").strip() for el in root.iter("AbstractText")}
            text = " ".join(t for t in (parts.get("FINDINGS"), parts.get("IMPRESSION")) if t)
            if text:
                out[member.name] = text
    return out


def labeler(name: str = "chexpert_rules"):
    return load_plugin("annotators", name)()
