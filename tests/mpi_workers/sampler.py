"""DistributedSampler from the process group, through a DataLoader; saved per rank."""
import numpy as np

import common

import sorix.distributed as dist  # noqa: E402
from sorix.utils.data import DataLoader, Dataset, DistributedSampler  # noqa: E402

SIZE = 11  # not a multiple of the world size: padding and trimming both show

dist.init_process_group("mpi", timeout=60)
rank = dist.get_rank()
dataset = Dataset(np.arange(SIZE, dtype=np.float64).reshape(-1, 1), np.arange(SIZE))
results = {}
for drop_last in (False, True):
    sampler = DistributedSampler(dataset, shuffle=True, seed=3, drop_last=drop_last)
    loader = DataLoader(dataset, batch_size=2, sampler=sampler)
    for epoch in (0, 1):
        sampler.set_epoch(epoch)
        labels = np.concatenate([y.numpy() for _, y in loader])
        results[f"drop_last={drop_last}/epoch={epoch}"] = labels
        assert len(labels) == len(sampler)
        assert len(loader) == -(-len(sampler) // 2)
common.save(results, rank)
