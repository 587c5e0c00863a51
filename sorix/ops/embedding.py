"""The embedding options of :func:`sorix.nn.functional.embedding` (PyTorch's semantics).

The plain lookup is ``weight[index]`` (:func:`sorix.ops.shape.getitem`); the code here runs
only when an option asks for it:

- :func:`lookup`: the rows of ``weight`` at ``index``, whose gradient leaves out the
  positions that read the padding row (that row's gradient stays zero, however often it is
  read, and whatever flows back there, inf or nan included) and, with
  ``scale_grad_by_freq``, divides each row's gradient by the number of times the batch
  reads that row;
- :func:`renorm_`: ``max_norm``, PyTorch's ``embedding_renorm_``: each row the batch reads
  whose ``norm_type``-norm exceeds ``max_norm`` is scaled by ``max_norm / (norm + 1e-7)``,
  in place, outside the graph.
"""
import numpy as np

from ..autograd.grad_mode import no_grad
from ..autograd.node import Node
from ..kernels.backend import of
from . import core, twin
from .core import records, wrap


class EmbeddingNode(Node):
    """weight[rows] gradient: the incoming rows at ``positions`` (all when None), each times
    its ``scale`` (none when None), added into the weight rows they were read from."""
    __slots__ = ("shape", "count", "rows", "positions", "scale")

    def __init__(self, weight, count, rows, positions, scale):
        super().__init__((weight,))
        self.shape = weight.data.shape
        self.count, self.rows, self.positions, self.scale = count, rows, positions, scale

    def backward(self, grad, F, saved):
        g = F.reshape(grad, (self.count, self.shape[1]))
        if self.positions is not None:
            g = F.take(g, self.positions)
        if self.scale is None:
            return (F.scatter_add(self.shape, self.rows, g),)
        if F is not twin:
            return (F.scatter_add(self.shape, self.rows, F.binary("mul", g, self.scale)),)
        # create_graph: the scaled gradient, whose derivative with respect to ``grad`` leaves
        # the 1/count out, as PyTorch's double backward of embedding does (the lookup's own
        # backward scales again on the way back to the weight: the second derivative of a
        # function of the weight agrees with finite differences of its scaled gradient)
        B = of(g.data)
        values = B.scatter_add(self.shape, self.rows, B.binary("mul", g.data, self.scale))
        unscaled = F.scatter_add(self.shape, self.rows, g)
        return (wrap(values, _Through((unscaled,))) if records(unscaled) else wrap(values),)


class _Through(Node):
    """Values computed apart, with the derivative of the input they stand for (identity)."""
    __slots__ = ()

    def backward(self, grad, F, saved):
        return (grad,)


def lookup(weight, index, padding_idx=None, scale_grad_by_freq=False):
    """``weight[index]`` for a 2-D ``weight`` and a host array ``index`` of valid rows
    (any shape); ``padding_idx`` is a non-negative row number or None."""
    B = of(weight.data)
    flat = index.reshape(-1)
    # (a gather by a 1-D array: always a copy, also for a 0-d index)
    out = B.reshape(B.take(weight.data, flat), index.shape + (weight.data.shape[1],))
    if not records(weight):
        return wrap(out)
    rows, positions, scale = flat, None, None
    if padding_idx is not None:
        keep = flat != padding_idx
        if not keep.all():
            positions = np.flatnonzero(keep)
            rows = flat[positions]
    if scale_grad_by_freq and rows.size:
        counts = np.bincount(rows, minlength=weight.data.shape[0])
        scale = (1.0 / counts[rows]).astype(weight.data.dtype).reshape(-1, 1)
        scale = B.to_device(scale)
    return wrap(out, EmbeddingNode(weight, flat.size, rows, positions, scale))


def _norms(rows, norm_type):
    """The ``norm_type``-norm of each row, computed in the rows' dtype as PyTorch does."""
    p = float(norm_type)
    a = np.abs(rows)
    if p == 2.0:
        norms = np.sqrt(np.einsum("ij,ij->i", a, a))
    elif p == 1.0:
        norms = a.sum(axis=1)
    elif p == np.inf:
        norms = a.max(axis=1)
    elif p == -np.inf:
        norms = a.min(axis=1)
    elif p == 0.0:
        norms = (a != 0).sum(axis=1)
    else:
        norms = (a ** a.dtype.type(p)).sum(axis=1) ** a.dtype.type(1.0 / p)
    return norms.astype(np.float64)


def renorm_(weight, index, max_norm, norm_type):
    """Scale in place each row of ``weight`` that ``index`` (a host array of valid rows)
    reads whose norm exceeds ``max_norm`` by ``max_norm / (norm + 1e-7)``; not recorded."""
    rows = np.unique(index)
    if not rows.size:
        return
    B = of(weight.data)
    picked = B.to_host(B.take(weight.data, rows))
    norms = _norms(picked, norm_type)
    over = norms > max_norm
    if not over.any():
        return
    scale = (float(max_norm) / (norms[over] + 1e-7)).astype(picked.dtype)
    with no_grad():
        weight[rows[over]] = core.Tensor(picked[over] * scale[:, None])


# ---- checking the options -----------------------------------------------------------------

def padding_row(padding_idx, count):
    """``padding_idx`` as a row number in [0, count): a negative one counts from the end."""
    if isinstance(padding_idx, (bool, np.bool_)) or not isinstance(padding_idx,
                                                                   (int, np.integer)):
        raise TypeError(f"padding_idx must be an int or None, got "
                        f"{type(padding_idx).__name__} {padding_idx!r}")
    if not -count <= padding_idx < count:
        raise ValueError(f"Padding_idx must be within num_embeddings: got {padding_idx} for "
                         f"{count} embeddings (allowed: {-count} to {count - 1})")
    return int(padding_idx) + count if padding_idx < 0 else int(padding_idx)


def _real(value, name):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                    np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if value != value:
        raise ValueError(f"{name} must be a number, got nan")
    return float(value)


def norm_options(max_norm, norm_type):
    """``max_norm`` (None, or a number >= 0) and ``norm_type`` (a number) as floats."""
    norm_type = _real(norm_type, "norm_type")
    if max_norm is None:
        return None, norm_type
    max_norm = _real(max_norm, "max_norm")
    if max_norm < 0:
        raise ValueError(f"max_norm must be >= 0, got {max_norm}")
    return max_norm, norm_type


def refuse_sparse():
    raise NotImplementedError("sparse=True is not supported: sorix has no sparse gradients, "
                              "and an embedding's weight always gets a dense gradient "
                              "(leave sparse=False)")


def options(weight, padding_idx, max_norm, norm_type, sparse):
    """Check :func:`sorix.nn.functional.embedding`'s options against ``weight``; returns
    (padding_idx as a row number or None, max_norm, norm_type)."""
    if sparse:
        refuse_sparse()
    if weight.ndim != 2:
        raise ValueError(f"embedding options need a 2-D weight (num_embeddings, embedding_dim), "
                         f"got shape {tuple(weight.shape)}")
    if padding_idx is not None:
        padding_idx = padding_row(padding_idx, weight.shape[0])
    if max_norm is not None:
        max_norm, norm_type = norm_options(max_norm, norm_type)
    return padding_idx, max_norm, norm_type
