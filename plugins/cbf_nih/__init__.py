"""NIH ChestX-ray14 (``cbf.datasets: nih_chestxray14``): the label table, official lists, images*/."""
from .dataset import NIHChestXray14Dataset, NIHConfig

__all__ = ["NIHChestXray14Dataset", "NIHConfig"]
