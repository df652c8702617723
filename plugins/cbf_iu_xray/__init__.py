"""IU X-Ray (``cbf.datasets: iu_xray``): Open-i XML, R2Gen annotation.json or the Kaggle CSVs."""
from .dataset import IUXRayConfig, IUXRayDataset

__all__ = ["IUXRayConfig", "IUXRayDataset"]
