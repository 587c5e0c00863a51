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
import time

import numpy as np

from .. import config
from . import registry, threads
from .build import is_typed, jit_kernel

_compiled = registry.cache("cpu variants")
_reassociating = set()
_register_lock = threading.Lock()


def variant(fn, parallel, dtype=None):
    """The serial or threaded compiled build of ``fn`` (for ``dtype``, where ``fn``'s
    module is compiled per dtype: see :func:`sorix.kernels.build.jit_kernel`)."""
    typed = is_typed(fn)
    key = (fn, parallel, np.dtype(dtype)) if typed else (fn, parallel)
    found = _compiled.get(key)
    if found is None:
        if not typed:
            register_reassociating(fn.__globals__)
        name = fn.__name__ + ("_parallel" if parallel else "")
        found = _compiled[key] = jit_kernel(fn, parallel=parallel, name=name,
                                            dtype=key[2] if typed else None)
    return found


def _variant_for(fn, parallel, args):
    """:func:`variant` for a call with ``args``: the first argument's dtype decides
    (float16 runs as float32, see :func:`call_widened`)."""
    if not is_typed(fn):
        return variant(fn, parallel)
    dtype = args[0].dtype
    return variant(fn, parallel, np.float32 if dtype == np.float16 else dtype)


def run(fn, work, *args, threshold=None):
    """Call ``fn(*args)``, threaded when ``work`` (an element count) reaches ``threshold``
    (default ``config.PARALLEL_THRESHOLD``) and cores are free.
    The first argument's dtype decides: float16 runs widened (:func:`call_widened`)."""
    return _call(_variant_for(fn, threads.use(work, threshold), args), args)


#: Timed calls of each build before :func:`run_measured` settles on one for a size.
MEASURED_CALLS = 3
#: Calls at a size class after which :func:`run_measured` times the builds again (the
#: load on the machine, which can decide the race, may have changed since).
REMEASURE_AFTER = 5000
#: (kernel, size class) -> (True (threaded) or False (serial), calls left before measuring
#: again), once measured
_measured = {}
#: (kernel, size class) -> ([serial seconds], [threaded seconds]) while measuring
_trials = {}
_clock = time.perf_counter


def run_measured(fn, work, *args, threshold=None):
    """:func:`run`, for kernels called again and again at the same sizes (an optimizer's
    update of each parameter) whose results do not depend on the build: where threads
    would be used, the first calls at each size class (sizes within a factor of two)
    run the serial and threaded builds in turn, and once each has been timed
    ``MEASURED_CALLS`` times (after one untimed call each, which may compile) the
    faster by its best time runs for the next ``REMEASURE_AFTER`` calls, after which
    the builds are timed again (a busy neighbour during the first calls does not fix
    the choice for good).

    Which build wins depends on the machine: the threaded Adam update at 1e6 float32
    took 0.50 ms against the serial 0.93 ms on one 2-core machine, and lost to the
    serial 0.22 ms on another, so no threshold holds for both. With
    ``config.LOAD_CHECK_INTERVAL`` at 0 (threads forced on, as tests do) nothing is
    measured and the threaded build runs."""
    if not threads.use(work, threshold):
        return _call(_variant_for(fn, False, args), args)
    if config.LOAD_CHECK_INTERVAL <= 0:
        return _call(_variant_for(fn, True, args), args)
    key = (fn, work.bit_length())
    found = _measured.get(key)
    if found is not None:
        chosen, left = found
        if left > 0:
            _measured[key] = (chosen, left - 1)
            if not chosen:
                ran_serial_by_measurement()
            return _call(_variant_for(fn, chosen, args), args)
        _measured.pop(key, None)  # time both builds again (another thread may have dropped it)
    times = _trials.setdefault(key, ([], []))
    parallel = len(times[1]) < len(times[0])  # serial first, then in turn
    if not parallel:
        ran_serial_by_measurement()
    kernel = _variant_for(fn, parallel, args)
    start = _clock()
    result = _call(kernel, args)
    times[parallel].append(_clock() - start)
    if len(times[1]) > MEASURED_CALLS:  # (the first call of each build is not counted)
        _measured[key] = (min(times[1][1:]) < min(times[0][1:]), REMEASURE_AFTER)
        _trials.pop(key, None)
    return result


def ran_serial_by_measurement():
    """Called when :func:`run_measured` runs the serial build where threads were allowed
    (a hook for benchmarks that count threaded launches; it does nothing)."""


def _call(kernel, args):
    if args[0].dtype.char == "e":
        return call_widened(kernel, args)
    return kernel(*args)


def measured_choices():
    """``{(kernel name, size class): 'threaded' or 'serial'}`` for the builds
    :func:`run_measured` has settled on in this process (size class b: 2**(b-1) to
    2**b - 1 elements)."""
    return {(fn.__name__, bits): "threaded" if parallel else "serial"
            for (fn, bits), (parallel, _) in list(_measured.items())}


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
