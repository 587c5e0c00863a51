"""The namespaces a backward rule runs against have every function the rules call.

A rule is ``backward(grad, F, saved)`` with F the CPU backend, the CUDA backend or the
tensor twin; a name missing from one of them would fail only when that path first runs
(the CUDA one never runs on a machine without a GPU or the simulator). The names are
those the op modules call as ``F.name(...)``.
"""
import importlib.util
import pathlib
import re

import pytest

import sorix  # noqa: F401  (loads every op module, so every twin entry is declared)
import sorix.nn  # noqa: F401
from sorix.kernels import cpu
from sorix.ops import twin

OPS = pathlib.Path(sorix.__file__).parent / "ops"
CALLED = sorted({name for path in OPS.glob("*.py")
                 for name in re.findall(r"\bF\.([a-z_0-9]+)\(", path.read_text())})


def test_the_rules_call_something():
    assert {"binary", "reshape", "sum", "conv2d_backward"} <= set(CALLED)


@pytest.mark.parametrize("name", CALLED)
def test_cpu_backend_and_twin_have_it(name):
    assert callable(getattr(cpu, name, None)), f"sorix.kernels.cpu has no {name}"
    assert callable(getattr(twin, name, None)), f"sorix.ops.twin has no {name}"


@pytest.mark.skipif(importlib.util.find_spec("numba.cuda") is None, reason="needs numba-cuda")
@pytest.mark.parametrize("name", CALLED)
def test_cuda_backend_has_it(name):
    from sorix.kernels import cuda
    assert callable(getattr(cuda, name, None)), f"sorix.kernels.cuda has no {name}"
