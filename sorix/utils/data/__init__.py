"""Datasets and mini-batch loading (``sorix.utils.data``)."""
from .collate import default_collate
from .dataloader import DataLoader
from .dataset import Dataset

__all__ = ["Dataset", "DataLoader", "default_collate"]
