"""DataLoader: mini-batches of Tensors from a dataset, optionally shuffled each epoch."""
import numpy as np

from ... import random as _random
from .collate import default_collate
from .dataset import Dataset


class DataLoader:
    """``DataLoader(dataset, batch_size=16, shuffle=False, collate_fn=None, drop_last=False)``.

    Iterating yields one batch per step. A :class:`Dataset` over arrays or
    Tensors is batched by fancy indexing (one gather per column); any other
    dataset is read sample by sample and joined by ``collate_fn``
    (:func:`default_collate` unless given). With ``shuffle=True`` every
    epoch draws a fresh order from sorix's generator, so ``sorix.manual_seed``
    makes the sequence of epochs reproducible.
    """

    def __init__(self, dataset, batch_size=16, shuffle=False, collate_fn=None, drop_last=False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"batch_size should be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.collate_fn = collate_fn
        self.drop_last = bool(drop_last)

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def _order(self):
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
