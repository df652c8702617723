"""Radiograph diagnosis (``cbf.heads: rd``): one FC on E[CLS] of the image-only bi view → K sigmoids."""
from cbf_rd.head import RadiographDiagnosisHead

__all__ = ["RadiographDiagnosisHead"]
