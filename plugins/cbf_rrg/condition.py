"""The findings condition: the report is written conditioned on the study's CheXpert findings,
which at inference come from an image classifier trained alongside, and decoded with guidance.

Not in the paper; an option of the RRG head (``findings_condition: true``) for small data and
short runs. Measured on the demo (docs/generation.md has the figures): a decoder fine-tuned for
a few hundred steps writes the training set's most frequent report for every study, because the
words that depend on the image are few and the image's effect on them is tiny (0.0007 nats per
word). Beam search then picks the normal template even where the decoder gives a finding real
weight: a finding's phrasings are many and each is rarer than the one normal sentence.

- **Condition.** The 14 CheXpert labels (U-Zeros), through one zero-initialised linear map, are
  added to the hidden state that the shared prediction head reads at every text slot (late
  fusion: the encoder and its pre-trained language are untouched, and at initialisation the
  model is exactly the unconditioned one). Training uses the study's own labels (teacher
  forcing). The map's output is scaled by :data:`GAIN`: Adam moves a weight by about the learning
  rate per step, so an unscaled zero-initialised map stays far below the hidden state's scale for
  a few hundred steps (measured: norm 0.3–0.5 after 250 steps, no effect on any report).
- **Classifier.** A linear layer on the mean projected backbone feature of the study's views
  (what RD's ``features: "visual_mean"`` classifies) learns the same labels with BCE, added to
  the head's loss. At inference a finding is on when its probability exceeds ``threshold``;
  "No Finding" is on exactly when no finding is (the labeler's own rule), so that the condition
  never combines a finding with "No Finding", which training never shows.
- **Guidance.** See :class:`cbf_rrg.decoders.GuidedDecoder`: the conditioned decoder's
  log-probabilities are pushed away from those of the same decoder told "No Finding".
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cbf.errors import DataError
from cbf.fields import CHEXPERT, CHEXPERT_LABELS
from cbf.model.clinical_bert import mean_visual
from cbf.targets import u_zeros

#: scale of the condition map's output (an effective learning-rate multiplier for a
#: zero-initialised map under Adam; see the module docstring)
GAIN = 10.0
NO_FINDING = CHEXPERT_LABELS.index("No Finding")


def derive_no_finding(labels: torch.Tensor) -> torch.Tensor:
    """(B, 14) 0/1 labels with "No Finding" set exactly where no finding is on (the labeler's
    own rule), so that a condition never pairs a finding with "No Finding"."""
    labels = labels.clone()
    findings = torch.cat([labels[:, :NO_FINDING], labels[:, NO_FINDING + 1:]], dim=1)
    labels[:, NO_FINDING] = (findings.sum(1) == 0).to(labels.dtype)
    return labels


def normal_findings(batch_size: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, 14) labels of a study with "No Finding" only."""
    labels = torch.zeros(batch_size, len(CHEXPERT_LABELS), device=device)
    labels[:, NO_FINDING] = 1.0
    return labels


class FindingsCondition(nn.Module):
    def __init__(self, hidden_size: int, threshold: float) -> None:
        super().__init__()
        n = len(CHEXPERT_LABELS)
        self.classifier = nn.Linear(hidden_size, n)
        self.embedding = nn.Linear(n, hidden_size, bias=False)
        nn.init.zeros_(self.embedding.weight)
        self.threshold = threshold

    # -- training ------------------------------------------------------------------------
    @staticmethod
    def targets(batch: dict[str, Any]) -> torch.Tensor:
        if CHEXPERT not in batch:
            raise DataError("rrg findings_condition needs the studies' CheXpert labels (batch field 'chexpert'): "
                            "add a labeler annotator such as {type: 'chexpert_rules'} to data.annotators")
        return u_zeros(batch[CHEXPERT].float())

    def embed(self, labels: torch.Tensor) -> torch.Tensor:
        """(B, 14) 0/1 labels → (B, H), added to the hidden state of every text slot."""
        return GAIN * self.embedding(labels.to(self.embedding.weight.dtype))

    def classifier_loss(self, visual_input: torch.Tensor, visual_valid: torch.Tensor,
                        targets: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(mean_visual(visual_input, visual_valid)).float()
        return F.binary_cross_entropy_with_logits(logits, targets.to(logits.device))

    # -- inference -----------------------------------------------------------------------
    def probabilities(self, visual: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.classifier(mean_visual(visual, valid)).float())

    def decide(self, probabilities: torch.Tensor) -> torch.Tensor:
        """(B, 14) probabilities → 0/1 labels; "No Finding" is on iff no finding is."""
        return derive_no_finding((probabilities > self.threshold).float())
