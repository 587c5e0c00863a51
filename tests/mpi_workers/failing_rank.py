"""Rank 1 fails (an exception, or a hang with ``hang``) while rank 0 waits in all_reduce.

The job must end on its own: by MPI_Abort from the uncaught-exception hook, or by the
group's timeout on rank 0 (whose RuntimeError then aborts the job the same way).
"""
import sys
import time

import common  # noqa: F401

import sorix  # noqa: E402
import sorix.distributed as dist  # noqa: E402

mode = sys.argv[2]
dist.init_process_group("mpi", timeout=1 if mode == "hang" else None)
if dist.get_rank() == 1:
    if mode == "hang":
        time.sleep(60)
    raise ValueError("rank 1 failed on purpose")
dist.all_reduce(sorix.ones(3))
print("rank 0 should never get here", flush=True)
