"""The ``auroc`` metric: per-class AUROC and mean (NIH ChestX-ray14 order by default)."""
from .metric import MultiLabelAUROC, rank_auroc

__all__ = ["MultiLabelAUROC", "rank_auroc"]
