"""TensorDataset: samples are the rows of several tensors, indexed together (PyTorch's)."""
import numpy as np

from ...tensor import Tensor
from .dataset import Dataset


class TensorDataset(Dataset):
    """``TensorDataset(*tensors)``: ``ds[i]`` is ``(t[i] for t in tensors)`` as a tuple.

    Every tensor must have the same size in its first dimension (the number of
    samples); NumPy arrays are accepted and kept in their dtype. A DataLoader
    gathers whole batches by fancy indexing.
    """

    def __init__(self, *tensors):  # (Dataset's X/y attributes do not apply)
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        converted = []
        for k, t in enumerate(tensors):
            if isinstance(t, np.ndarray):
                t = Tensor(t)
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset takes tensors (or NumPy arrays); argument {k} "
                                f"is {type(t).__name__}")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {k} is a 0-d tensor; every tensor "
                                 "needs a first dimension indexing the samples")
            converted.append(t)
        sizes = [int(t.shape[0]) for t in converted]
        if len(set(sizes)) > 1:
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes} differ; "
                             "every tensor must hold one entry per sample")
        self.tensors = tuple(converted)
        self.transform = self.target_transform = None

    def __len__(self):
        return int(self.tensors[0].shape[0])

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)) and not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of length {len(self)}")
        return tuple(t[index] for t in self.tensors)

    def __setitem__(self, index, value):
        raise TypeError("TensorDataset does not support item assignment; change the tensors "
                        "it holds (ds.tensors) instead")

    def _gather(self, indices):
        """A batch: each tensor indexed by the batch's sample indices at once."""
        return tuple(t[indices] for t in self.tensors)

    def __repr__(self):
        shapes = ", ".join(str(tuple(t.shape)) for t in self.tensors)
        return f"TensorDataset(len={len(self)}, tensors=[{shapes}])"
