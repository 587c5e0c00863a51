"""all_reduce / broadcast / all_gather / barrier on CPU tensors; results saved per rank.

The second argument picks the MPI calls: "blocking" (no timeout: MPI's blocking
collectives) or "timeout" (a group timeout: non-blocking calls polled until done).
"""
import sys

import numpy as np

import common

assert "mpi4py" not in sys.modules
import sorix  # noqa: E402
import sorix.distributed as dist  # noqa: E402

assert "mpi4py" not in sys.modules, "import sorix must not import mpi4py"
assert not dist.is_initialized() and dist.is_available()

results = {}
try:
    dist.init_process_group("gloo")
except ValueError as exc:
    results["bad_backend_message"] = np.array(str(exc))
dist.init_process_group("mpi", timeout=30 if sys.argv[2] == "timeout" else None)
dist.init_process_group("mpi")  # a second call does nothing
rank, size = dist.get_rank(), dist.get_world_size()

for dtype in (np.float32, np.float64, np.int64):
    name = np.dtype(dtype).name
    for op in ("SUM", "AVG", "MAX", "MIN", "PRODUCT"):
        if op == "AVG" and dtype is np.int64:
            try:
                dist.all_reduce(sorix.tensor(common.inputs(rank, dtype=dtype)),
                                dist.ReduceOp.AVG)
            except TypeError as exc:
                results["avg_int_message"] = np.array(str(exc))
            continue
        t = sorix.tensor(common.inputs(rank, dtype=dtype))
        before = t._version[0]
        assert dist.all_reduce(t, getattr(dist.ReduceOp, op)) is None
        assert t._version[0] == before + 1
        results[f"all_reduce_{op}_{name}"] = t.numpy()

# a non-contiguous view is reduced through a copy and written back
base = sorix.tensor(common.inputs(rank, (4, 6)))
view = base[:, ::2]
dist.all_reduce(view)
results["all_reduce_strided_base"] = base.numpy()

flags = sorix.tensor(np.array([rank == 0, True, False]))
dist.all_reduce(flags)  # bool SUM: any
results["all_reduce_bool_sum"] = flags.numpy()

work = dist.all_reduce(sorix.tensor(common.inputs(rank)), async_op=True)
assert work.wait() is True and work.is_completed()

for src in range(size):
    t = sorix.tensor(common.inputs(rank))
    dist.broadcast(t, src)
    results[f"broadcast_from_{src}"] = t.numpy()

gathered = [sorix.zeros(3, 4, dtype=sorix.float64) for _ in range(size)]
dist.all_gather(gathered, sorix.tensor(common.inputs(rank)))
results["all_gather"] = np.stack([g.numpy() for g in gathered])

try:
    dist.all_gather([sorix.zeros(2)], sorix.tensor(common.inputs(rank)))
except ValueError as exc:
    results["all_gather_bad_list_message"] = np.array(str(exc))
try:
    dist.broadcast(sorix.zeros(2), size)
except ValueError as exc:
    results["broadcast_bad_src_message"] = np.array(str(exc))

dist.barrier()
results["rank"], results["world_size"] = np.array(rank), np.array(size)
results["cuda_aware"] = np.array(dist.cuda_aware())
import numba  # noqa: E402
results["numba_threads"] = np.array(numba.get_num_threads())
dist.destroy_process_group()
assert not dist.is_initialized()
try:
    dist.get_rank()
except ValueError as exc:
    results["uninitialized_message"] = np.array(str(exc))
common.save(results, rank)
