"""Collectives on tensors: ``all_reduce``, ``broadcast``, ``all_gather`` (PyTorch's names).

Each works in place on CPU and CUDA tensors, blocking by default or, with
``async_op=True``, returning a :class:`Work` whose ``wait()`` completes it.
A CPU tensor's array is handed to MPI as it is (a non-contiguous one
through a contiguous copy). A CUDA tensor's device array goes to MPI
directly when the MPI is CUDA-aware, else through a host buffer (one copy
each way, counted in ``sorix.kernels.cuda.transfer_counts()``); see
:mod:`sorix.distributed.process_group` for how that is decided.
"""
import enum

import numpy as np

from ..kernels import backend, buckets as cpu_buckets
from ..tensor import Tensor
from . import process_group as pg


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values. AVG is SUM divided by the world size."""
    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


# bool arrays: MPI defines only logical operations on them (sum of bools = any)
_MPI_OPS = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
            ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX"}
_MPI_BOOL_OPS = {ReduceOp.SUM: "LOR", ReduceOp.PRODUCT: "LAND", ReduceOp.MIN: "LAND",
                 ReduceOp.MAX: "LOR"}


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` completes it and returns True."""

    def __init__(self, state, request, what, finish):
        self._state, self._request, self._what, self._finish = state, request, what, finish
        self._done = False

    def wait(self, timeout=None):
        if not self._done:
            pg.wait(self._state, self._request, self._what, timeout)
            self._done = True
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self):
        if not self._done and self._request.Test():
            self.wait()
        return self._done


def _tensor_data(tensor, what):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what} expects a sorix Tensor, got {type(tensor).__name__}")
    return tensor.data


def _check_group(group):
    if group is not None:
        raise ValueError("only the default group (group=None) exists: sorix.distributed has "
                         "no new_group")
    return pg.group()


def _is_cuda(array):
    return not isinstance(array, np.ndarray)


class _Buffer:
    """One tensor's array as MPI sees it.

    ``mpi`` is what MPI reads and writes: the array itself when it is
    contiguous (a contiguous copy otherwise) or, for a device array without a
    CUDA-aware MPI, a host buffer. ``arrive()`` brings MPI's result back from
    the host buffer, ``store()`` into a non-contiguous array.
    """

    def __init__(self, array, state, read=True):
        self.array = array
        self.staged = False
        if not _is_cuda(array):
            self.work = array
            if not array.flags.c_contiguous:
                self.work = np.ascontiguousarray(array) if read else np.empty(array.shape,
                                                                             array.dtype)
            self.mpi = self.work
            return
        C = backend.cuda()
        from ..kernels.cuda import buckets as device
        self.work = C.contiguous(array) if read else _writable_contiguous(array)
        if state.cuda_aware:
            device.synchronize()  # MPI reads the memory outside CUDA's stream order
            self.mpi = device.mpi_buffer(self.work)
        else:
            self.staged = True
            self.mpi = device.host_buffer(self.work.size, self.work.dtype)
            if read:
                device.copy_to_host(self.work, self.mpi)

    def arrive(self):
        if self.staged:
            from ..kernels.cuda import buckets as device
            device.copy_from_host(self.mpi, self.work)

    def store(self):
        if self.work is self.array:
            return
        if _is_cuda(self.array):
            backend.cuda().assign(self.array, Ellipsis, self.work)
        else:
            self.array[...] = self.work


def _writable_contiguous(array):
    C = backend.cuda()
    return array if C.is_c_contiguous(array) else C.empty(array.shape, array.dtype)


def _divide(array, divisor):
    if _is_cuda(array):
        from ..kernels.cuda import buckets as device
        device.divide(array, divisor)
    else:
        cpu_buckets.run_divide(array, divisor)


def _run(state, start, blocking, what, finish, async_op):
    """Start the collective and return its Work (``async_op``), or complete it. A blocking
    call without a timeout uses MPI's blocking collective (MPI may pick a faster algorithm
    for it than for the non-blocking one)."""
    if not async_op and state.timeout is None:
        blocking()
        if finish is not None:
            finish()
        return None
    work = Work(state, start(), what, finish)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks with ``op``, in place on every rank."""
    data = _tensor_data(tensor, "all_reduce")
    state = _check_group(group)
    if not isinstance(op, ReduceOp):
        raise ValueError(f"op must be a sorix.distributed.ReduceOp (SUM, AVG, PRODUCT, MIN, "
                         f"MAX), got {op!r}")
    kind = np.dtype(data.dtype).kind
    if op is ReduceOp.AVG and kind not in "fc":
        raise TypeError(f"ReduceOp.AVG needs a floating-point tensor, got {data.dtype}; "
                        "reduce with SUM and divide, or convert with .float()")
    if kind == "b" and op not in _MPI_BOOL_OPS:
        raise TypeError(f"ReduceOp.{op.name} is not defined for bool tensors")
    MPI = state.MPI
    mpi_op = getattr(MPI, (_MPI_BOOL_OPS if kind == "b" else _MPI_OPS)[op])
    buffer = _Buffer(data, state)

    def finish():
        buffer.arrive()
        if op is ReduceOp.AVG:
            _divide(buffer.work, state.size)
        buffer.store()
        tensor._version[0] += 1

    comm = state.comm
    return _run(state, lambda: comm.Iallreduce(MPI.IN_PLACE, buffer.mpi, mpi_op),
                lambda: comm.Allreduce(MPI.IN_PLACE, buffer.mpi, mpi_op),
                "all_reduce", finish, async_op)


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    data = _tensor_data(tensor, "broadcast")
    state = _check_group(group)
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) \
            or not 0 <= src < state.size:
        raise ValueError(f"src must be a rank in [0, {state.size - 1}], got {src!r}")
    root = state.rank == src
    buffer = _Buffer(data, state, read=root)

    def finish():
        if not root:
            buffer.arrive()
            buffer.store()
            tensor._version[0] += 1

    comm = state.comm
    return _run(state, lambda: comm.Ibcast(buffer.mpi, root=int(src)),
                lambda: comm.Bcast(buffer.mpi, root=int(src)), "broadcast", finish, async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Fill ``tensor_list[r]`` with rank r's ``tensor``, on every rank."""
    data = _tensor_data(tensor, "all_gather")
    state = _check_group(group)
    if not isinstance(tensor_list, (list, tuple)):
        raise TypeError(f"tensor_list must be a list of world_size={state.size} tensors, got "
                        f"{type(tensor_list).__name__}")
    if len(tensor_list) != state.size:
        raise ValueError(f"tensor_list must be a list of world_size={state.size} tensors, got "
                         f"{len(tensor_list)}")
    for i, t in enumerate(tensor_list):
        out = _tensor_data(t, "all_gather")
        if tuple(out.shape) != tuple(data.shape) or out.dtype != data.dtype \
                or _is_cuda(out) != _is_cuda(data):
            raise ValueError(f"tensor_list[{i}] has shape {tuple(out.shape)}, dtype {out.dtype} "
                             f"on {t.device}; every entry must match the input: shape "
                             f"{tuple(data.shape)}, dtype {data.dtype} on {tensor.device}")
    send = _Buffer(data, state)
    gathered = _gather_buffer(data, state)

    def finish():
        n = data.size
        for r, t in enumerate(tensor_list):
            _write_slice(gathered, r * n, t.data, state)
            t._version[0] += 1

    comm = state.comm
    return _run(state, lambda: comm.Iallgather(send.mpi, gathered[1]),
                lambda: comm.Allgather(send.mpi, gathered[1]), "all_gather", finish, async_op)


def _gather_buffer(data, state):
    """(array, what MPI writes) for world_size copies of ``data``, flat."""
    total = state.size * data.size
    if not _is_cuda(data):
        out = np.empty(total, data.dtype)
        return out, out
    from ..kernels.cuda import buckets as device
    if state.cuda_aware:
        out = backend.cuda().empty((total,), data.dtype)
        device.synchronize()
        return out, device.mpi_buffer(out)
    host = device.host_buffer(total, data.dtype)
    return host, host


def _write_slice(gathered, offset, target, state):
    """target[...] = the gathered flat values from ``offset`` on."""
    source = gathered[0]
    n = target.size
    if not _is_cuda(target):
        target[...] = source[offset:offset + n].reshape(target.shape)
        return
    from ..kernels.cuda import buckets as device
    C = backend.cuda()
    destination = _writable_contiguous(target)
    if _is_cuda(source):
        device.unpack(source, offset, destination)
    else:
        device.copy_from_host(source[offset:offset + n], destination)
    if destination is not target:
        C.assign(target, Ellipsis, destination)
