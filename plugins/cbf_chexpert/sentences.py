"""Sentence boundaries for radiology reports, as character offsets.

Why not ``str.split('.')``: reports say "1.5 cm", "Dr. XXXX", "vs. atelectasis", "e.g." and
"?" — a negation must stay within its own sentence and must not be cut off by a decimal or
an abbreviation. IU's "XXXX" de-identification tokens are ordinary words here.
"""
from __future__ import annotations

import re

#: A sentence ends at . ! ? followed by white space or the end, or at a blank line.
_END = re.compile(r"[.!?]+(?=\s|$)|\n[ \t]*\n")
#: Words whose trailing period is not a sentence end (lower-case text).
_ABBREV = re.compile(
    r"(?<![a-z])(?:dr|mr|mrs|ms|drs|vs|approx|appr|e\.g|i\.e|etc|st|fig|no|nos|cf|resp|pt|hx|sp|s/p)\.$")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Half-open (start, end) spans covering ``text`` (lower-cased), one per sentence."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _END.finditer(text):
        end = m.end()
        if m.group().startswith(".") and len(m.group()) == 1:
            # "dr. xxxx": the period belongs to an abbreviation, keep going
            if _ABBREV.search(text, max(0, m.start() - 8), end):
                # "no." is an abbreviation only before a number ("no. 2"), not at "... no."
                nxt = text[end:end + 3].lstrip()
                if not (text[max(0, m.start() - 2):m.start()] == "no" and not nxt[:1].isdigit()):
                    continue
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans
