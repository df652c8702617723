"""Offline, rule-based CheXpert-style labeler (annotator ``chexpert_rules``).

Rules are readable data files in ``rules/``; see :mod:`cbf_chexpert.labeler` for how they
combine and docs/labeler.md for the measured agreement and speed.
"""
from .labeler import ChexpertRulesLabeler

__all__ = ["ChexpertRulesLabeler"]
