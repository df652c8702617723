"""Chinese word segmentation with jieba (the paper's choice for COV-CTR), loaded once, quietly.

Downstream tokenizers split on whitespace, so the dataset hands them the jieba tokens joined
by single spaces; whitespace-only tokens are dropped, punctuation (，。) is kept as tokens.
jieba ships its dictionary in the wheel: nothing is downloaded (it may write a prefix-dict
cache to the temp folder on first use).
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # the default tokenizer: its prefix dict is cached, ~2 s to load
    return jieba.dt


def segment(text: str) -> list[str]:
    """jieba's default (precise mode, HMM on) segmentation, whitespace tokens removed."""
    return [t for t in (w.strip() for w in _tokenizer().lcut(text, HMM=True)) if t]


__all__ = ["segment"]
