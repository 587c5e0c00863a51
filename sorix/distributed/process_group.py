"""The default process group: every process started by ``mpiexec``/``srun``, over MPI.

mpi4py is imported by the first :func:`init_process_group`, never by
``import sorix``. The group works on its own duplicate of ``COMM_WORLD``, so
its collectives never match messages of a user's own mpi4py calls.

A failing rank must not leave the others waiting in a collective forever.
Two mechanisms, documented for users:

- an uncaught exception on any rank, while a group is initialized, prints
  its traceback and then calls ``MPI_Abort``, which ends every rank
  (``SORIX_MPI_ABORT_ON_ERROR=0`` turns this off);
- ``init_process_group(timeout=...)`` (seconds or a ``timedelta``) makes
  every wait give up after that long with a RuntimeError (which, uncaught,
  aborts as above). Without it, waits block until the collective completes.

Ranks started on one machine share its cores. Unless a thread count was
set (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` or
``NUMBA_NUM_THREADS``), ``init_process_group`` gives each rank its share:
the cores this process may run on divided by the ranks on the machine (or
all of them when the launcher already bound each rank to its own cores),
for numba's threaded kernels and, through threadpoolctl when it is
installed, for NumPy's BLAS. Without that, every rank would start one
thread per core and they would slow each other down many times over.

CUDA tensors go to MPI directly when the MPI library can read device
memory ("CUDA-aware"), else through host memory. :func:`cuda_aware` decides,
in this order: the environment variable ``SORIX_MPI_CUDA_AWARE`` (``1`` or
``0``) when set; the MPI 4.1 memory-kinds info key ``mpi_memory_alloc_kinds``
when it lists ``cuda``; the library's ``MPIX_Query_cuda_support()`` (Open
MPI, MPICH) when it has one; otherwise staged through the host.
"""
import datetime
import importlib.util
import os
import sys
import time

INSTALL_HINT = ("pip install mpi4py mpich (or pip install 'sorix[distributed]' with an MPI "
                "library installed); on a cluster, build mpi4py against the cluster's MPI: "
                "pip install --no-binary mpi4py mpi4py")

BACKENDS = ("mpi",)
#: seconds a failing rank waits, its output flushed, before it aborts the job
ABORT_GRACE_S = 0.5


class _Group:
    """The state of the initialized default group."""

    def __init__(self, MPI, comm, timeout, cuda_aware):
        self.MPI = MPI
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.timeout = timeout  # seconds, or None
        self.cuda_aware = cuda_aware
        self.previous_excepthook = None


_group = None


def mpi():
    """mpi4py's MPI module, imported (and MPI initialized) on first call."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(f"sorix.distributed needs mpi4py and an MPI library: {INSTALL_HINT}"
                          ) from exc
    return MPI


def is_available():
    """Whether mpi4py can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("mpi4py") is not None
    except (ImportError, ValueError):
        return False


def is_initialized():
    return _group is not None


def group():
    """The initialized group, or the error PyTorch raises when there is none."""
    if _group is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return _group


def _seconds(timeout):
    if timeout is None:
        return None
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds or a timedelta, "
                         f"got {timeout!r}")
    return float(timeout)


def init_process_group(backend="mpi", init_method=None, timeout=None, world_size=-1, rank=-1):
    """Join the processes started by the MPI launcher into the default group.

    ``backend`` must be ``"mpi"`` (the only one). Rank and world size come
    from MPI; ``world_size``/``rank``, when given, must agree with it. A second
    call while initialized does nothing.
    """
    global _group
    if backend is None:
        backend = "mpi"
    if not isinstance(backend, str) or backend.lower() not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not supported: sorix.distributed runs over "
                         "MPI only; use init_process_group(backend='mpi') and start the "
                         "processes with mpiexec or srun")
    if init_method not in (None, "env://"):
        raise ValueError(f"init_method {init_method!r} is not used with the MPI backend: the "
                         "launcher (mpiexec, srun) connects the processes; leave it None")
    seconds = _seconds(timeout)
    if _group is not None:
        return
    MPI = mpi()
    world = MPI.COMM_WORLD
    if world_size not in (-1, None) and int(world_size) != world.Get_size():
        raise ValueError(f"world_size={world_size} but MPI started {world.Get_size()} "
                         "processes; leave world_size=-1 or launch that many")
    if rank not in (-1, None) and int(rank) != world.Get_rank():
        raise ValueError(f"rank={rank} but MPI gave this process rank {world.Get_rank()}; "
                         "leave rank=-1")
    state = _Group(MPI, world.Dup(), seconds, None)
    state.cuda_aware = cuda_aware_from(MPI, world)
    _share_cores(MPI, state.comm)
    _install_abort_hook(state)
    _group = state


def destroy_process_group():
    """Leave the default group (MPI itself stays initialized until the process exits)."""
    global _group
    state, _group = _group, None
    if state is None:
        return
    if state.previous_excepthook is not None and sys.excepthook is _abort_on_uncaught:
        sys.excepthook = state.previous_excepthook
    state.comm.Free()


def get_rank():
    return group().rank


def get_world_size():
    return group().size


def barrier():
    """Wait until every rank of the group has reached this call."""
    state = group()
    wait(state, state.comm.Ibarrier(), "barrier")


def wait(state, request, what, timeout=None):
    """Wait for an MPI request, giving up after ``timeout`` (default: the group's) when set."""
    seconds = _seconds(timeout) if timeout is not None else state.timeout
    if seconds is None:
        request.Wait()
        return
    deadline = time.monotonic() + seconds
    pause = 1e-5
    while not request.Test():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"sorix.distributed: {what} on rank {state.rank} of {state.size} did not complete "
                f"within {seconds:g} s: another rank failed, hangs or never reached it")
        time.sleep(pause)
        pause = min(pause * 2, 1e-3)


# ---- threads per rank ----------------------------------------------------------------

THREAD_SETTINGS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                   "NUMBA_NUM_THREADS")


def threads_per_rank(available, machine_cores, ranks_here):
    """The threads one rank should use: its share of the cores when every rank may run on
    all of them, else the cores it was given (a launcher that binds ranks)."""
    if ranks_here > 1 and available >= machine_cores:
        return max(1, available // ranks_here)
    return max(1, available)


def _share_cores(MPI, comm):
    if any(os.environ.get(name) for name in THREAD_SETTINGS):
        return  # the user chose
    here = comm.Split_type(MPI.COMM_TYPE_SHARED)
    ranks_here = here.Get_size()
    here.Free()
    if ranks_here == 1:
        return
    machine_cores = os.cpu_count() or 1
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else machine_cores
    threads = threads_per_rank(available, machine_cores, ranks_here)
    import numba
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        import threadpoolctl
    except ImportError:
        import warnings
        warnings.warn(f"sorix.distributed: {ranks_here} ranks share this machine; set "
                      f"OMP_NUM_THREADS={threads} before starting them (or pip install "
                      "threadpoolctl) so that NumPy's BLAS threads do not compete",
                      RuntimeWarning, stacklevel=3)
        return
    threadpoolctl.threadpool_limits(limits=threads, user_api="blas")


# ---- CUDA-aware MPI ------------------------------------------------------------------

def cuda_aware_from(MPI, comm):
    """Whether this MPI reads device memory directly (see the module docstring)."""
    setting = os.environ.get("SORIX_MPI_CUDA_AWARE", "").strip()
    if setting:
        if setting not in ("0", "1"):
            raise ValueError(f"SORIX_MPI_CUDA_AWARE={setting!r}: set it to 1 (the MPI reads "
                             "device memory) or 0 (stage CUDA tensors through the host)")
        return setting == "1"
    kinds = ""
    try:
        info = comm.Get_info()
        try:
            kinds = info.Get("mpi_memory_alloc_kinds") or ""
        finally:
            info.Free()
    except Exception:  # an MPI older than 4.1 or without the key: ask the library below
        pass
    if any(kind.strip().startswith("cuda") for kind in kinds.split(",")):
        return True
    return _mpix_query_cuda_support(MPI)


def _mpix_query_cuda_support(MPI):
    import ctypes
    try:
        library = ctypes.CDLL(MPI.__file__)  # its symbols include libmpi's
        query = library.MPIX_Query_cuda_support
    except (OSError, AttributeError):
        return False
    query.restype = ctypes.c_int
    query.argtypes = []
    return bool(query())


def cuda_aware():
    """Whether the group sends CUDA tensors directly (True) or through the host (False)."""
    return group().cuda_aware


# ---- aborting every rank when one fails -------------------------------------------------

def _abort_on_uncaught(kind, value, traceback):
    state = _group
    previous = state.previous_excepthook if state is not None else sys.__excepthook__
    previous(kind, value, traceback)
    if state is None:
        return
    sys.stderr.write(f"sorix.distributed: rank {state.rank} of {state.size} raised an uncaught "
                     f"{kind.__name__}; calling MPI_Abort so that the other ranks do not wait "
                     "for it (SORIX_MPI_ABORT_ON_ERROR=0 turns this off)\n")
    sys.stderr.flush()
    sys.stdout.flush()
    # MPI_Abort tears the job down at once, and the launcher drops what it has not yet
    # forwarded from this rank's pipes: without a pause the traceback above can be lost
    # (seen with MPICH's launcher on a loaded machine), and it is the one thing to read.
    time.sleep(ABORT_GRACE_S)
    state.MPI.COMM_WORLD.Abort(1)


def _install_abort_hook(state):
    if os.environ.get("SORIX_MPI_ABORT_ON_ERROR", "1").strip() == "0":
        return
    if sys.excepthook is not _abort_on_uncaught:
        state.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_uncaught
