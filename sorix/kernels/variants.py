"""Serial and threaded builds of hand-written kernels, compiled on first use.

A kernel module defines plain functions that use ``prange`` (bound to
``range`` at module level so the module never imports numba). ``run``
compiles the serial build for small inputs and the threaded build, under
its own name and so its own disk-cache entry, from
``config.PARALLEL_THRESHOLD`` elements on (below it, starting the thread
pool costs more than it saves) while cores are free (see
:mod:`sorix.kernels.threads`).

float16 arrays are computed in float32 and stored back in float16
(:func:`call_widened`): numba has no float16 arithmetic on the CPU.
"""
import threading

import numpy as np

from .. import config
from . import registry, threads
from .build import jit_kernel

_compiled = registry.cache("cpu variants")
_reassociating = set()
_register_lock = threading.Lock()


def variant(fn, parallel):
    """The serial or threaded compiled build of ``fn``."""
    key = (fn, parallel)
    found = _compiled.get(key)
    if found is None:
        register_reassociating(fn.__globals__)
        name = fn.__name__ + ("_parallel" if parallel else "")
        found = _compiled[key] = jit_kernel(fn, parallel=parallel, name=name)
    return found


def run(fn, work, *args, threshold=None):
    """Call ``fn(*args)``, threaded when ``work`` (an element count) reaches ``threshold``
    (default ``config.PARALLEL_THRESHOLD``) and cores are free.
    The first argument's dtype decides: float16 runs widened (:func:`call_widened`)."""
    kernel = variant(fn, threads.use(work, threshold))
    if args[0].dtype.char == "e":
        return call_widened(kernel, args)
    return kernel(*args)


def call_widened(kernel, args):
    """``kernel(*args)`` with float16 arrays and scalars passed as float32 copies; the
    arrays the kernel changed are written back, rounded to float16."""
    wide, written = [], []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype == np.float16:
            copy = a.astype(np.float32)
            wide.append(copy)
            written.append((a, copy))
        elif isinstance(a, np.float16):
            wide.append(np.float32(a))
        else:
            wide.append(a)
    result = kernel(*wide)
    for original, copy in written:
        # (only what changed: an input may be a read-only view)
        if not np.array_equal(original.astype(np.float32), copy, equal_nan=True):
            original[...] = copy
    return result


def register_reassociating(module_globals):
    """Make the helpers a kernel module lists in ``REASSOCIATE`` callable from its kernels,
    compiled with ``config.REASSOCIATE_OPTIONS``: sums whose order does not matter to
    the result's accuracy (float64 row sums), which LLVM then vectorises.

    The helper stays a plain function (what the module's own Python code calls);
    numba compiles it with these options wherever a kernel calls it.
    """
    names = module_globals.get("REASSOCIATE", ())
    if not names:
        return
    from numba.extending import register_jitable
    with _register_lock:
        for name in names:
            helper = module_globals[name]
            if helper not in _reassociating:
                register_jitable(**config.REASSOCIATE_OPTIONS)(helper)
                _reassociating.add(helper)
