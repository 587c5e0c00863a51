"""Datasets, mini-batch loading and time-series splits (``sorix.utils.data``)."""
from .collate import default_collate
from .dataloader import DataLoader
from .dataset import Dataset
from .distributed import DistributedSampler
from .tensor_dataset import TensorDataset
from .walk_forward import WalkForwardSplit

__all__ = ["Dataset", "DataLoader", "DistributedSampler", "default_collate",
           "WalkForwardSplit"]
__all__ += ["TensorDataset"]
