"""Data-parallel timings over MPI.

    mpiexec -n 2 python benchmarks/ddp_bench.py          # a table on rank 0
    mpiexec -n 2 python benchmarks/ddp_bench.py --json   # one JSON line (asv reads it)

1. ``all_reduce`` of 1e6 and 1e7 float32 through sorix.distributed against
   mpi4py's raw ``Allreduce`` of a NumPy array of the same size (the ratio is
   what sorix adds), with the bandwidth a ring allreduce achieves:
   2 (p - 1) / p of the bytes leave each rank.
2. One DistributedDataParallel training step of the MNIST benchmark network
   (benchmarks/cases.py; batch 128 split over the ranks), split into
   computing and waiting for the gradient allreduce at the end of backward,
   and the same step under ``no_sync()`` (no exchange) for comparison.

Every rank runs the same number of calls (collectives must match); a sample
is the slowest rank's time. Samples of the compared callables interleave, so
a noisy neighbour slows all of them alike.
"""
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import sorix  # noqa: E402
import sorix.distributed as dist  # noqa: E402
from benchmarks import cases  # noqa: E402
from benchmarks import references as ref  # noqa: E402
from sorix.nn.parallel import DistributedDataParallel  # noqa: E402

ROUNDS = 7
SAMPLE_S = 0.2


def slowest(seconds):
    """The largest of every rank's ``seconds``."""
    value = sorix.tensor(np.array([seconds]))
    dist.all_reduce(value, dist.ReduceOp.MAX)
    return float(value.item())


def calls_per_sample(step):
    """How many calls make one sample of about SAMPLE_S (rank 0 decides for all)."""
    start = time.perf_counter()
    step()
    count = sorix.tensor(np.array([max(1, int(SAMPLE_S / max(time.perf_counter() - start,
                                                              1e-6)))]))
    dist.broadcast(count, 0)
    return int(count.item())


def interleaved(steps, waited=None):
    """Seconds per call of each step (the slowest rank's), one sample per round, the
    order rotating by round. With ``waited`` (a function giving seconds spent waiting so
    far), also each rank's wait per call in each sample: ``samples["<name> wait"]`` holds
    one array (a value per rank) per sample."""
    names = list(steps)
    counts = {name: calls_per_sample(steps[name]) for name in names}
    samples = {name: [] for name in names}
    samples.update({f"{name} wait": [] for name in names})
    for r in range(ROUNDS):
        for name in names[r % len(names):] + names[:r % len(names)]:
            dist.barrier()
            wait_before = waited() if waited else 0.0
            start = time.perf_counter()
            for _ in range(counts[name]):
                steps[name]()
            elapsed = (time.perf_counter() - start) / counts[name]
            samples[name].append(slowest(elapsed))
            if waited:
                samples[f"{name} wait"].append(per_rank((waited() - wait_before) / counts[name]))
    return samples


def per_rank(seconds):
    """Every rank's ``seconds``, as an array indexed by rank."""
    values = [sorix.zeros(1, dtype=sorix.float64) for _ in range(dist.get_world_size())]
    dist.all_gather(values, sorix.tensor(np.array([seconds])))
    return np.array([v.item() for v in values])


def allreduce_case(n, world):
    from mpi4py import MPI
    raw_comm = MPI.COMM_WORLD.Dup()
    ours = sorix.ones(n)
    dist.all_reduce(ours)  # check the value once, then time on zeros (no overflow)
    assert np.all(ours.numpy() == world), "sorix all_reduce gave a wrong sum"
    raw = np.ones(n, np.float32)
    raw_comm.Allreduce(MPI.IN_PLACE, raw, MPI.SUM)
    assert np.all(raw == world)
    ours.data[...] = 0
    raw[...] = 0
    samples = interleaved({"sorix": lambda: dist.all_reduce(ours),
                           "mpi4py": lambda: raw_comm.Allreduce(MPI.IN_PLACE, raw, MPI.SUM)})
    raw_comm.Free()
    ratio = statistics.median(a / b for a, b in zip(samples["sorix"], samples["mpi4py"]))
    seconds = statistics.median(samples["mpi4py"])
    moved = 2 * (world - 1) / world * n * 4  # bytes each rank sends in a ring allreduce
    return {"n": n, "sorix_ms": 1e3 * statistics.median(samples["sorix"]),
            "mpi4py_ms": 1e3 * seconds, "ratio": ratio,
            "ring_GB_per_s": moved / seconds / 1e9 if world > 1 else None}


def ddp_case(rank, world):
    model, loss_fn, optimizer = cases.sorix_mnist(p_drop=0.2)
    ddp = DistributedDataParallel(model)
    share = ref.MNIST_BATCH // world
    batches = [(sorix.tensor(x[rank * share:(rank + 1) * share]),
                sorix.tensor(y[rank * share:(rank + 1) * share])) for x, y in ref.mnist_pool()]
    count = [0]

    def step():
        x, y = batches[count[0] % len(batches)]
        count[0] += 1
        optimizer.zero_grad()
        loss = loss_fn(ddp(x), y)
        loss.backward()
        optimizer.step()

    def local_step():
        with ddp.no_sync():
            step()

    for _ in range(3):  # compile the kernels, fill the caches
        step()
    reducer = ddp._reducer
    samples = interleaved({"ddp": step, "no_sync": local_step},
                          waited=lambda: reducer.wait_seconds)
    # per rank: the median over samples of the time a step spent waiting for its buckets
    wait_s = np.median(np.stack(samples["ddp wait"]), axis=0)
    step_s = statistics.median(samples["ddp"])
    return {"step_ms": 1e3 * step_s, "wait_ms_per_rank": (1e3 * wait_s).tolist(),
            "no_sync_step_ms": 1e3 * statistics.median(samples["no_sync"]),
            "parameters": int(sum(p.data.size for p in model.parameters())),
            "buckets": len(reducer.buckets)}


def main():
    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    results = {"world_size": world, "cuda_aware": dist.cuda_aware(),
               "load_average": os.getloadavg()[0]}
    results["allreduce"] = [allreduce_case(n, world) for n in (10**6, 10**7)]
    results["ddp_mnist_step"] = ddp_case(rank, world)
    if rank == 0:
        if "--json" in sys.argv:
            print(json.dumps(results))
        else:
            report(results)
    dist.destroy_process_group()


def report(results):
    print(f"{results['world_size']} ranks, load average {results['load_average']:.2f} "
          "(figures from a loaded machine are provisional)")
    for case in results["allreduce"]:
        bandwidth = case["ring_GB_per_s"]
        print(f"all_reduce {case['n']:.0e} float32: sorix {case['sorix_ms']:.3f} ms, mpi4py "
              f"Allreduce {case['mpi4py_ms']:.3f} ms, ratio {case['ratio']:.3f}"
              + (f", ring bandwidth {bandwidth:.2f} GB/s per rank" if bandwidth else ""))
    step = results["ddp_mnist_step"]
    split = ", ".join(f"rank {r}: compute {step['step_ms'] - w:.2f} + wait {w:.2f}"
                      for r, w in enumerate(step["wait_ms_per_rank"]))
    print(f"DDP step, MNIST net ({step['parameters']} parameters, {step['buckets']} bucket(s)): "
          f"{step['step_ms']:.2f} ms ({split} ms); the same step under no_sync (no exchange) "
          f"{step['no_sync_step_ms']:.2f} ms")


if __name__ == "__main__":
    main()
