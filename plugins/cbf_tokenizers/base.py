"""What both tokenizers share: a fixed vocabulary with BERT's special tokens, id lookup,
truncation and decoding."""
from __future__ import annotations

from typing import Any, Sequence

from cbf.api import Tokenizer
from cbf.fields import SPECIAL_TOKENS


class VocabTokenizer(Tokenizer):
    max_length: int

    def __init__(self) -> None:
        self.vocab: list[str] = []
        self._index: dict[str, int] = {}

    def _set_vocab(self, vocab: Sequence[str]) -> None:
        missing = [t for t in SPECIAL_TOKENS if t not in vocab]
        if missing:
            raise ValueError(f"vocabulary lacks the special tokens {missing}")
        self.vocab = list(vocab)
        self._index = {tok: i for i, tok in enumerate(self.vocab)}

    def token_id(self, token: str) -> int:
        if not self._index:
            raise RuntimeError(f"{type(self).__name__} has no vocabulary yet (call fit or load_state_dict)")
        return self._index.get(token, self._index["[UNK]"])

    def annotate(self, record: dict) -> dict:
        tokens = self.tokenize(record["report"])[: self.max_length]
        record["tokens"] = tokens
        record["token_ids"] = [self.token_id(t) for t in tokens]
        return record

    def decode(self, ids: Sequence[int]) -> str:
        """Text of ``ids`` up to the first [SEP], without special tokens."""
        words = []
        for i in ids:
            tok = self.vocab[int(i)]
            if tok == "[SEP]":
                break
            if tok in ("[PAD]", "[CLS]", "[MASK]"):
                continue
            words.append(tok)
        return self.join(words)

    def join(self, tokens: list[str]) -> str:
        return " ".join(tokens)

    def state_dict(self) -> dict[str, Any]:
        return {"vocab": list(self.vocab)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._set_vocab(state["vocab"])
