"""COV-CTR (``cbf.datasets: cov_ctr``): reports_ZH_EN.csv + images, jieba for Chinese, COVID label."""
from .dataset import CovCTRConfig, CovCTRDataset
from .jieba_tokens import segment

__all__ = ["CovCTRConfig", "CovCTRDataset", "segment"]
