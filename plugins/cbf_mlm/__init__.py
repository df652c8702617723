"""Masked Language Modeling (paper eqs. 3–4) with the s2s and bi views, as a plugin."""
from cbf_mlm.objective import MaskedLanguageModeling

__all__ = ["MaskedLanguageModeling"]
