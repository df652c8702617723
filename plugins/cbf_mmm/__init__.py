"""Masked MeSH Modeling (paper eq. 2): every MeSH-tagged word is corrupted and predicted."""
from cbf_mmm.objective import MaskedMeshModeling, mesh_targets

__all__ = ["MaskedMeshModeling", "mesh_targets"]
