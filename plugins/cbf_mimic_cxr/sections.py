"""Extract the FINDINGS and IMPRESSION sections from a MIMIC-CXR free-text report.

The rule (the common practice of the MIMIC-CXR report-generation work, after the official
``section_parser.py`` of MIT-LCP/mimic-cxr, simplified):

1. A section header is an upper-case phrase followed by a colon at the start of a line
   (leading spaces allowed): ``FINDINGS:``, `` IMPRESSION:``, ``PA AND LATERAL VIEWS OF THE
   CHEST:`` …; the section runs to the next header or the end of the report.
2. The wanted sections (default ``FINDINGS``, ``IMPRESSION``) are looked up by name; when a
   name occurs more than once the first non-empty occurrence wins.
3. Their texts are joined in the order asked for, whitespace collapsed to single spaces.
   ``___`` (MIMIC's de-identification mark) is kept as a token.

A report with none of the wanted sections gives ``""`` (the dataset drops and counts it).
"""
from __future__ import annotations

import re
from typing import Sequence

_HEADER = re.compile(r"^[ \t]*([A-Z][A-Z0-9 /&,()'-]*[A-Z0-9)])[ \t]*:", re.MULTILINE)


def split_sections(text: str) -> list[tuple[str, str]]:
    """``[(HEADER, body), ...]`` in report order; text before the first header is dropped."""
    heads = list(_HEADER.finditer(text))
    out = []
    for i, m in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
        out.append((" ".join(m.group(1).split()), " ".join(text[m.end():end].split())))
    return out


def extract_report(text: str, sections: Sequence[str] = ("FINDINGS", "IMPRESSION")) -> str:
    """The wanted sections' text, joined with a space (see the module docstring)."""
    found: dict[str, str] = {}
    for name, body in split_sections(text):
        if body and name not in found:
            found[name] = body
    return " ".join(found[s] for s in sections if s in found)


__all__ = ["extract_report", "split_sections"]
