"""Word-level tokenizer: the paper's vocabulary of words seen >= 3 times in training reports."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from cbf.fields import SPECIAL_TOKENS
from cbf.text import word_tokens
from cbf_tokenizers.base import VocabTokenizer


class WordTokenizer(VocabTokenizer):
    """R2Gen-cleaned words (lower-case, punctuation stripped, " ." sentence marks, "xxxx"
    kept). Text that is already whitespace-tokenized (e.g. jieba output) passes through."""

    @dataclass
    class Config:
        min_count: int = 3
        max_length: int = 100
        clean: bool = True  # False: split on whitespace only (pre-tokenized text, e.g. Chinese)

        def validate(self) -> None:
            if self.min_count < 1:
                raise ValueError("min_count must be >= 1")
            if self.max_length < 1:
                raise ValueError("max_length must be >= 1")

    def __init__(self, config: "WordTokenizer.Config | None" = None, *args: object, **kwargs: object) -> None:
        super().__init__()
        self.config = config or self.Config()
        self.max_length = self.config.max_length
        self.counts: Counter[str] = Counter()

    def tokenize(self, text: str) -> list[str]:
        return word_tokens(text) if self.config.clean else text.lower().split()

    def fit(self, records: Iterable[dict]) -> None:
        counts: Counter[str] = Counter()
        for record in records:
            counts.update(self.tokenize(record["report"]))
        self.counts = counts
        kept = sorted((w for w, c in counts.items() if c >= self.config.min_count and w not in SPECIAL_TOKENS),
                      key=lambda w: (-counts[w], w))
        self._set_vocab([*SPECIAL_TOKENS, *kept])
