"""``DistributedSampler``: each rank's share of a dataset's indices (PyTorch's sampler).

Every rank draws the same permutation (seeded by ``seed + epoch``), pads or
trims it to a multiple of ``num_replicas``, and keeps every
``num_replicas``-th index from its rank on. The shares do not overlap, and
without ``drop_last`` they cover the whole dataset (a few indices repeated
to even them out).
"""
import math

import numpy as np


def _non_negative_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} should be a non-negative integer, got {value!r}")
    return int(value)


class DistributedSampler:
    """``DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
    drop_last=False)``. ``num_replicas`` and ``rank`` default to the process group's
    world size and rank. Call ``set_epoch(epoch)`` before each epoch so that the
    shuffled order changes between epochs (identically on every rank)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler needs num_replicas and rank, or an "
                                   "initialized process group: call sorix.distributed."
                                   "init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        num_replicas = _non_negative_int(num_replicas, "num_replicas")
        rank = _non_negative_int(rank, "rank")
        if num_replicas < 1 or rank >= num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.shuffle = bool(shuffle)
        self.seed = _non_negative_int(seed, "seed")
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def _indices(self):
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:  # pad by repeating the order from its start
            order = np.resize(order, self.total_size) if n else order
        return order[:self.total_size][self.rank::self.num_replicas]

    def __iter__(self):
        return iter(self._indices().tolist())

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use ``epoch`` in the seed of the next shuffles."""
        self.epoch = _non_negative_int(epoch, "epoch")

    def __repr__(self):
        return (f"DistributedSampler(num_replicas={self.num_replicas}, rank={self.rank}, "
                f"num_samples={self.num_samples}, shuffle={self.shuffle})")
