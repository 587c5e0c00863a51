"""When a kernel runs on threads, on how many, and never two launches at once where
numba's thread pool cannot take them.

A threaded kernel ends when its slowest thread ends. On a machine whose
cores are busy with other processes, a thread that shares its core with a
busy neighbour finishes late (and may first wait a whole scheduler slice
to start), so the threaded kernel takes many times the serial one. So
:func:`use` decides per call: serial below ``config.PARALLEL_THRESHOLD``
elements; above it, threaded on as many threads as there are free cores,
and serial when fewer than two are free. Free cores are counted from the
machine's CPU time (``/proc/stat`` on Linux, the load average elsewhere)
minus this process's own, sampled at most once per
``config.LOAD_CHECK_INTERVAL`` seconds: one read of a small file, on calls
that take a tenth of a millisecond or more anyway.

numba's ``workqueue`` threading layer (its fallback when neither TBB nor
OpenMP is installed) aborts the interpreter when two Python threads launch
threaded kernels at once. numba picks a thread-safe layer first when one is
installed; when the layer in use is ``workqueue`` (or not known yet: it is
chosen at the first threaded launch), :class:`Threaded` kernels take a lock,
so launches from several threads run one after another.

Results do not depend on the choice: elementwise kernels compute each
element alike either way, and the loss sums add fixed-size blocks in a fixed
order (:mod:`sorix.kernels.losses`).
"""
import math
import os
import threading
import time

from .. import config

_SAFE_LAYERS = ("tbb", "omp")

_launch_lock = threading.Lock()
#: Whether threaded launches must take the lock: True until the layer is known safe.
_serialise = True
_layer_known = False

_sample_lock = threading.Lock()
_next_sample = 0.0
_last = None  # (wall time, machine busy seconds, own CPU seconds) at the last sample
#: Threads to use for threaded kernels: 0 means numba's setting (all), 1 means serial.
_threads = 0
#: When sorix last called the BLAS library (time.monotonic()).
_last_blas = -math.inf


# ---- the threading layer ----------------------------------------------------------

def _configured_layer_is_safe():
    """True when numba's configuration allows only thread-safe layers."""
    from numba.core import config as numba_config
    layer = str(getattr(numba_config, "THREADING_LAYER", "default")).lower()
    return layer in _SAFE_LAYERS or layer in ("safe", "threadsafe")


def _learn_layer():
    """After a threaded launch: numba has chosen its layer; stop locking if it is safe."""
    global _serialise, _layer_known
    import numba
    try:
        layer = numba.threading_layer()
    except ValueError:  # no threaded launch has completed yet
        return
    _serialise = layer not in _SAFE_LAYERS
    _layer_known = True


def layer_is_serialised():
    """Whether threaded launches from several Python threads run one at a time."""
    return _serialise


class Threaded:
    """A threaded numba kernel, called like it, that keeps the rules above:
    the lock where the threading layer needs it, and the thread count of the
    last load sample (restored afterwards: the user's own threaded functions
    keep numba's setting)."""

    __slots__ = ("dispatcher",)

    def __init__(self, dispatcher):
        self.dispatcher = dispatcher

    def __getattr__(self, name):  # stats, py_func, signatures ...: the dispatcher's
        return getattr(self.dispatcher, name)

    def __call__(self, *args):
        if _serialise:
            with _launch_lock:
                result = self._launch(args)
                if not _layer_known:
                    _learn_layer()
            return result
        return self._launch(args)

    def _launch(self, args):
        wanted = _threads
        if wanted < 2:
            return self.dispatcher(*args)
        import numba
        before = numba.get_num_threads()
        if wanted >= before:
            return self.dispatcher(*args)
        numba.set_num_threads(wanted)
        try:
            return self.dispatcher(*args)
        finally:
            numba.set_num_threads(before)


def threaded(dispatcher):
    """``dispatcher`` (compiled with ``parallel=True``) wrapped as :class:`Threaded`."""
    global _serialise, _layer_known
    if not _layer_known and _configured_layer_is_safe():
        _serialise, _layer_known = False, True
    return Threaded(dispatcher)


# ---- how busy the machine is -------------------------------------------------------

def _cpus():
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def _busy_seconds(cpus):
    """CPU seconds the machine's cores in ``cpus`` have spent busy since boot (Linux),
    or None where /proc/stat cannot be read."""
    try:
        with open("/proc/stat", "rb") as f:
            text = f.read().decode("ascii", "replace")
    except OSError:
        return None
    wanted = {f"cpu{c}" for c in cpus}
    busy = 0
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in wanted:
            ticks = [int(v) for v in fields[1:9]]  # user nice system idle iowait irq softirq steal
            busy += sum(ticks) - ticks[3] - ticks[4]
    return busy / _CLOCK_TICKS


try:
    _CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):
    _CLOCK_TICKS = 100


def free_cores(window_busy, window_own, wall, ncpu):
    """Cores left for this process: ``ncpu`` minus the other processes' use over a window
    of ``wall`` seconds (machine busy seconds minus this process's own), rounded down
    after crediting each core ``1 - config.FREE_CORE_IDLE`` of slack."""
    others = max(0.0, (window_busy - window_own) / wall) if wall > 0 else 0.0
    return int(math.floor(ncpu - others + 1.0 - config.FREE_CORE_IDLE + 1e-9))


def _sample(now):
    """Update ``_threads`` from the CPU time spent since the last sample."""
    global _last, _threads, _next_sample
    cpus = _cpus()
    busy = _busy_seconds(cpus)
    own = time.process_time()
    previous, _last = _last, (now, busy, own)
    _next_sample = now + config.LOAD_CHECK_INTERVAL
    if busy is None:  # no /proc/stat: the load average (which counts our own threads too)
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return
        if previous is None:
            return
        own_rate = (own - previous[2]) / max(now - previous[0], 1e-9)
        _threads = _count(int(math.floor(len(cpus) - max(0.0, load - own_rate)
                                         + 1.0 - config.FREE_CORE_IDLE + 1e-9)))
        return
    if previous is None or previous[1] is None:
        return
    _threads = _count(free_cores(busy - previous[1], own - previous[2], now - previous[0],
                                 len(cpus)))


def _count(free):
    """Thread count for ``free`` free cores: 1 (serial) below two, 0 (all) when every core is."""
    import numba
    limit = numba.config.NUMBA_NUM_THREADS
    if free <= 1:
        return 1
    return 0 if free >= limit else free


def blas_called(m, n, k):
    """Note a call into NumPy's BLAS: an (m, k) by (k, n) product. A product large
    enough for BLAS to run on threads (``config.BLAS_THREADED_WORK`` multiply-adds)
    leaves its worker threads spinning on the other cores for a while after it returns
    (OpenBLAS: about 0.1 s), and a threaded kernel started meanwhile waits for threads
    that share those cores. So kernels run serially for ``config.BLAS_SPIN_SECONDS``
    after one: a training step of an MLP on 2 cores took 5 times longer with threaded
    kernels between its matmuls."""
    global _last_blas
    if m * n * k > config.BLAS_THREADED_WORK:
        _last_blas = time.monotonic()


def use(n, threshold=None):
    """Whether a kernel over ``n`` elements should run threaded now: from ``threshold``
    elements (default ``config.PARALLEL_THRESHOLD``) while cores are free."""
    if n < (config.PARALLEL_THRESHOLD if threshold is None else threshold):
        return False
    if config.LOAD_CHECK_INTERVAL <= 0:
        return True
    now = time.monotonic()
    if now - _last_blas < config.BLAS_SPIN_SECONDS:
        return False
    if now >= _next_sample and _sample_lock.acquire(blocking=False):
        try:
            _sample(now)
        finally:
            _sample_lock.release()
    return _threads != 1
