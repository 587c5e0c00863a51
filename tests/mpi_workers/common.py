"""Shared by the worker scripts that tests/test_distributed*.py start under mpiexec.

Each worker gets an output folder as its first argument and saves what it
computed, per rank, to ``rank<r>.npz``; the test process checks the files
against NumPy. Inputs are functions of the rank, so the test can rebuild
every rank's inputs itself.
"""
import os
import sys

import numpy as np

# the worktree's sorix, wherever the script is started from
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))


def inputs(rank, shape=(3, 4), dtype=np.float64):
    """Rank ``rank``'s input for the collectives (distinct per rank, exact in float32)."""
    values = np.random.default_rng(100 + rank).integers(-8, 9, size=shape)
    if np.dtype(dtype).kind == "f":
        return (values / 4).astype(dtype)
    return values.astype(dtype)


def save(results, rank):
    out = sys.argv[1]
    np.savez(os.path.join(out, f"rank{rank}.npz"), **results)


# ---- the data-parallel training check, shared with the single-process reference ----------

STEPS, BATCH, FEATURES, CLASSES = 4, 8, 6, 3


def make_model(seed):
    import sorix
    from sorix import nn
    sorix.manual_seed(seed)
    return nn.Sequential(nn.Linear(FEATURES, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(),
                         nn.Linear(8, CLASSES)).to(sorix.float64)


def batches(seed=7, count=STEPS):
    """``count`` full batches (X, labels); rank r of p trains on rows r::p... of each."""
    rng = np.random.default_rng(seed)
    return [(rng.normal(size=(BATCH, FEATURES)), rng.integers(0, CLASSES, BATCH))
            for _ in range(count)]


def shard(batch, rank, size):
    """Rank ``rank``'s equal, contiguous share of a full batch."""
    X, y = batch
    n = len(X) // size
    return X[rank * n:(rank + 1) * n], y[rank * n:(rank + 1) * n]


def make_optimizer(params):
    from sorix.optim import SGD
    return SGD(params, lr=0.1, momentum=0.9)


def make_heads():
    """A model with a head only some ranks use and one no rank uses."""
    import sorix
    from sorix import nn

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(4, 3)
            self.extra = nn.Linear(4, 3)
            self.never = nn.Linear(4, 3)

        def forward(self, x, use_extra):
            out = self.shared(x)
            return out + self.extra(x) if use_extra else out

    sorix.manual_seed(5)
    return TwoHeads().to(sorix.float64)


def heads_input(rank):
    return np.random.default_rng(3 + rank).normal(size=(5, 4))
