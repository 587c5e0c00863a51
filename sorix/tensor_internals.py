"""Sorix's semi-private Tensor members, for code written against Sorix's internals.

Sorix's documentation draws graphs from ``_prev`` and ``_op``, and code built
on it calls ``_backward``, ``_match_shape`` and ``_accumulate_grad``. Here they
are thin views of this package's graph (the Node behind ``grad_fn``) and of the
engine's own helpers, kept apart from :mod:`sorix.tensor` so that it stays
about storage and operators.
"""
import numpy as np

from .autograd import engine as _engine
from .kernels.backend import of as _of
from .ops import core as _core

_ndarray = np.ndarray


class SorixInternals:
    __slots__ = ()

    # ---- Sorix's graph introspection (its documentation draws graphs with them) ----
    @property
    def _prev(self):
        """The tensors this one was computed from (empty for a leaf, or once backward has
        freed the graph)."""
        node = self.grad_fn
        if node is None or node._released:
            return ()
        return tuple(t for t in node.inputs if t is not None)

    @property
    def _op(self):
        """The name of the operation that made this tensor ('' for a leaf)."""
        node = self.grad_fn
        return "" if node is None else node.name.replace("Backward", "").lower()

    def _backward(self):
        """Sorix's single backward step: push ``self.grad`` through the operation that made
        this tensor into its inputs' ``.grad`` (leaves and computed tensors alike), keeping
        the graph. ``backward()`` runs the whole graph; this is the one-step form."""
        node = self.grad_fn
        if node is None or self._grad is None:
            return
        grads = node.apply(self._grad.data, False)
        for t, need, g in zip(node.inputs, node.needs, grads):
            if need and g is not None:
                g = _engine.sum_to(_engine.dense(g), t.data.shape)
                _engine.accumulate_leaf(t, g if g.dtype == t.data.dtype
                                         else _of(g).astype(g, t.data.dtype), False)

    # Sorix's gradient helpers, for code written against its internals: the engine's own
    # broadcast reduction and leaf accumulation.
    @staticmethod
    def _match_shape(grad, shape):
        """``grad`` summed over the axes broadcasting added to reach ``shape`` (None stays None)."""
        return None if grad is None else _engine.sum_to(grad, tuple(shape))

    def _accumulate_grad(self, grad):
        """Add ``grad`` (an array or a tensor, reduced to this shape) into ``self.grad``."""
        if grad is None:
            return
        data = grad.data if isinstance(grad, _core.Tensor) else grad
        if not isinstance(data, _ndarray) and not _core.is_device_array(data):
            data = np.asarray(data)
        data = _engine.sum_to(data, self.data.shape)
        if data.dtype != self.data.dtype:
            data = _of(data).astype(data, self.data.dtype)
        _engine.accumulate_leaf(self, data, False)
