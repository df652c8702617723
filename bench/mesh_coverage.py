"""How well the MeSH tagger marks what the IU radiologists annotated, and how much it marks.

    python bench/mesh_coverage.py [NLMCXR_reports.tgz] [--vocabulary FILE] [--modifiers FILE]

On every IU report (findings + impression, word-tokenized like R2Gen: lower-case,
punctuation removed, "." closing each sentence):
(a) coverage: of the occurrences in the text of the words of the report's human MeSH
    <major> headings, the share the tagger marks; micro (all occurrences) and mean per
    report; for heading words alone and for heading + qualifier words; and, as a check
    independent of how the vocabulary was built, for the headings that NLM's MTI indexer
    put in <automatic>;
(b) tagged share: tagged words / words per report ("." marks not counted), mean and median;
and the tagging speed. Default archive: the copy inside the installed torchxrayvision.
"""
from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field

from cbf_mesh import MeshTagger
from cbf_mesh.build_vocabulary import NOT_HEADINGS, iter_reports, split_major
from cbf_mesh.vocabulary import STOPWORDS, words_of

_SENTENCE_END = re.compile(r"[.?!;]+(?:\s+|$)")
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def word_tokenize(text: str) -> list[str]:
    """R2Gen-style: lower-case words, punctuation dropped, "." after each sentence."""
    tokens: list[str] = []
    for sentence in _SENTENCE_END.split(text.lower()):
        words = _WORD.findall(sentence)
        if words:
            tokens += words + ["."]
    return tokens


@dataclass
class Coverage:
    """Occurrences of annotated words in the text, and how many the tagger marked."""

    hits: int = 0
    total: int = 0
    per_report: list[float] = field(default_factory=list)
    missed: Counter = field(default_factory=Counter)

    def add(self, tokens: list[str], tags: list[int], words: set[str]) -> None:
        hit = total = 0
        for tok, tag in zip(tokens, tags):
            if tok in words:
                total += 1
                hit += tag
                if not tag:
                    self.missed[tok] += 1
        if total:
            self.hits += hit
            self.total += total
            self.per_report.append(hit / total)

    def row(self, name: str) -> str:
        micro = self.hits / max(self.total, 1)
        mean = statistics.fmean(self.per_report) if self.per_report else float("nan")
        return f"{name:<28}{len(self.per_report):>8}{self.total:>9}{micro:>9.3f}{mean:>9.3f}"


def annotated_words(majors: list[str], qualifiers: bool) -> set[str]:
    words: set[str] = set()
    for major in majors:
        heading, quals = split_major(major)
        if heading.lower() in NOT_HEADINGS:
            continue
        for part in [heading, *(quals if qualifiers else [])]:
            words.update(w for w in words_of(part) if w not in STOPWORDS)
    return words


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archive", nargs="?", help="NLMCXR_reports.tgz (default: torchxrayvision's)")
    ap.add_argument("--vocabulary", help="vocabulary TSV (default: the bundled one)")
    ap.add_argument("--modifiers", help="modifier list (default: the bundled one)")
    args = ap.parse_args(argv)

    tagger = MeshTagger(MeshTagger.Config(vocabulary=args.vocabulary, modifiers=args.modifiers))
    reports = [(r, word_tokenize(r.text)) for r in iter_reports(args.archive)]
    reports = [(r, toks) for r, toks in reports if toks]

    start = time.perf_counter()
    all_tags = [tagger.tag(toks) for _, toks in reports]
    seconds = time.perf_counter() - start

    heads, heads_quals, mti = Coverage(), Coverage(), Coverage()
    shares: list[float] = []
    for (report, toks), tags in zip(reports, all_tags):
        heads.add(toks, tags, annotated_words(report.majors, qualifiers=False))
        heads_quals.add(toks, tags, annotated_words(report.majors, qualifiers=True))
        mti.add(toks, tags, annotated_words(report.automatic, qualifiers=False))
        words = [t for t in toks if t != "."]
        shares.append(sum(g for t, g in zip(toks, tags) if t != ".") / len(words))

    n_tokens = sum(len(t) for _, t in reports)
    print(f"IU reports with text: {len(reports)}; word tokens: {n_tokens}; "
          f"taggable vocabulary words: {len(tagger.mesh_words())}\n")
    print("(a) coverage of the human MeSH annotation's words that occur in the report text")
    print(f"{'words':<28}{'reports':>8}{'occur.':>9}{'micro':>9}{'mean':>9}")
    print(heads.row("headings"))
    print(heads_quals.row("headings + qualifiers"))
    print(mti.row("MTI <automatic> headings"))
    print("    most frequent unmarked heading words:",
          ", ".join(f"{w} {c}" for w, c in heads.missed.most_common(8)) or "none")
    print("    most frequent unmarked MTI heading words:",
          ", ".join(f"{w} {c}" for w, c in mti.missed.most_common(8)) or "none")
    print("    most frequent unmarked qualifier words:",
          ", ".join(f"{w} {c}" for w, c in (heads_quals.missed - heads.missed).most_common(10)))
    print("\n(b) share of a report's words (without '.') that are tagged")
    print(f"    mean {statistics.fmean(shares):.3f}  median {statistics.median(shares):.3f}  "
          f"min {min(shares):.3f}  max {max(shares):.3f}")
    print(f"\nspeed: {len(reports) / seconds:,.0f} reports/s, {n_tokens / seconds:,.0f} tokens/s "
          f"(tagging only, one core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
