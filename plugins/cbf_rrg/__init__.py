"""Radiograph report generation (``cbf.heads: rrg``): s2s fine-tuning and cached beam-search decoding."""
from cbf_rrg.beam import BeamOptions, Hypothesis, beam_search, normalized_score
from cbf_rrg.head import ReportGenerationHead

__all__ = ["BeamOptions", "Hypothesis", "ReportGenerationHead", "beam_search", "normalized_score"]
