"""BERT WordPiece from a checkpoint's ``vocab.txt``, for reusing a pre-trained BERT's embeddings."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path

from cbf.errors import CheckpointError
from cbf_tokenizers.base import VocabTokenizer


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def basic_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """BERT's BasicTokenizer: clean control chars, lower-case and strip accents, split on
    whitespace and punctuation (CJK characters are split too)."""
    out: list[str] = []
    for word in "".join(" " if unicodedata.category(c).startswith("C") and c not in "\t\n\r" else c
                        for c in text if c not in ("\x00", "\ufffd")).split():
        if lowercase:
            word = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                           if unicodedata.category(c) != "Mn")
        current = ""
        for ch in word:
            if _is_punctuation(ch) or 0x4E00 <= ord(ch) <= 0x9FFF:
                if current:
                    out.append(current)
                out.append(ch)
                current = ""
            else:
                current += ch
        if current:
            out.append(current)
    return out


class WordPieceTokenizer(VocabTokenizer):
    @dataclass
    class Config:
        vocab: str  # a BERT checkpoint folder holding vocab.txt, or the vocab.txt itself
        lowercase: bool = True
        max_length: int = 100
        max_chars_per_word: int = 100

    def __init__(self, config: "WordPieceTokenizer.Config", *args: object, **kwargs: object) -> None:
        super().__init__()
        self.config = config
        self.max_length = config.max_length
        path = Path(config.vocab)
        if path.is_dir():
            path = path / "vocab.txt"
        if not path.is_file():
            raise CheckpointError(f"{path}: WordPiece vocabulary not found (give the BERT checkpoint folder "
                                  "that holds vocab.txt, or the vocab.txt file itself)")
        self._set_vocab([line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines()])

    def _wordpiece(self, word: str) -> list[str]:
        if len(word) > self.config.max_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._index:
                    pieces.append(piece)
                    break
                end -= 1
            else:
                return ["[UNK]"]
            start = end
        return pieces

    def tokenize(self, text: str) -> list[str]:
        return [p for w in basic_tokenize(text, self.config.lowercase) for p in self._wordpiece(w)]

    def join(self, tokens: list[str]) -> str:
        return " ".join(tokens).replace(" ##", "")
