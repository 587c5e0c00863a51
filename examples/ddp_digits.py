"""Train the digits MLP of examples/digits.py on several processes with DistributedDataParallel.

Each process (rank) trains a replica on its own share of every epoch
(DistributedSampler); backward averages the gradients over the ranks, so the
replicas take identical steps. Rank 0 prints the progress and the final
test accuracy; at the end every rank checks that the replicas still agree.

    pip install mpi4py mpich scikit-learn
    mpiexec -n 2 python examples/ddp_digits.py

On a Slurm cluster (mpi4py built against the cluster's MPI): srun -n 8 python ...
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from digits import accuracy, load_digits_split, make_model  # noqa: E402

import sorix  # noqa: E402
import sorix.distributed as dist  # noqa: E402
from sorix import nn  # noqa: E402
from sorix.nn.parallel import DistributedDataParallel  # noqa: E402
from sorix.optim import RMSprop  # noqa: E402
from sorix.utils.data import DataLoader, Dataset, DistributedSampler  # noqa: E402

GLOBAL_BATCH = 32  # examples/digits.py's batch, split over the ranks


def replicas_agree(model):
    """Whether every rank holds bit-identical parameters (max and min over ranks agree)."""
    flat = np.concatenate([p.numpy().ravel() for p in model.parameters()])
    high, low = sorix.tensor(flat.copy()), sorix.tensor(flat.copy())
    dist.all_reduce(high, dist.ReduceOp.MAX)
    dist.all_reduce(low, dist.ReduceOp.MIN)
    return bool(np.array_equal(high.numpy(), low.numpy()))


def main(epochs=15):
    dist.init_process_group(backend="mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    if GLOBAL_BATCH % world:
        raise SystemExit(f"run on a number of processes that divides {GLOBAL_BATCH}")
    sorix.manual_seed(rank)  # the replicas start apart: DDP copies rank 0's weights to all
    X_train, y_train, X_test, y_test = load_digits_split()
    dataset = Dataset(X_train, y_train)
    sampler = DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=GLOBAL_BATCH // world, sampler=sampler)
    model = DistributedDataParallel(make_model())
    loss_fn = nn.CrossEntropyLoss()
    optimizer = RMSprop(model.parameters(), lr=1e-3)
    if rank == 0:
        print(f"{world} processes, {len(loader)} steps per epoch of {GLOBAL_BATCH // world} "
              f"samples each (global batch {GLOBAL_BATCH})")

    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same on every rank
        total = sorix.zeros(1, dtype=sorix.float64)
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        dist.all_reduce(total, dist.ReduceOp.AVG)  # the mean training loss over the ranks
        if rank == 0:
            test = accuracy(model.module, X_test, y_test)
            print(f"epoch {epoch:2d} loss {total.item() / len(loader):.4f} "
                  f"test accuracy {test:.4f}", flush=True)
    seconds = time.perf_counter() - start
    agree = replicas_agree(model.module)
    if rank == 0:
        print(f"trained in {seconds:.1f} s; final test accuracy "
              f"{accuracy(model.module, X_test, y_test):.4f}; "
              f"replicas identical on all {world} ranks: {agree}")
    if not agree:
        raise SystemExit("the replicas diverged")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
