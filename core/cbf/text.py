"""Report text normalisation shared by tokenizers and metrics (R2Gen's convention).

R2Gen (Chen et al. 2020) and most report-generation papers after it lower-case reports,
strip punctuation, drop list numbering and mark sentence ends with a " ." token. Using the
same cleaning for the vocabulary and for BLEU/METEOR/ROUGE/CIDEr keeps our numbers
comparable with theirs.
"""
from __future__ import annotations

import re

# R2Gen's exact character class; note ":-\[" is a range (it also drops < = > ? @).
_SENT_PUNCT = re.compile(r'[.,?;*!%^&_+():-\[\]{}]')
_NUMBERING = (("1. ", ""), (". 2. ", ". "), (". 3. ", ". "), (". 4. ", ". "), (". 5. ", ". "),
              (" 2. ", ". "), (" 3. ", ". "), (" 4. ", ". "), (" 5. ", ". "))


def _clean_sentence(sentence: str) -> str:
    for ch in ('"', "/", "\\", "'"):
        sentence = sentence.replace(ch, "")
    return _SENT_PUNCT.sub("", sentence.strip().lower()).strip()


def clean_report(text: str) -> str:
    """R2Gen's ``clean_report_iu``: lower-case words, sentences joined by " . ", ending " .".

    Differences from R2Gen, on purpose: runs of whitespace collapse to one space (R2Gen keeps
    double spaces, which only changes ``split()``-free consumers), and an empty report gives "".
    """
    text = text.replace("\n", " ")
    while ".." in text:
        text = text.replace("..", ".")
    for old, new in _NUMBERING:
        text = text.replace(old, new)
    sentences = [_clean_sentence(s) for s in text.strip().lower().split(". ")]
    sentences = [" ".join(s.split()) for s in sentences if s.strip()]
    return (" . ".join(sentences) + " .") if sentences else ""


def word_tokens(text: str) -> list[str]:
    """Word-level tokens of a report under the R2Gen convention ("xxxx" stays a token)."""
    return clean_report(text).split()
