"""Data-parallel training over MPI: tracks the figures of benchmarks/ddp_bench.py.

asv runs one process per benchmark, not an MPI job, so ``setup_cache`` starts
``mpiexec -n 2 python benchmarks/ddp_bench.py --json`` once and the track_
benchmarks report from its result. Skipped without mpi4py or mpiexec.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddp_bench.py")
RANKS = 2


def _mpiexec():
    beside_python = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside_python if os.path.exists(beside_python) else shutil.which("mpiexec")


class DistributedOverMPI:
    """sorix all_reduce / mpi4py Allreduce of the same float32 buffer (goal: at most 1.05),
    and the DDP step of the MNIST network relative to the same step without the exchange."""
    timeout = 300
    unit = "ratio"

    def setup_cache(self):
        mpiexec = _mpiexec()
        if importlib.util.find_spec("mpi4py") is None or mpiexec is None:
            return None
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                   OMPI_MCA_rmaps_base_oversubscribe="1")
        done = subprocess.run([mpiexec, "-n", str(RANKS), sys.executable, SCRIPT, "--json"],
                              capture_output=True, text=True, timeout=240, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"ddp_bench.py failed:\n{done.stdout}\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    def setup(self, results):
        if results is None:
            raise NotImplementedError("mpi4py or mpiexec is not installed "
                                      "(pip install mpi4py mpich)")

    def track_allreduce_1e6_sorix_over_mpi4py(self, results):
        return results["allreduce"][0]["ratio"]

    def track_allreduce_1e7_sorix_over_mpi4py(self, results):
        return results["allreduce"][1]["ratio"]

    def track_ddp_step_over_no_sync_step(self, results):
        step = results["ddp_mnist_step"]
        return step["step_ms"] / step["no_sync_step_ms"]
