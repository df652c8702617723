"""The rule-based CheXpert-style labeler: mentions, cues within the sentence, aggregation.

Why rules and not a model: it must run offline, fast (thousands of reports per second on one
core) and transparently. The phrase and cue lists are data (``rules/*.tsv``); this module
only says how they combine, following the original CheXpert labeler's conventions:

* each mention is classified within its own sentence: uncertainty cues that contain a
  negation word ("cannot exclude") first, then negation, then uncertainty, else positive;
* per category, positive beats uncertain beats negative across mentions;
* "No Finding" is 1 when no category other than Support Devices is positive or uncertain
  (with ``strict_no_finding``, nor any finding outside the 14 in the ``Other`` list, as
  the original labeler's no-finding list), else not mentioned (nan). Like the
  original, a non-empty report that mentions nothing at all is therefore "No Finding";
  an empty report gets nan everywhere.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import ClassVar, Iterator, NamedTuple, Sequence

from cbf.api import Labeler
from cbf.fields import CHEXPERT, CHEXPERT_LABELS, REPORT

from .rules import OTHER, RuleSet, load_rules, word_spans
from .sentences import sentence_spans

NAN = float("nan")
_INDEX = {name: i for i, name in enumerate(CHEXPERT_LABELS)}
_NO_FINDING = _INDEX["No Finding"]
_SUPPORT = "Support Devices"
_RULES: RuleSet | None = None


def _rules() -> RuleSet:
    global _RULES  # compiled once per process: the lists do not change at run time
    if _RULES is None:
        _RULES = load_rules()
    return _RULES


class Mention(NamedTuple):
    """One mention found in a report and the label it got (anchors only give 0 or -1)."""

    category: str
    text: str
    start: int
    end: int
    value: int
    anchor: bool


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(s < end and start < e for s, e in spans)


class ChexpertRulesLabeler(Labeler):
    """14 CheXpert observations per report: 1, 0, -1 or nan (see the module docstring)."""

    name: ClassVar[str] = "cbf-chexpert-rules"

    @dataclass
    class Config:
        #: how many words before/after a mention a cue may be (the parse-free stand-in for
        #: CheXpert's dependency scope); breakers ("but", ";", "there is") end it sooner
        scope_words: int = 10
        #: also let findings outside the 14 (the ``Other`` list: granuloma, emphysema,
        #: degenerative changes, ...) stop "No Finding", as the original labeler's list does
        strict_no_finding: bool = False
        #: replace labels a record already has from its source (off: source labels win)
        overwrite_source: bool = False

        def validate(self) -> None:
            if not 1 <= self.scope_words <= 50:
                raise ValueError(f"scope_words must be within 1..50, got {self.scope_words}")

    def __init__(self, config: "ChexpertRulesLabeler.Config | None" = None, *args, **kwargs) -> None:
        self.config = config if config is not None else self.Config()
        self.config.validate()
        self.rules = _rules()

    # -- one mention -------------------------------------------------------------------
    def _classify(self, masked: str, start: int, end: int, sent: tuple[int, int],
                  breakers: list[tuple[int, int]], breaker_starts: list[int]) -> tuple[int, bool]:
        """(label, whether a cue decided it) for the mention at ``start:end``."""
        cues = self.rules.cues
        n = self.config.scope_words
        # scope before: from the start of the last breaker that ends before the mention
        lo = sent[0]
        i = bisect_right(breaker_starts, start) - 1
        while i >= 0 and breakers[i][1] > start:
            i -= 1
        if i >= 0 and breakers[i][0] >= lo:
            lo = breakers[i][0]
        pre = masked[lo:start]
        words = pre.split()
        if len(words) > n:
            pre = " ".join(words[-n:]) + " "
        # scope after: up to the next breaker that starts after the mention
        hi = sent[1]
        j = bisect_right(breaker_starts, end - 1)
        if j < len(breakers) and breakers[j][0] < hi:
            hi = breakers[j][0]
        post = masked[end:hi]
        words = post.split()
        if len(words) > n:
            post = " " + " ".join(words[:n])
        near = post.split(",", 1)[0]

        def hit(kind: str, text: str) -> bool:
            rx = cues[kind]
            return rx is not None and rx.search(text) is not None

        if hit("unc_first_pre", pre) or hit("unc_first_post", near):
            return -1, True
        if (hit("neg_pre", pre) or hit("neg_post", post) or hit("neg_pre_near", pre)
                or hit("neg_post_near", near)):
            return 0, True
        if hit("unc_pre", pre) or hit("unc_post", near):
            return -1, False
        return 1, False

    # -- one report --------------------------------------------------------------------
    def _mentions(self, report: str) -> Iterator[Mention]:
        """Every mention (and negated anchor) in the report with its label, category by
        category; stops early in a category once it is positive (nothing can beat that)."""
        text = report.lower()
        pseudo = self.rules.cues["pseudo"]
        masked = pseudo.sub(lambda m: " " * len(m.group()), text) if pseudo else text
        sents = sentence_spans(text)
        sent_starts = [s for s, _ in sents]
        brk = self.rules.cues["breaker"]
        breakers = [m.span() for m in brk.finditer(masked)] if brk else []
        breaker_starts = [s for s, _ in breakers]
        for cat, rx in self.rules.categories.items():
            blocked = word_spans(rx.unmention, text)
            mentions = word_spans(rx.mention, text)
            if blocked:
                mentions = [sp for sp in mentions if not _overlaps(*sp, blocked)]
            anchors = word_spans(rx.anchor, text)
            if anchors:
                anchors = [sp for sp in anchors if not _overlaps(*sp, blocked + mentions)]
            positive = False
            for spans, is_anchor in ((mentions, False), (anchors, True)):
                for start, end in spans:
                    k = bisect_right(sent_starts, start) - 1
                    if k < 0:
                        continue
                    value, decisive = self._classify(masked, start, end, sents[k], breakers,
                                                     breaker_starts)
                    if is_anchor and not decisive:
                        continue  # a neutral anchor speaks only through a negation or a
                        # first-tier uncertainty cue ("heart size is upper limits of normal")
                    yield Mention(cat, text[start:end], start, end, value, is_anchor)
                    if value == 1:
                        positive = True
                        break
                if positive:
                    break

    def explain(self, report: str) -> list[Mention]:
        """The mentions behind :meth:`label`, for reading disagreements."""
        if not isinstance(report, str) or not report.strip():
            return []
        return list(self._mentions(report))

    def label(self, report: str) -> list[float]:
        """14 values in ``CHEXPERT_LABELS`` order: 1.0, 0.0, -1.0 or nan (not mentioned)."""
        out = [NAN] * len(CHEXPERT_LABELS)
        if not isinstance(report, str) or not report.strip():
            return out
        best: dict[str, int] = {}
        for m in self._mentions(report):
            best[m.category] = _combine(best.get(m.category), m.value)
        finding = False  # a positive/uncertain pathology (not Support Devices) was seen
        for cat, value in best.items():
            if cat == OTHER:
                finding = finding or (value != 0 and self.config.strict_no_finding)
                continue
            out[_INDEX[cat]] = float(value)
            if cat != _SUPPORT and value != 0:
                finding = True
        if not finding:
            out[_NO_FINDING] = 1.0
        return out

    def label_batch(self, reports: Sequence[str]) -> list[list[float]]:
        return [self.label(r) for r in reports]

    # -- annotator ---------------------------------------------------------------------
    def annotate(self, record: dict) -> dict:
        """Sets ``record["chexpert"]`` from ``record["report"]``, unless the record already
        carries labels from its source (those win unless ``overwrite_source``)."""
        existing = record.get(CHEXPERT)
        if existing is not None and len(existing) > 0 and not self.config.overwrite_source:
            return record
        record[CHEXPERT] = self.label(record.get(REPORT) or "")
        return record


def _combine(current: int | None, new: int) -> int:
    """CheXpert's aggregation across mentions: positive > uncertain > negative."""
    if current is None:
        return new
    rank = {1: 2, -1: 1, 0: 0}
    return current if rank[current] >= rank[new] else new

