"""The ``nlg`` metric: BLEU-1..4, METEOR, ROUGE-L, CIDEr via pycocoevalcap, R2Gen tokenization."""
from .metric import BLEU_KEYS, SCORE_KEYS, NLGMetric, score_tokenized
from .tokenization import TOKENIZATIONS, clean_report, clean_report_iu, clean_report_mimic

__all__ = ["BLEU_KEYS", "NLGMetric", "SCORE_KEYS", "TOKENIZATIONS", "clean_report", "clean_report_iu",
           "clean_report_mimic", "score_tokenized"]
