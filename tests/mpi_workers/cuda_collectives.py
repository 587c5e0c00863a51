"""Collectives and DistributedDataParallel on CUDA tensors (numba's simulator without a GPU).

Run with SORIX_MPI_CUDA_AWARE=0 (staged through the host) or =1 (device buffers handed
to MPI). Saves the values and the host <-> device copies each call made, per rank.
"""
import os
import sys

import numpy as np

import common

sys.setswitchinterval(1e-4)  # the simulator's threads switch faster
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import cuda_setup  # noqa: E402

# the simulator (its shared-array race fixed: see cuda_setup), or SORIX_TEST_CUDA=gpu's GPU
cuda_setup.load()

import sorix  # noqa: E402
import sorix.distributed as dist  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from sorix import nn  # noqa: E402
from sorix.nn.parallel import DistributedDataParallel  # noqa: E402

dist.init_process_group("mpi", timeout=120)
rank, size = dist.get_rank(), dist.get_world_size()
results = {"cuda_aware": np.array(dist.cuda_aware())}


def copies(fn):
    """(to_host, to_device) copies made by fn()."""
    before = C.transfer_counts()
    fn()
    after = C.transfer_counts()
    return np.array([after["to_host"] - before["to_host"],
                     after["to_device"] - before["to_device"]])


for op in ("SUM", "AVG", "MAX"):
    t = sorix.tensor(common.inputs(rank, dtype=np.float32), device="cuda")
    results[f"copies/all_reduce_{op}"] = copies(
        lambda: dist.all_reduce(t, getattr(dist.ReduceOp, op)))
    results[f"all_reduce_{op}"] = t.cpu().numpy()

t = sorix.tensor(common.inputs(rank, dtype=np.float32), device="cuda")
results["copies/broadcast"] = copies(lambda: dist.broadcast(t, 1))
results["broadcast_from_1"] = t.cpu().numpy()

gathered = [sorix.zeros(3, 4, device="cuda") for _ in range(size)]
source = sorix.tensor(common.inputs(rank, dtype=np.float32), device="cuda")
results["copies/all_gather"] = copies(lambda: dist.all_gather(gathered, source))
results["all_gather"] = np.stack([g.cpu().numpy() for g in gathered])

# DDP: the same training on the CPU and on the device, from rank 0's weights
trained = {}
for device in ("cpu", "cuda"):
    model = common.make_model(seed=1 + rank).to(device)
    ddp = DistributedDataParallel(model, bucket_cap_mb=600 / 2**20)
    optimizer = common.make_optimizer(ddp.parameters())
    loss_fn = nn.CrossEntropyLoss()
    for step, batch in enumerate(common.batches(count=2)):
        X, y = common.shard(batch, rank, size)
        X, y = sorix.tensor(X, device=device), sorix.tensor(y, device=device)
        optimizer.zero_grad()
        if device == "cuda" and step == 0:
            with ddp.no_sync():
                local = copies(lambda: loss_fn(ddp(X), y).backward())
            optimizer.zero_grad()
            synced = copies(lambda: loss_fn(ddp(X), y).backward())
            results["copies/ddp_backward_extra"] = synced - local
            results["ddp_buckets"] = np.array(len(ddp._reducer.buckets))
        else:
            loss_fn(ddp(X), y).backward()
        optimizer.step()
    trained[device] = {k: v.cpu().numpy() for k, v in model.state_dict().items()}
for key in trained["cpu"]:
    results[f"ddp_cpu/{key}"] = trained["cpu"][key]
    results[f"ddp_cuda/{key}"] = trained["cuda"][key]
common.save(results, rank)
