"""The MeSH vocabulary the tagger matches: headings with entry terms, plus modifier words.

Kept apart from the tagger so that the file formats and their errors live in one place:
every malformed line is reported as ``FILE:LINE: what is wrong``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from cbf.errors import DataError

#: Function words: part of a phrase to match ("costophrenic angle of the lung") but never
#: tagged, whether alone or inside a full match.
STOPWORDS: frozenset[str] = frozenset(
    "a an and are as at by for from in is no not of on or the to with".split()
)

_WORD = re.compile(r"[a-z0-9]+")
_TERM_OK = re.compile(r"^[a-z0-9][a-z0-9 ,'\-]*$")


def words_of(text: str) -> tuple[str, ...]:
    """Lower-cased alphanumeric words; commas, hyphens and spaces separate them."""
    return tuple(_WORD.findall(text.lower()))


def bundled(name: str) -> Path:
    """Path of a data file shipped in ``cbf_mesh/data``."""
    return Path(str(resources.files("cbf_mesh") / "data" / name))


@dataclass
class MeshVocabulary:
    """Headings → entry terms, and the modifier words tagged only inside a full match."""

    headings: dict[str, list[str]]
    modifiers: frozenset[str] = frozenset()
    #: first word → multi-word phrases starting with it, longest first.
    phrases: dict[str, list[tuple[str, ...]]] = field(init=False, repr=False)
    #: words tagged wherever they occur: single-word terms and sub-match words.
    single: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        phrases: dict[str, set[tuple[str, ...]]] = {}
        single: set[str] = set()
        for heading, terms in self.headings.items():
            for term in [heading, *terms]:
                ws = words_of(term)
                if len(ws) == 1:
                    single.add(ws[0])
                    continue
                phrases.setdefault(ws[0], set()).add(ws)
                single.update(w for w in ws if w not in STOPWORDS and w not in self.modifiers)
        self.phrases = {k: sorted(v, key=len, reverse=True) for k, v in phrases.items()}
        self.single = frozenset(single - STOPWORDS)

    def taggable_words(self) -> set[str]:
        """Every word that some match can tag (sub-match words and phrase words)."""
        out = set(self.single)
        for group in self.phrases.values():
            for ws in group:
                out.update(w for w in ws if w not in STOPWORDS)
        return out

    def to_json(self) -> dict:
        return {"headings": [[h, list(t)] for h, t in self.headings.items()],
                "modifiers": sorted(self.modifiers)}

    @classmethod
    def from_json(cls, state: dict) -> "MeshVocabulary":
        try:
            headings = {str(h): [str(t) for t in terms] for h, terms in state["headings"]}
            modifiers = frozenset(str(m) for m in state["modifiers"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"MeSH tagger state: malformed vocabulary ({exc!r})") from exc
        return cls(headings, modifiers)


def _read_lines(path: Path, what: str) -> list[tuple[int, str]]:
    if not path.is_file():
        raise DataError(f"{path}: {what} file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: {what} file is not UTF-8 text ({exc.reason})") from exc
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            out.append((number, line))
    return out


def _check_term(path: Path, number: int, term: str) -> str:
    term = term.strip().lower()
    if not term:
        raise DataError(f"{path}:{number}: empty term (two '|' in a row, or a '|' at an end)")
    if not _TERM_OK.match(term):
        raise DataError(f"{path}:{number}: term {term!r} may hold only letters, digits, spaces, "
                        "hyphens, commas and apostrophes")
    if all(w in STOPWORDS for w in words_of(term)):
        raise DataError(f"{path}:{number}: term {term!r} has only stopwords; it could never be tagged")
    return term


def read_headings(path: Path) -> dict[str, list[str]]:
    """Parse ``HEADING<TAB>term|term|...`` lines (``#`` comments, blank lines allowed)."""
    headings: dict[str, list[str]] = {}
    first_line: dict[str, int] = {}
    for number, line in _read_lines(path, "MeSH vocabulary"):
        cells = line.rstrip("\r\n").split("\t")
        if len(cells) != 2:
            raise DataError(f"{path}:{number}: expected 'HEADING<TAB>term|term|...' "
                            f"(2 tab-separated columns), found {len(cells)}")
        heading = cells[0].strip()
        key = heading.lower()
        _check_term(path, number, heading)
        if key in first_line:
            raise DataError(f"{path}:{number}: heading {heading!r} already given on line {first_line[key]}")
        first_line[key] = number
        headings[heading] = [_check_term(path, number, t) for t in cells[1].split("|")]
    if not headings:
        raise DataError(f"{path}: MeSH vocabulary file has no headings")
    return headings


def read_modifiers(path: Path) -> frozenset[str]:
    """One lower-case word per line (``#`` comments, blank lines allowed)."""
    out = set()
    for number, line in _read_lines(path, "modifier list"):
        word = line.split("#", 1)[0].strip().lower()
        if words_of(word) != (word,):
            raise DataError(f"{path}:{number}: expected one word of letters/digits, found {word!r}")
        out.add(word)
    return frozenset(out)


def load_vocabulary(vocabulary: str | Path | None = None,
                    modifiers: str | Path | None = None) -> MeshVocabulary:
    """The bundled chest vocabulary, or the user's files in the same formats."""
    vocab_path = Path(vocabulary) if vocabulary else bundled("mesh_chest.tsv")
    mod_path = Path(modifiers) if modifiers else bundled("modifiers.txt")
    return MeshVocabulary(read_headings(vocab_path), read_modifiers(mod_path))
