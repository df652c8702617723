"""Load the readable rule files (``rules/*.tsv``) and compile them into regexes once.

Why data files: the phrase and cue lists are what a reader checks and extends; the code
only says how they combine. Every pattern is a Python regex over lower-cased text, wrapped
in letter/digit lookarounds so that "effusion" never matches inside "pericardial-effusions2".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources

from cbf.errors import DataError
from cbf.fields import CHEXPERT_LABELS

#: Category name for findings outside the 14 that only stop "No Finding" from being 1.
OTHER = "Other"
MENTION_KINDS = ("mention", "anchor", "unmention")
CUE_KINDS = (
    "unc_first_pre", "unc_first_post", "neg_pre", "neg_pre_near", "neg_post", "neg_post_near",
    "unc_pre", "unc_post", "pseudo", "breaker",
)
# Word edges that also allow punctuation patterns ("?", ";"): a letter/digit may not touch a
# letter/digit across the edge, anything else may.
_EDGE_L = r"(?:(?<![a-z0-9])|(?![a-z0-9]))"
_EDGE_R = r"(?:(?![a-z0-9])|(?<![a-z0-9]))"


def _rows(name: str, n_cols: int) -> list[tuple[int, list[str]]]:
    """(line number, columns) of the non-blank, non-comment lines of a rule file."""
    text = resources.files(__package__).joinpath("rules", name).read_text(encoding="utf-8")
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != n_cols or not all(c.strip() for c in cols):
            raise DataError(f"rules/{name}, line {lineno}: expected {n_cols} tab-separated "
                            f"non-empty columns, got {line!r}")
        rows.append((lineno, [c.strip() for c in cols]))
    return rows


def _compile(name: str, patterns: list[tuple[int, str]], prefix: str = "", suffix: str = "",
             edges: bool = True) -> re.Pattern[str] | None:
    """One alternation of all ``patterns``; each is checked alone first so a broken line
    is reported with its line number rather than as one unreadable regex error.

    ``edges=False`` is for patterns that start and end with a letter (mentions): a plain
    look-behind is 2-4x faster over whole reports than the punctuation-tolerant edges."""
    if not patterns:
        return None
    for lineno, pat in patterns:
        try:
            re.compile(pat)
        except re.error as exc:
            raise DataError(f"rules/{name}, line {lineno}: bad pattern {pat!r}: {exc}") from exc
    body = "|".join(f"(?:{pat})" for _, pat in patterns)
    body = f"{_EDGE_L}(?:{body}){_EDGE_R}" if edges else f"(?<![a-z0-9])(?:{body})(?![a-z0-9])"
    return re.compile(f"{prefix}{body}{suffix}")


def word_spans(rx: re.Pattern[str] | None, text: str) -> list[tuple[int, int]]:
    """Spans of the (non-overlapping) matches of ``rx`` in ``text``; none for no rules."""
    return [] if rx is None else [m.span() for m in rx.finditer(text)]


@dataclass
class CategoryRules:
    mention: re.Pattern[str] | None
    anchor: re.Pattern[str] | None
    unmention: re.Pattern[str] | None


@dataclass
class RuleSet:
    """Compiled rules: per category mention/anchor/unmention regexes, and the cue regexes."""

    categories: dict[str, CategoryRules] = field(default_factory=dict)
    cues: dict[str, re.Pattern[str] | None] = field(default_factory=dict)


def load_rules() -> RuleSet:
    known = set(CHEXPERT_LABELS) - {"No Finding"} | {OTHER}
    by_cat: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for lineno, (cat, kind, pat) in _rows("mentions.tsv", 3):
        if cat not in known:
            raise DataError(f"rules/mentions.tsv, line {lineno}: unknown category {cat!r}; "
                            f"expected one of {sorted(known)}")
        if kind not in MENTION_KINDS:
            raise DataError(f"rules/mentions.tsv, line {lineno}: unknown kind {kind!r}; "
                            f"expected one of {MENTION_KINDS}")
        by_cat.setdefault(cat, {k: [] for k in MENTION_KINDS})[kind].append((lineno, pat))
    rules = RuleSet()
    for cat in [c for c in CHEXPERT_LABELS if c in by_cat] + ([OTHER] if OTHER in by_cat else []):
        kinds = by_cat[cat]
        rules.categories[cat] = CategoryRules(
            *(_compile("mentions.tsv", kinds[k], edges=False) for k in MENTION_KINDS))

    cues: dict[str, list[tuple[int, str]]] = {k: [] for k in CUE_KINDS}
    for lineno, (kind, pat) in _rows("cues.tsv", 2):
        if kind not in cues:
            raise DataError(f"rules/cues.tsv, line {lineno}: unknown kind {kind!r}; "
                            f"expected one of {CUE_KINDS}")
        cues[kind].append((lineno, pat))
    for kind, pats in cues.items():
        if kind == "neg_pre_near":  # must end the text before the mention
            rules.cues[kind] = _compile("cues.tsv", pats, suffix=r"[\s,]*$")
        elif kind == "neg_post_near":  # must start the text after the mention, before a comma
            rules.cues[kind] = _compile("cues.tsv", pats, prefix=r"^\s*")
        else:
            rules.cues[kind] = _compile("cues.tsv", pats)
    return rules
