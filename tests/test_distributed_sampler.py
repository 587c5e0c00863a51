"""DistributedSampler with explicit ranks (no MPI needed), against PyTorch's where installed,
and DataLoader(sampler=...)."""
import numpy as np
import pytest

import sorix
from sorix.utils.data import DataLoader, Dataset, DistributedSampler


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


def shares(n, replicas, **kwargs):
    return [list(DistributedSampler(Sized(n), replicas, r, **kwargs)) for r in range(replicas)]


@pytest.mark.parametrize("n", [0, 1, 5, 10, 11, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shares_partition_the_padded_or_trimmed_order(n, replicas, shuffle):
    # without drop_last: every index appears, equal shares of ceil(n / p), padding
    # repeats the order's first indices; with drop_last: disjoint shares of floor(n / p)
    padded = shares(n, replicas, shuffle=shuffle, seed=4)
    per_rank = -(-n // replicas)
    assert all(len(s) == per_rank for s in padded)
    together = sum(padded, [])
    assert sorted(set(together)) == list(range(n))
    assert len(together) - n == per_rank * replicas - n
    trimmed = shares(n, replicas, shuffle=shuffle, seed=4, drop_last=True)
    together = sum(trimmed, [])
    assert all(len(s) == n // replicas for s in trimmed)
    assert len(set(together)) == len(together) == n // replicas * replicas
    sampler = DistributedSampler(Sized(n), replicas, 0, drop_last=True)
    assert len(sampler) == n // replicas


def test_same_order_as_pytorch_without_shuffle():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler
    for n in (0, 1, 7, 10, 11):
        for replicas in (1, 2, 3, 4):
            for drop_last in (False, True):
                for rank in range(replicas):
                    ours = DistributedSampler(Sized(n), replicas, rank, shuffle=False,
                                              drop_last=drop_last)
                    theirs = TorchSampler(Sized(n), replicas, rank, shuffle=False,
                                          drop_last=drop_last)
                    assert list(ours) == list(theirs), (n, replicas, rank, drop_last)
                    assert len(ours) == len(theirs)
    assert torch is not None


def test_shuffle_follows_seed_and_epoch_identically_on_every_rank():
    def order(rank, seed=0, epoch=0):
        s = DistributedSampler(Sized(20), 2, rank, seed=seed)
        s.set_epoch(epoch)
        return list(s)

    assert order(0) == order(0)  # same epoch, same order
    assert order(0, epoch=1) != order(0, epoch=0)
    assert order(0, seed=1) != order(0, seed=0)
    # the ranks draw one permutation and interleave it
    full = np.random.default_rng(0 + 3).permutation(20)
    assert order(0, epoch=3) == full[0::2].tolist()
    assert order(1, epoch=3) == full[1::2].tolist()


def test_sampler_argument_errors():
    with pytest.raises(ValueError,
                       match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(Sized(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(Sized(4), num_replicas=-1, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(Sized(4))  # no process group and no explicit ranks
    with pytest.raises(ValueError, match="epoch"):
        DistributedSampler(Sized(4), 2, 0).set_epoch(-1)


def test_dataloader_with_a_sampler():
    X = np.arange(22, dtype=np.float32).reshape(11, 2)
    y = np.arange(11)
    dataset = Dataset(X, y)
    sampler = DistributedSampler(dataset, num_replicas=2, rank=1, seed=9)
    loader = DataLoader(dataset, batch_size=4, sampler=sampler)
    assert len(loader) == 2  # 6 samples in batches of 4
    batches = list(loader)
    labels = np.concatenate([yb.numpy() for _, yb in batches])
    assert labels.tolist() == list(sampler)
    np.testing.assert_array_equal(np.concatenate([xb.numpy() for xb, _ in batches]), X[labels])
    assert len(DataLoader(dataset, batch_size=4, sampler=sampler, drop_last=True)) == 1
    plain = DataLoader(dataset, batch_size=4, sampler=[3, 1, 4, 1, 5])  # any sized iterable
    assert np.concatenate([yb.numpy() for _, yb in plain]).tolist() == [3, 1, 4, 1, 5]
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(dataset, sampler=sampler, shuffle=True)
    with pytest.raises(TypeError, match="sampler"):
        DataLoader(dataset, sampler=3)
    assert sorix.utils.data.DistributedSampler is DistributedSampler
