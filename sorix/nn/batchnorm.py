"""Batch normalisation of images: ``BatchNorm2d``, in PyTorch's names and layouts.

(``BatchNorm1d``, in Sorix's own layout, is in :mod:`.layers`; both run
:func:`sorix.nn.functional.batch_norm`, whose kernels see a (N, C, H, W) batch
as its (N, C, H W) view.)
"""
import numpy as np

from ..kernels.backend import of
from ..ops.losses import as_tensor
from ..tensor import Tensor
from .functional import batch_norm
from .module import Module, check_device
from .normalization import float_dtype


class BatchNorm2d(Module):
    """Batch normalisation of (N, C, H, W) input, per channel C, as PyTorch's BatchNorm2d.

    Training: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch's mean and
    biased variance over N, H and W, and the running estimates move as
    running = (1 - momentum) running + momentum batch (the unbiased variance for
    ``running_var``); ``momentum=None`` gives the plain average of every batch seen.
    Evaluation uses the running estimates, or the batch's own statistics when
    ``track_running_stats=False`` (which keeps no estimates at all).

    Sorix has no 2-D batch norm, so names and layouts are PyTorch's: ``weight`` (ones)
    and ``bias`` (zeros) of shape (C,), neither without ``affine`` and no bias with
    ``bias=False``; ``running_mean`` and ``running_var`` of shape (C,), and
    ``num_batches_tracked``, a 0-d int64 buffer (so that a reloaded model continues a
    cumulative average), all in the state dict.
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device="cpu", dtype=None, *, bias=True):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)) \
                or num_features < 1:
            raise ValueError(f"num_features must be a positive int, got {num_features!r}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be between 0 and 1 (or None), got {momentum!r}")
        self.num_features = int(num_features)
        self.eps = float(eps)
        self.momentum = None if momentum is None else float(momentum)
        self.affine = bool(affine)
        self.has_bias = self.affine and bool(bias)
        self.track_running_stats = bool(track_running_stats)
        self.device = check_device(device)
        dtype = float_dtype(dtype, "BatchNorm2d")
        shape = (self.num_features,)
        self.weight = Tensor(np.ones(shape, dtype), requires_grad=True, device=device) \
            if self.affine else None
        self.bias = Tensor(np.zeros(shape, dtype), requires_grad=True, device=device) \
            if self.has_bias else None
        tracked = self.track_running_stats
        self.register_buffer("running_mean", Tensor(np.zeros(shape, dtype), device=device)
                             if tracked else None)
        self.register_buffer("running_var", Tensor(np.ones(shape, dtype), device=device)
                             if tracked else None)
        self.register_buffer("num_batches_tracked",
                             Tensor(np.array(0, np.int64), device=device) if tracked else None)

    @staticmethod
    def _fill(t, value):
        of(t.data).assign(t.data, Ellipsis, value)
        t._version[0] += 1

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batch counted."""
        if self.track_running_stats:
            self._fill(self.running_mean, 0)
            self._fill(self.running_var, 1)
            self._fill(self.num_batches_tracked, 0)

    def reset_parameters(self):
        """:meth:`reset_running_stats`, then weight 1 and bias 0."""
        self.reset_running_stats()
        for p, value in ((self.weight, 1), (self.bias, 0)):
            if p is not None:
                self._fill(p, value)

    def forward(self, x):
        x = as_tensor(x)
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm2d({self.num_features}) expects input of shape "
                             f"(N, {self.num_features}, H, W), got {tuple(x.shape)}")
        counts = self.training and self.track_running_stats
        momentum = self.momentum
        if momentum is None:  # cumulative average: batch k gets weight 1/k (the count is
            # read only here: on a GPU the read waits for the device)
            momentum = 1.0 / (int(self.num_batches_tracked.item()) + 1) if counts else 0.0
        # without running estimates, evaluation normalises with the batch's statistics too
        batch_statistics = self.training or not self.track_running_stats
        out = batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                         batch_statistics, momentum, self.eps)
        if counts:  # (after the estimates moved: a batch that failed is not counted)
            count = self.num_batches_tracked
            of(count.data).inplace("add", count.data, 1)
            count._version[0] += 1
        return out

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.has_bias}, "
                f"track_running_stats={self.track_running_stats}")
