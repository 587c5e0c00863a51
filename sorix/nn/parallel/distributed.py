"""``DistributedDataParallel``: one model replica per process, gradients averaged in backward.

Each process (rank) runs the same script on its own share of the data. The
wrapper starts every replica from rank 0's parameters and buffers; during
``backward()`` it averages the gradients over the ranks, overlapping the
exchange with the rest of backward (see :mod:`sorix.nn.parallel.reducer`),
so that after ``backward()`` every rank holds the same averaged gradients
and the same optimizer step keeps the replicas identical.
"""
import contextlib
import weakref

from ...autograd.grad_mode import no_grad
from ..module import Module
from .reducer import Reducer


class DistributedDataParallel(Module):
    """``DistributedDataParallel(module, broadcast_buffers=True, bucket_cap_mb=25)``.

    Needs ``sorix.distributed.init_process_group()`` first. ``module`` is the
    wrapped model (``state_dict`` keys get a ``module.`` prefix, as in
    PyTorch); calling the wrapper calls ``module``. With
    ``broadcast_buffers`` each training-mode forward first copies rank 0's
    buffers (BatchNorm's running statistics) to the other ranks.
    ``no_sync()`` skips the averaging for gradient accumulation: the
    gradients summed inside it are averaged by the first backward after it.
    """

    def __init__(self, module, broadcast_buffers=True, bucket_cap_mb=25):
        from ...distributed import collectives, process_group
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a sorix.nn.Module, got "
                            f"{type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        state = process_group.group()  # raises when no process group is initialized
        super().__init__()
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        params = [p for p in module.parameters() if p.requires_grad]
        with no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                collectives.broadcast(tensor, 0)
        self._reducer = Reducer(params, state, bucket_cap_mb)
        weakref.finalize(self, Reducer.remove_hooks, self._reducer)

    def forward(self, *args, **kwargs):
        self._reducer.check_idle()
        if self.training and self.broadcast_buffers and self._reducer.state.size > 1:
            from ...distributed import collectives
            with no_grad():
                for buffer in self.module.buffers():
                    collectives.broadcast(buffer, 0)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside this block keep their gradients local (accumulation)."""
        previous = self._reducer.enabled
        self._reducer.enabled = False
        try:
            yield
        finally:
            self._reducer.enabled = previous

    def extra_repr(self):
        return (f"world_size={self._reducer.state.size}, buckets={len(self._reducer.buckets)}, "
                f"broadcast_buffers={self.broadcast_buffers}")
