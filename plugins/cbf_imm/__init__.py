"""Image-MeSH Matching (paper eqs. 5–7): a two-level sparse attention score between the
radiograph's regions and the report's words, weighted towards MeSH words.

``mode="paper"`` minimises −S/τ of the true pairs (eq. 7 as printed); ``mode="contrastive"``
is an in-batch cross-entropy over S(image_i, report_j)/τ in both directions; ``mode="matched"``
ranks the true pair against jointly encoded negative pairs (the one-stream way). See
:mod:`cbf_imm.matching` for the score and docs/objectives.md for our reading of the paper.
"""
from cbf_imm.matching import contrastive_loss, matched_loss, matching_score, paper_loss, score_matrix, sparsify, word_weights
from cbf_imm.objective import ImageMeshMatching, imm_word_mask

__all__ = ["ImageMeshMatching", "contrastive_loss", "imm_word_mask", "matched_loss", "matching_score", "paper_loss",
           "score_matrix", "sparsify", "word_weights"]
