"""Report text → the tokenized form the NLG scorers see, following R2Gen's convention.

Why R2Gen's: the report-generation papers we compare with (R2Gen, CMN and their successors,
Clinical-BERT's tables included) score text that went through R2Gen's ``clean_report_iu_xray``
/ ``clean_report_mimic_cxr`` and was then split on whitespace and joined with single spaces
(their tokenizer's ``decode``). Scoring raw text instead moves BLEU by points, so we say which
convention every number used (the ``tokenization`` key of the results).

The styles:

``r2gen-iu``     R2Gen's IU X-Ray cleaner: collapse ``..``, drop list numbers ``1.``–``5.``,
                 lower-case, split sentences on ``". "``, remove ``" / \\ '`` and the characters
                 of R2Gen's class ``[.,?;*!%^&_+():-\\[\\]{}]`` (note ``:-\\[`` is a *range*
                 there, so ``< = > @`` go too), join sentences with ``" . "`` and end with ``" ."``.
``r2gen-mimic``  R2Gen's MIMIC-CXR cleaner: as above, first turning newlines into spaces and
                 collapsing runs of ``_``, spaces and dots.
``none``         the text is already tokenized: only whitespace is normalised.

Two deliberate details, both documented in docs/evaluation.md: the result is whitespace-
normalised (R2Gen's ``split()``/``" ".join``), and a blank text stays blank ("") instead of
becoming a lone ``"."``, so an empty prediction earns no credit for the final full stop.
R2Gen's vocabulary step (rare words → ``<unk>``) and its length truncation are *not* applied:
they depend on a training vocabulary, and the references should be scored as written.
"""
from __future__ import annotations

import re
from typing import Callable

#: R2Gen's sentence-level punctuation class, kept byte-for-byte (including its ``:-\[`` range).
_R2GEN_PUNCT = re.compile(r"[.,?;*!%^&_+():-\[\]{}]")

TOKENIZATIONS: tuple[str, ...] = ("r2gen-iu", "r2gen-mimic", "none")


def _repeat_replace(text: str, old: str, new: str, times: int) -> str:
    for _ in range(times):
        text = text.replace(old, new)
    return text


def _drop_list_numbers(text: str) -> str:
    """R2Gen removes enumerations "1. ", "2. " … "5. " (in this order)."""
    text = text.replace("1. ", "")
    for n in "2345":
        text = text.replace(f". {n}. ", ". ")
    for n in "2345":
        text = text.replace(f" {n}. ", ". ")
    return text


def _clean_sentence(sentence: str) -> str:
    for ch in ('"', "/", "\\", "'"):
        sentence = sentence.replace(ch, "")
    return _R2GEN_PUNCT.sub("", sentence.strip().lower())


def _join_sentences(text: str) -> str:
    sentences = text.strip().lower().split(". ")
    return " . ".join(_clean_sentence(s) for s in sentences) + " ."


def clean_report_iu(report: str) -> str:
    """R2Gen's ``clean_report_iu_xray`` (before whitespace normalisation)."""
    return _join_sentences(_drop_list_numbers(_repeat_replace(report, "..", ".", 3)))


def clean_report_mimic(report: str) -> str:
    """R2Gen's ``clean_report_mimic_cxr`` (before whitespace normalisation)."""
    text = report.replace("\n", " ")
    text = _repeat_replace(text, "__", "_", 7)
    text = _repeat_replace(text, "  ", " ", 6)
    text = _repeat_replace(text, "..", ".", 8)
    return _join_sentences(_drop_list_numbers(text))


_CLEANERS: dict[str, Callable[[str], str]] = {
    "r2gen-iu": clean_report_iu,
    "r2gen-mimic": clean_report_mimic,
    "none": lambda text: text,
}


def clean_report(report: str, tokenization: str = "r2gen-iu") -> str:
    """The text the scorers see: cleaned per ``tokenization``, tokens joined by single spaces.

    A blank report gives "" (see the module docstring).
    """
    if tokenization not in _CLEANERS:
        raise ValueError(f"unknown tokenization {tokenization!r}; choose one of {', '.join(TOKENIZATIONS)}")
    if not report.strip():
        return ""
    return " ".join(_CLEANERS[tokenization](report).split())


__all__ = ["TOKENIZATIONS", "clean_report", "clean_report_iu", "clean_report_mimic"]
