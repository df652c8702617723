"""Tokenizer annotators: a word-level vocabulary built from the training reports (the paper's
choice: words seen at least 3 times) and BERT WordPiece from a checkpoint's ``vocab.txt``."""
from cbf_tokenizers.word import WordTokenizer
from cbf_tokenizers.wordpiece import WordPieceTokenizer

__all__ = ["WordTokenizer", "WordPieceTokenizer"]
