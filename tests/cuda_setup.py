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
        _lock_shared_array_allocation()
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
    _lock_shared_array_allocation()
    return cuda


def _lock_shared_array_allocation():
    """Make the simulator's ``cuda.shared.array`` safe to call from a block's threads at once.

    The simulator gives a block one array per source line, made on the first
    call: a check-then-insert on a dict without a lock. Two threads can both
    find no array and each make its own, so the block's threads no longer
    share memory and a reduction comes out wrong, rarely and at random (more
    often with the short thread switch interval these tests use).
    """
    import threading
    import traceback

    from numba.core import types
    from numba.cuda.simulator.kernelapi import FakeCUDAShared
    from numba.np import numpy_support

    if getattr(FakeCUDAShared.array, "sorix_locked", False):
        return
    original = FakeCUDAShared.array
    lock = threading.Lock()

    def array(self, shape, dtype, alignment=None):
        if alignment is not None or shape == 0:
            return original(self, shape, dtype, alignment)
        if isinstance(dtype, types.Type):
            dtype = numpy_support.as_dtype(dtype)
        # the kernel's line, as the original keys it (one frame up from here)
        caller = tuple(traceback.extract_stack(sys._getframe(1), limit=1)[-1])[0:2]
        with lock:
            found = self._allocations.get(caller)
            if found is None:
                found = self._allocations[caller] = np.empty(shape, dtype)
        return found

    array.sorix_locked = True
    FakeCUDAShared.array = array


def _simulated(cuda):
    return cuda.jit.__module__.startswith("numba.cuda.simulator")


# ---- shared by the tests/test_cuda_*.py modules ----------------------------------------------

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


# ---- the device arrays sorix code may rely on --------------------------------------------

#: Attributes numba's DeviceNDArray has that the simulator's FakeCUDAArray forwards to the
#: NumPy array it wraps. The simulator forwards *every* name (sum, astype, __array__ ...),
#: and defines arithmetic and comparisons, none of which a real device array has.
_DEVICE_ATTRIBUTES = frozenset({"strides", "dtype", "ndim", "size", "flags", "squeeze"})
_REFUSED_OPERATORS = ("__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__", "__mod__",
                      "__pow__", "__lt__", "__le__", "__gt__", "__ge__", "__array__")
_MISSING = object()


def _refuse(name):
    def method(self, *args, **kwargs):
        raise TypeError(f"a CUDA device array has no {name}: sorix must go through "
                        "sorix.kernels.cuda (the simulator's array would fall back to NumPy)")
    return method


@pytest.fixture(autouse=True, scope="module")
def device_api_only():
    """While a module using it runs, the simulator's device arrays answer only to what a
    real GPU's DeviceNDArray offers, so a NumPy call on ``.data`` that would fail (or copy
    to the host unseen) on a GPU fails here too. (Import it into a test module to use it.)"""
    if WANT_GPU:
        yield
        return
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
    names = _REFUSED_OPERATORS + ("__getattr__", "__eq__", "__ne__", "__hash__")
    saved = {name: FakeCUDAArray.__dict__.get(name, _MISSING) for name in names}
    forward = FakeCUDAArray.__getattr__

    def restricted(self, name):
        if name not in _DEVICE_ATTRIBUTES:
            raise AttributeError(f"a CUDA device array has no attribute {name!r}")
        return forward(self, name)

    FakeCUDAArray.__getattr__ = restricted
    for name in _REFUSED_OPERATORS:
        setattr(FakeCUDAArray, name, _refuse(name))
    FakeCUDAArray.__eq__, FakeCUDAArray.__ne__ = object.__eq__, object.__ne__
    FakeCUDAArray.__hash__ = object.__hash__
    yield
    for name, value in saved.items():
        if value is _MISSING:
            delattr(FakeCUDAArray, name)
        else:
            setattr(FakeCUDAArray, name, value)


# ---- CPU/GPU parity of tensor code ---------------------------------------------------------

def tensor_tol(dtype):
    if np.dtype(dtype) == np.float32:
        return dict(rtol=1e-5, atol=1e-6)
    return dict(rtol=1e-10, atol=1e-12)


def host(t):
    """A tensor's values as a NumPy array (a copy from the device)."""
    return t.detach().cpu().numpy()


def assert_same(cpu_tensor, cuda_tensor, what="values"):
    """A CUDA tensor equal to its CPU counterpart: device, dtype, shape and values."""
    import sorix
    assert cpu_tensor.device == sorix.device("cpu"), what
    assert cuda_tensor.device == sorix.device("cuda:0"), f"{what}: on {cuda_tensor.device}"
    assert cuda_tensor.dtype == cpu_tensor.dtype, f"{what}: {cuda_tensor.dtype} vs {cpu_tensor.dtype}"
    expected, actual = host(cpu_tensor), host(cuda_tensor)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    if expected.dtype.kind == "f":
        np.testing.assert_allclose(actual, expected, equal_nan=True, err_msg=what,
                                   **tensor_tol(expected.dtype))
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def on_both(fn, *arrays, grad=True, seed=0):
    """Run ``fn`` on tensors made from ``arrays`` on the CPU and on the GPU, backpropagate
    the same random upstream gradient through each result, and check that values and
    every input's gradient agree. Returns the two results."""
    import sorix
    results = {}
    for device in ("cpu", "cuda"):
        inputs = [sorix.tensor(a, device=device,
                               requires_grad=grad and np.asarray(a).dtype.kind == "f")
                  for a in arrays]
        out = fn(*inputs)
        if grad and out.requires_grad:
            upstream = np.random.default_rng(seed).uniform(0.5, 1.5, out.shape)
            out.backward(sorix.tensor(upstream.astype(out.dtype.name), device=device))
        results[device] = out, inputs
    (cpu_out, cpu_inputs), (cuda_out, cuda_inputs) = results["cpu"], results["cuda"]
    assert_same(cpu_out, cuda_out)
    for i, (a, b) in enumerate(zip(cpu_inputs, cuda_inputs)):
        assert (a.grad is None) == (b.grad is None), f"gradient of input {i}"
        if a.grad is not None:
            assert_same(a.grad, b.grad, f"gradient of input {i}")
    return cpu_out, cuda_out
