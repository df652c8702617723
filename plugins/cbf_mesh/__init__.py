"""MeSH tagger annotator: marks the words of a report that match MeSH headings (MMM, IMM)."""
from cbf_mesh.tagger import MeshTagger, merge_wordpieces
from cbf_mesh.vocabulary import MeshVocabulary, load_vocabulary

__all__ = ["MeshTagger", "MeshVocabulary", "load_vocabulary", "merge_wordpieces"]
