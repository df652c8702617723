"""The bundled demo dataset: real IU X-Ray reports paired with synthetic phantom images.

``DemoDataset`` (entry point ``cbf.datasets: demo``) reads the Open-i reports from the
installed torchxrayvision package and renders two synthetic views per study once into a
cache; see ``docs/demo.md``.
"""
from cbf_demo.dataset import DemoConfig, DemoDataset

__all__ = ["DemoConfig", "DemoDataset"]
