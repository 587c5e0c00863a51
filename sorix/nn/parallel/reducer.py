"""Averaging gradients over the ranks while backward runs, in buckets.

Parameters are assigned to buckets once, in reverse registration order
(roughly the order backward finishes them), up to ``bucket_cap_mb`` each,
one dtype and device per bucket. During a backward, each parameter's
post-accumulate hook copies its final gradient into its bucket's flat
array (a kernel); when every parameter of a bucket is in, the bucket is
summed over the ranks with a non-blocking ``Iallreduce``, while backward
goes on with the layers below. Buckets are started in index order on every
rank, as MPI requires of collectives, whatever order the hooks came in. A
callback queued on the first hook runs when backward has finished: it
starts any bucket still waiting (a parameter that got no gradient on this
rank contributes zeros), waits for all of them and writes each average
back into its gradient (one kernel pass: sum / world size).

A parameter without a gradient on any rank gets a zero gradient, so that
every rank's parameters stay identical.
"""
import time

import numpy as np

from ...autograd import hooks
from ...kernels import backend, buckets as cpu_buckets
from ...tensor import Tensor


class _Bucket:
    __slots__ = ("params", "offsets", "size", "dtype", "on_device", "flat", "host", "request",
                 "ready", "pending")

    def __init__(self, dtype, on_device):
        self.params, self.offsets = [], []
        self.size = 0
        self.dtype, self.on_device = dtype, on_device
        self.flat = self.host = self.request = None
        self.ready = []
        self.pending = 0

    def add(self, param):
        self.params.append(param)
        self.offsets.append(self.size)
        self.size += param.data.size
        self.ready.append(False)


def _key(param):
    data = param.data
    return np.dtype(data.dtype), not isinstance(data, np.ndarray)


#: The first bucket holds the last layers, whose gradients are ready first: kept small (as
#: PyTorch does) so that the exchange starts early in backward.
FIRST_BUCKET_BYTES = 1024 * 1024


def assign_buckets(params, cap_bytes):
    """Buckets of at most ``cap_bytes`` (the first at most FIRST_BUCKET_BYTES; one parameter
    may exceed a cap alone), in reverse order of ``params``, each of one dtype on one device."""
    buckets, open_by_key = [], {}
    for param in reversed(params):
        key = _key(param)
        bucket = open_by_key.get(key)
        nbytes = param.data.size * key[0].itemsize
        cap = min(cap_bytes, FIRST_BUCKET_BYTES) if bucket is not None and bucket is buckets[0] \
            else cap_bytes
        if bucket is None or (bucket.params and bucket.size * key[0].itemsize + nbytes > cap):
            bucket = open_by_key[key] = _Bucket(*key)
            buckets.append(bucket)
        bucket.add(param)
    return buckets


class Reducer:
    """Runs the bucketed gradient averaging for one DistributedDataParallel."""

    def __init__(self, params, state, bucket_cap_mb):
        self.params = params
        self.state = state
        self.cap_bytes = max(1, int(bucket_cap_mb * 1024 * 1024))
        self.buckets = assign_buckets(params, self.cap_bytes)
        self.enabled = True     # False inside no_sync()
        self.in_pass = False    # a synced backward is under way
        self.next_bucket = 0    # the next bucket to start, in index order
        self.wait_seconds = 0.0  # time spent waiting for buckets, summed over passes
        self.where = {}
        self._index()
        self.handles = [p.register_post_accumulate_grad_hook(self.ready) for p in params]

    def _index(self):
        self.where = {id(p): (b, i) for b in self.buckets for i, p in enumerate(b.params)}

    def remove_hooks(self):
        for handle in self.handles:
            handle.remove()
        self.handles = []

    def check_idle(self):
        if self.in_pass:
            raise RuntimeError("the previous backward stopped before its gradients were "
                               "averaged (it raised): the ranks are out of step; restart the job")

    # ---- during backward ---------------------------------------------------------------
    def _start_pass(self):
        if any(_key(p) != (b.dtype, b.on_device) for b in self.buckets for p in b.params):
            self.buckets = assign_buckets(self.params, self.cap_bytes)  # moved or cast
            self._index()
        for b in self.buckets:
            b.pending = len(b.params)
            b.ready = [False] * len(b.params)
            b.request = None
        self.next_bucket = 0
        self.in_pass = True
        hooks.queue_callback(self.finish)

    def ready(self, param):
        """The post-accumulate hook: ``param.grad`` is final for this backward."""
        if not self.enabled:
            return
        if not self.in_pass:
            self._start_pass()
        bucket, i = self.where[id(param)]
        if bucket.ready[i]:
            return
        self._pack(bucket, i, param.grad.data)
        bucket.ready[i] = True
        bucket.pending -= 1
        if bucket.pending == 0:
            self._start_ready_buckets()
        elif self.next_bucket:
            self.buckets[self.next_bucket - 1].request.Test()  # lets MPI make progress

    def _start_ready_buckets(self):
        buckets = self.buckets
        while self.next_bucket < len(buckets) and buckets[self.next_bucket].pending == 0:
            self._start(buckets[self.next_bucket])
            self.next_bucket += 1

    def _flat(self, bucket):
        if bucket.flat is None:
            if bucket.on_device:
                bucket.flat = backend.cuda().empty((bucket.size,), bucket.dtype)
            else:
                bucket.flat = np.empty(bucket.size, bucket.dtype)
        return bucket.flat

    def _pack(self, bucket, i, grad):
        flat = self._flat(bucket)
        if bucket.on_device:
            from ...kernels.cuda import buckets as device
            device.pack(flat, bucket.offsets[i], grad)
        else:
            cpu_buckets.run_pack(flat, bucket.offsets[i], grad)

    def _start(self, bucket):
        state = self.state
        MPI = state.MPI
        target = bucket.flat
        if bucket.on_device:
            from ...kernels.cuda import buckets as device
            if state.cuda_aware:
                device.synchronize()  # MPI reads device memory outside CUDA's stream order
                target = device.mpi_buffer(bucket.flat)
            else:
                if bucket.host is None:
                    bucket.host = device.host_buffer(bucket.size, bucket.dtype)
                device.copy_to_host(bucket.flat, bucket.host)
                target = bucket.host
        bucket.request = state.comm.Iallreduce(MPI.IN_PLACE, target, MPI.SUM)

    # ---- when backward has finished ----------------------------------------------------
    def finish(self):
        """Start what is left, wait for every bucket, write the averages into the gradients."""
        from ...distributed import process_group as pg
        try:
            for bucket in self.buckets[self.next_bucket:]:
                for i, param in enumerate(bucket.params):
                    if not bucket.ready[i]:
                        self._pack_unused(bucket, i, param)
                bucket.pending = 0
            self._start_ready_buckets()
            world = self.state.size
            for bucket in self.buckets:
                started = time.perf_counter()
                pg.wait(self.state, bucket.request,
                        "the gradient all_reduce of DistributedDataParallel")
                self.wait_seconds += time.perf_counter() - started
                self._unpack(bucket, world)
                bucket.request = None
        finally:
            self.in_pass = False

    def _pack_unused(self, bucket, i, param):
        """A parameter that got no gradient in this pass: its current gradient, or zeros."""
        grad = param.grad
        if grad is None:
            B = backend.cuda() if bucket.on_device else backend.cpu
            grad_array = B.zeros(param.data.shape, bucket.dtype)
        else:
            grad_array = grad.data
        self._pack(bucket, i, grad_array)

    def _unpack(self, bucket, world):
        if bucket.on_device:
            from ...kernels.cuda import buckets as device
            if not self.state.cuda_aware:
                device.copy_from_host(bucket.host, bucket.flat)
            unpack = device.unpack_divided
        else:
            unpack = cpu_buckets.run_unpack_divided
        for param, offset in zip(bucket.params, bucket.offsets):
            grad = _writable_grad(param, bucket)
            unpack(bucket.flat, offset, grad.data, world)
            grad._version[0] += 1


def _writable_grad(param, bucket):
    """``param.grad``, replaced by a fresh contiguous array when it is missing or cannot be
    written in place (a non-contiguous view, a gradient with a graph)."""
    grad = param.grad
    data = param.data
    if grad is not None and not grad.requires_grad and grad.data.dtype == bucket.dtype:
        array = grad.data
        contiguous = backend.cuda().is_c_contiguous(array) if bucket.on_device \
            else array.flags.c_contiguous
        if contiguous:
            return grad
    B = backend.cuda() if bucket.on_device else backend.cpu
    param.grad = Tensor._wrap(B.empty(data.shape, bucket.dtype))
    return param.grad
