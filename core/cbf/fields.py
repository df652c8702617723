"""The documented sample and batch fields: the only way plugins talk to each other.

A dataset yields *samples* (dicts); annotators add fields to samples; the core's collate
turns samples into a *batch*; objectives and heads read the batch and the encoder output.
A plugin never imports another plugin: it names the fields it needs here.

Sample fields (one study):

===================  =====================================  ==================================
field                type                                   who writes it
===================  =====================================  ==================================
``id``               str, unique within the dataset         dataset
``split``            "train" | "val" | "test"               dataset
``images``           float tensor (V, 3, H, W), normalised  dataset (V views of one study)
``image_paths``      list[str] (may be empty for synthetic) dataset
``report``           str, the report text (findings+impr.)  dataset
``mesh_major``       list[str], human MeSH headings         dataset, where the source has them
``chexpert``         list[float] of 14 in CHEXPERT_LABELS    dataset (source labels) or labeler
                     order: 1 pos, 0 neg, -1 uncertain,
                     nan not mentioned
``labels``           list[float], task labels (e.g. NIH 14)  dataset (diagnosis datasets)
``tokens``           list[str], the tokenized report         tokenizer annotator
``token_ids``        list[int], ids of ``tokens`` (no        tokenizer annotator
                     specials, truncated to max length)
``mesh_tags``        list[int] 0/1 aligned with ``tokens``   MeSH tagger annotator
===================  =====================================  ==================================

Batch fields (after :func:`cbf.data.collate.collate`), B studies, V views, L text slots:

==================  ====================================================================
``ids``             list[str]
``images``          float (B, V, 3, H, W); missing views are zeros
``image_mask``      bool (B, V): which views exist
``text_ids``        long (B, L): ``token_ids`` + final [SEP], padded with [PAD]
``text_mask``       bool (B, L): True on real tokens and the final [SEP]
``input_ids``       long (B, L): what the encoder sees; starts as a copy of ``text_ids``
                    and is corrupted in place by objectives' ``prepare`` (masking)
``text_positions``  optional long (B, L'): position of each text slot (default 0..L'-1)
``text_visibility`` optional bool (B, L', L'): which text slot sees which under s2s (default:
                    causal). Set by an objective's ``prepare`` that rewrites ``input_ids``
                    to another layout (the RRG head's pseudo-masks); then L' may differ
                    from L and ``text_mask`` is rewritten to match.
``mesh_tags``       long (B, L): 0/1, 0 on [SEP] and padding
``chexpert``        float (B, 14), nan where not mentioned
``labels``          float (B, K) when samples have ``labels``
==================  ====================================================================
"""
from __future__ import annotations

#: The 14 CheXpert observations, in the order the CheXpert paper and labeler use.
CHEXPERT_LABELS: tuple[str, ...] = (
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Lesion",
    "Lung Opacity",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
)

#: NIH ChestX-ray14 findings, in the order of the paper's Table 3.
NIH_LABELS: tuple[str, ...] = (
    "Atelectasis",
    "Cardiomegaly",
    "Consolidation",
    "Edema",
    "Effusion",
    "Emphysema",
    "Fibrosis",
    "Hernia",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pleural_Thickening",
    "Pneumonia",
    "Pneumothorax",
)

SPECIAL_TOKENS: tuple[str, ...] = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

# Sample field names, so that code says fields.TOKENS rather than a bare string.
ID = "id"
SPLIT = "split"
IMAGES = "images"
IMAGE_PATHS = "image_paths"
REPORT = "report"
MESH_MAJOR = "mesh_major"
CHEXPERT = "chexpert"
LABELS = "labels"
TOKENS = "tokens"
TOKEN_IDS = "token_ids"
MESH_TAGS = "mesh_tags"
