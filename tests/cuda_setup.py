"""Load numba.cuda for the CUDA kernel tests (the simulator unless asked for a GPU),
and the helpers those tests share.

numba reads ``NUMBA_ENABLE_CUDASIM`` into ``numba.core.config`` when numba
is imported (and again whenever it compiles a function), and numba.cuda
picks the simulator or the driver once, when it is first imported. So the
flag must be set before ``numba.cuda``'s first import, and the config
reloaded if numba itself is already imported. Once numba.cuda is loaded
the choice is fixed for the process.

``SORIX_TEST_CUDA=gpu`` runs the tests on a real GPU instead (skipped when
none is usable). Without it, when something imported numba.cuda without
the simulator earlier in the same process, the tests are skipped: run
``pytest tests/test_cuda_kernels.py`` on its own.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

# Importing the package imports neither numba nor numba.cuda: safe before load().
import sorix.kernels.cuda as C

WANT_GPU = os.environ.get("SORIX_TEST_CUDA", "sim") == "gpu"


def load():
    """``numba.cuda``, or a pytest skip explaining why the tests cannot run."""
    if importlib.util.find_spec("numba_cuda") is None:  # the CUDA target: an optional extra
        pytest.skip("numba-cuda is not installed (pip install 'sorix[cuda]')",
                    allow_module_level=True)
    if WANT_GPU:
        from numba import cuda
        if not cuda.is_available() or _simulated(cuda):
            pytest.skip("SORIX_TEST_CUDA=gpu but no usable CUDA GPU", allow_module_level=True)
        return cuda
    if "numba.cuda" in sys.modules:
        cuda = sys.modules["numba.cuda"]
        if not _simulated(cuda):
            pytest.skip("numba.cuda was imported without the simulator earlier in this process; "
                        "run `pytest tests/test_cuda_kernels.py` on its own",
                        allow_module_level=True)
        return cuda
    previous = os.environ.get("NUMBA_ENABLE_CUDASIM")
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    try:
        if "numba" in sys.modules:
            from numba.core import config
            config.reload_config()
        from numba import cuda
    finally:
        # Leave the environment as it was, so that subprocesses started by
        # other tests do not inherit the simulator.
        if previous is None:
            del os.environ["NUMBA_ENABLE_CUDASIM"]
        else:
            os.environ["NUMBA_ENABLE_CUDASIM"] = previous
        from numba.core import config
        config.reload_config()
    assert _simulated(cuda)
    return cuda


def _simulated(cuda):
    return cuda.jit.__module__.startswith("numba.cuda.simulator")


# ---- shared by the tests/test_cuda_*.py modules ----------------------------------------------

DTYPES = [np.float32, np.float64]
#: empty, one element, less than a block, several blocks striding over the grid
SIZES = [0, 1, 7, 33]


@pytest.fixture(autouse=True, scope="module")
def fast_thread_switching():
    """The simulator's block manager polls its threads while holding the GIL;
    with the default 5 ms switch interval every syncthreads costs ~10 ms."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(previous)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def tol(dtype):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-5, atol=1e-6)
    return dict(rtol=1e-12, atol=1e-13)


def dev(a):
    return C.to_device(np.asarray(a))


def check(actual, expected, dtype=None, exact=False):
    """``actual`` is a device array equal to ``expected`` (to float tolerance unless exact)."""
    assert C.is_device_array(actual), type(actual)
    host = C.to_host(actual)
    expected = np.asarray(expected)
    assert host.shape == expected.shape, f"shape {host.shape} vs {expected.shape}"
    if dtype is not None:
        assert host.dtype == np.dtype(dtype), f"dtype {host.dtype}, expected {np.dtype(dtype)}"
    if exact or host.dtype.kind not in "fc":
        np.testing.assert_array_equal(host, expected.astype(host.dtype))
    else:
        np.testing.assert_allclose(host, expected.astype(host.dtype), equal_nan=True,
                                   **tol(host.dtype))


def rand(rng, shape, dtype, low=-3.0, high=3.0):
    return rng.uniform(low, high, size=shape).astype(dtype)
