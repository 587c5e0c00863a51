"""Serial and threaded builds of hand-written kernels, compiled on first use.

A kernel module defines plain functions that use ``prange`` (bound to
``range`` at module level so the module never imports numba). ``run``
compiles the serial build for small inputs and the threaded build, under
its own name and so its own disk-cache entry, from
``config.PARALLEL_THRESHOLD`` elements on (below it, starting the thread
pool costs more than it saves) while cores are free (see
:mod:`sorix.kernels.threads`).
"""
from . import threads
from .build import jit_kernel

_compiled = {}


def variant(fn, parallel):
    """The serial or threaded compiled build of ``fn``."""
    key = (fn, parallel)
    found = _compiled.get(key)
    if found is None:
        name = fn.__name__ + ("_parallel" if parallel else "")
        found = _compiled[key] = jit_kernel(fn, parallel=parallel, name=name)
    return found


def run(fn, work, *args):
    """Call ``fn(*args)``, threaded when ``work`` (an element count) is large."""
    return variant(fn, threads.use(work))(*args)
