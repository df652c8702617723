"""Clinical Diagnosis (paper eq. 1): 14 CheXpert observations from E[CLS] ⊙ E[first SEP]."""
from cbf.targets import u_ones, u_zeros, uncertainty_targets  # the core's, re-exported
from cbf_cd.objective import ClinicalDiagnosis

__all__ = ["ClinicalDiagnosis", "u_ones", "u_zeros", "uncertainty_targets"]
