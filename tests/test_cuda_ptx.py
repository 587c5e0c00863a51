"""Every kernel sorix.kernels.cuda launches also compiles for a real GPU.

The simulator runs kernels as Python, so it cannot tell whether numba-cuda
accepts them (types, unsupported functions, shared-memory declarations).
This test records the launches a short workload makes under the simulator
(tests/cuda_exercise.py), then compiles each one to PTX in processes
without the simulator (tests/cuda_compile_ptx.py). That needs NVVM
(``pip install numba-cuda[cu12]`` or ``[cu13]``) but no GPU.

It compiles ~300 kernels (about a minute of CPU), so it runs only when
``SORIX_TEST_PTX=1``; CI should set it.
"""
import concurrent.futures
import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT, python_env

HERE = os.path.join(ROOT, "tests")

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("numba_cuda") is None,
                       reason="numba-cuda is not installed"),
    pytest.mark.skipif(os.environ.get("SORIX_TEST_PTX") != "1",
                       reason="compiles ~300 kernels: set SORIX_TEST_PTX=1 to run"),
]


def _env(simulated):
    env = python_env(drop=("NUMBA_ENABLE_CUDASIM",))
    if simulated:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return env


def test_every_launched_kernel_compiles_to_ptx():
    recorded = subprocess.run([sys.executable, os.path.join(HERE, "cuda_exercise.py")],
                              env=_env(True), capture_output=True, text=True, check=True)
    launches = json.loads(recorded.stdout)
    assert len(launches) > 100  # every op, both dtypes, every kernel family
    jobs = max(1, min(4, os.cpu_count() or 1))
    workers = [subprocess.Popen([sys.executable, os.path.join(HERE, "cuda_compile_ptx.py")],
                                env=_env(False), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
               for _ in range(jobs)]
    # one thread per worker: communicate() on each in turn would hold back the next
    # worker's input until the one before had finished, compiling one share at a time
    with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
        outputs = list(pool.map(
            lambda i: workers[i].communicate(json.dumps(launches[i::jobs]))
            + (workers[i].returncode,), range(jobs)))
    if any(code == 3 for *_, code in outputs):
        pytest.skip(json.loads(outputs[0][0])["skip"])
    failures, compiled = [], 0
    for out, err, code in outputs:
        assert code == 0, err[-3000:]
        summary = json.loads(out)
        compiled += summary["compiled"]
        failures += summary["failures"]
    assert not failures, json.dumps(failures[:5], indent=1)
    assert compiled == len(launches)
