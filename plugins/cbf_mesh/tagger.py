"""MeSH tags per token: 1 where a token is part of a full match or a sub-match of a MeSH
heading or entry term (the paper's T for MMM and IMM), 0 elsewhere.

- Full match: a multi-word term (``pleural effusion``, ``low lung volumes``) occurring as
  consecutive words tags all of its words except stopwords.
- Sub-match: a word of any term (``effusion``, ``pulmonary``) is tagged wherever it occurs,
  unless it is a stopword or a modifier (``low``, ``disease``: tagged only in full matches).
- Single-word terms (``opacities``, ``cardiomegaly``) are always tagged.

Tokens are aligned for both tokenizers: word tokens are used as they are (a token with a
hyphen is split into its words and tagged if any is); WordPiece continuations (``##…``)
are merged into their word first and every piece gets its word's tag. Punctuation,
sentence marks, ``[CLS]``-style specials and ``xxxx`` never match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from cbf import fields
from cbf.api import Annotator
from cbf.errors import DataError

from cbf_mesh.vocabulary import STOPWORDS, MeshVocabulary, load_vocabulary, words_of

_SPECIAL = re.compile(r"^\[[A-Z]+\]$")


def merge_wordpieces(tokens: Sequence[str]) -> tuple[list[str], list[int]]:
    """Words from WordPiece tokens (``pleu ##ral`` → ``pleural``) and, per token, its word's
    index. Word-level tokens pass through unchanged (one word each)."""
    words: list[str] = []
    owner: list[int] = []
    for tok in tokens:
        if tok.startswith("##") and len(tok) > 2 and words and not _SPECIAL.match(words[-1]):
            words[-1] += tok[2:]
        else:
            words.append(tok)
        owner.append(len(words) - 1)
    return words, owner


class MeshTagger(Annotator):
    """Annotator: ``tokens`` → ``mesh_tags`` (0/1 per token)."""

    provides = (fields.MESH_TAGS,)
    requires = (fields.TOKENS,)

    @dataclass
    class Config:
        #: A vocabulary file in the bundled format (HEADING<TAB>term|term…); None = the
        #: bundled chest vocabulary (``cbf_mesh/data/mesh_chest.tsv``).
        vocabulary: str | None = None
        #: Words tagged only inside a full match, one per line; None = the bundled list.
        modifiers: str | None = None

        def validate(self) -> None:
            for name in ("vocabulary", "modifiers"):
                value = getattr(self, name)
                if value is not None and not Path(value).is_file():
                    raise ValueError(f"{name}: file not found: {value}")

    def __init__(self, config: "MeshTagger.Config | None" = None, *args: Any, **kwargs: Any) -> None:
        self.config = config if config is not None else self.Config()
        self.vocab: MeshVocabulary = load_vocabulary(self.config.vocabulary, self.config.modifiers)

    # -- the tagging ---------------------------------------------------------------------
    def tag_words(self, words: Sequence[str]) -> list[int]:
        """0/1 per word (one word may hold several alphanumeric parts, e.g. ``x-ray``)."""
        parts: list[str] = []
        part_word: list[int] = []
        for i, word in enumerate(words):
            ws = () if _SPECIAL.match(word) else words_of(word)
            for w in ws or ("",):  # "" keeps phrases from spanning punctuation and "."
                parts.append(w)
                part_word.append(i)
        single, phrases = self.vocab.single, self.vocab.phrases
        hit = [False] * len(parts)
        for i, part in enumerate(parts):
            if part in single:
                hit[i] = True
            for phrase in phrases.get(part, ()):
                n = len(phrase)
                if tuple(parts[i:i + n]) == phrase:
                    for j in range(i, i + n):
                        if parts[j] not in STOPWORDS:
                            hit[j] = True
        tags = [0] * len(words)
        for i, h in enumerate(hit):
            if h:
                tags[part_word[i]] = 1
        return tags

    def tag(self, tokens: Sequence[str]) -> list[int]:
        """0/1 per token, aligned with ``tokens`` (word-level or WordPiece)."""
        words, owner = merge_wordpieces(tokens)
        word_tags = self.tag_words(words)
        return [word_tags[w] for w in owner]

    def mesh_words(self) -> set[str]:
        """The single words a match can tag (MMM draws its random replacements from these)."""
        return self.vocab.taggable_words()

    # -- Annotator -----------------------------------------------------------------------
    def annotate(self, record: dict) -> dict:
        tokens = record.get(fields.TOKENS)
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise DataError(f"record {record.get(fields.ID, '?')!r}: the MeSH tagger needs "
                            f"'{fields.TOKENS}' as a list of strings (run a tokenizer first)")
        record[fields.MESH_TAGS] = self.tag(tokens)
        return record

    def state_dict(self) -> dict[str, Any]:
        """The vocabulary itself, so that a saved run tags the same way without the files."""
        return {"vocabulary": self.vocab.to_json()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "vocabulary" in state:
            self.vocab = MeshVocabulary.from_json(state["vocabulary"])
