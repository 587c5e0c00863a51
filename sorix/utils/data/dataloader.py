"""DataLoader: mini-batches of Tensors from a dataset, optionally shuffled each epoch."""
import numpy as np

from ... import random as _random
from .collate import default_collate
from .dataset import Dataset


class DataLoader:
    """``DataLoader(dataset, batch_size=16, shuffle=False, collate_fn=None, drop_last=False,
    sampler=None)``.

    Iterating yields one batch per step. A :class:`Dataset` over arrays or
    Tensors is batched by fancy indexing (one gather per column); any other
    dataset is read sample by sample and joined by ``collate_fn``
    (:func:`default_collate` unless given). With ``shuffle=True`` every
    epoch draws a fresh order from sorix's generator, so ``sorix.manual_seed``
    makes the sequence of epochs reproducible. A ``sampler`` (any iterable of
    indices with a length, such as :class:`DistributedSampler`) gives the
    order instead; it excludes ``shuffle=True``, as in PyTorch.
    """

    def __init__(self, dataset, batch_size=16, shuffle=False, collate_fn=None, drop_last=False,
                 sampler=None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer, got {batch_size!r}")
        if sampler is not None:
            if shuffle:
                raise ValueError("sampler option is mutually exclusive with shuffle: shuffle "
                                 "in the sampler (DistributedSampler(shuffle=True)) and leave "
                                 "the DataLoader's shuffle=False")
            if not hasattr(sampler, "__iter__") or not hasattr(sampler, "__len__"):
                raise TypeError(f"sampler must be an iterable of indices with a length, got "
                                f"{type(sampler).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.collate_fn = collate_fn
        self.drop_last = bool(drop_last)
        self.sampler = sampler

    def __len__(self):
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def _order(self):
        if self.sampler is not None:
            return np.fromiter(iter(self.sampler), dtype=np.intp)
        n = len(self.dataset)
        # The generator is looked up per epoch: manual_seed replaces it.
        return _random.generator().permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self):
        order = self._order()
        fast = self.collate_fn is None and isinstance(self.dataset, Dataset)
        collate = self.collate_fn or default_collate
        for start in range(0, len(order), self.batch_size):
            indices = order[start:start + self.batch_size]
            if self.drop_last and len(indices) < self.batch_size:
                return
            batch = self.dataset._gather(indices) if fast else None
            if batch is None:
                batch = collate([self.dataset[int(i)] for i in indices])
            yield batch

    def __repr__(self):
        return (f"DataLoader(batches={len(self)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last})")
