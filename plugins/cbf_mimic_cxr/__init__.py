"""MIMIC-CXR (``cbf.datasets: mimic_cxr``): the MIMIC-CXR-JPG layout or an R2Gen annotation.json."""
from .dataset import MimicCXRConfig, MimicCXRDataset, choose_views
from .sections import extract_report, split_sections

__all__ = ["MimicCXRConfig", "MimicCXRDataset", "choose_views", "extract_report", "split_sections"]
