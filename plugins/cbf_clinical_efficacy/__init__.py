"""The ``clinical_efficacy`` metric: labeler-based P/R/F1 (micro, macro, example-based)."""
from .metric import ClinicalEfficacy, load_labeler
from .scoring import averaged_scores, confusion_counts, example_scores

__all__ = ["ClinicalEfficacy", "averaged_scores", "confusion_counts", "example_scores", "load_labeler"]
