"""Softmax cross-entropy, fused: one kernel pass forward, one backward.

For logits x (N, C) and class-index targets t_i:

    loss_i = w_{t_i} (log sum_c exp(x_ic) - x_{i, t_i})
    mean   = sum_i loss_i / sum_i w_{t_i}       (PyTorch's weighted mean)
    d loss_i / d x_ic = w_{t_i} (softmax(x_i)_c - [c = t_i])

For probability targets T (N, C) (``one_hot=True``, or a float target
shaped like the input, as PyTorch infers):

    loss_i = -sum_c w_c T_ic log softmax(x_i)_c,   mean = sum_i loss_i / N

except that with ``one_hot=True`` and class weights the targets are labels,
so the mean is weighted as for class indices: sum_i loss_i / sum_ic w_c T_ic
(Sorix's definition; for one-hot rows it equals the class-index loss).

Targets equal to ``ignore_index`` add nothing and are left out of the mean.
Inputs (N, C, d1, ...) treat every position as a row, as PyTorch does: on the
CPU with class indices, the kernels read the logits in place, over blocks of
positions (:mod:`sorix.kernels.softmax_across`); otherwise the class axis is
moved last first.

``label_smoothing`` = e (PyTorch's formula, composed of tensor ops around the
fused loss, so the default e = 0 runs the fused op alone): with class indices

    loss = (1 - e) CE + e / C smooth,   smooth_i = -sum_c w_c log softmax(x_i)_c

with ignored rows' smooth_i = 0 and each term reduced as CE is ('mean' divides
by sum_i w_{t_i} over the rows counted); with probabilities the target becomes
(1 - e) T + e / C (with ``one_hot=True`` and weights, the mean still divides by
the labels' weight sum_ic w_c T_ic, so one-hot rows give the class-index loss).
"""
import math
import numbers

import numpy as np

from ..autograd.node import Node
from ..kernels import cpu as _cpu
from ..kernels import softmax as K
from ..kernels import softmax_across as KA
from ..kernels.variants import run
from . import composite, core
from .core import constant, float_data, records, wrap
from .elementwise import cast, where
from .losses import as_tensor, check_reduction
from .softmax import log_softmax, softmax


def _rows(t):
    """``t`` as rows: (C,) -> (1, C); (N, C, d...) -> (N*d..., C) (class axis moved last)."""
    if t.ndim == 1:
        return t.reshape((1,) + tuple(t.shape))
    if t.ndim == 2:
        return t
    order = (0,) + tuple(range(2, t.ndim)) + (1,)
    return t.permute(order).reshape((-1, t.shape[1]))


def _check_index_shape(target, input):
    expected = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    shape = tuple(target.shape)
    # (N, 1) columns of labels are how Sorix code usually holds them
    if shape != expected and not (input.ndim == 2 and shape == expected + (1,)):
        raise ValueError(
            f"cross_entropy: class-index targets of shape {shape} do not fit input of shape "
            f"{tuple(input.shape)}; expected {expected} (or pass probabilities shaped like the "
            "input with one_hot=True)")


def _class_indices(target, input, rows, classes, ignore_index):
    """Targets as a flat int64 array, checked for shape, whole values and range."""
    _check_index_shape(target, input)
    data = target.data
    if data.dtype.kind == "f":
        if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
            raise ValueError("cross_entropy: class-index targets must be whole numbers; for "
                             "probability targets pass one_hot=True")
    elif data.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: class-index targets must be integers, got {data.dtype}")
    index = np.ascontiguousarray(data, dtype=np.int64).reshape(rows)
    bad = (index != ignore_index) & ((index < 0) | (index >= classes))
    if bad.any():
        raise IndexError(f"cross_entropy: target class {int(index[bad][0])} is out of range for "
                         f"{classes} classes (valid: 0 to {classes - 1})")
    return index


def _class_weight(weight, classes, dtype):
    if weight is None:
        return None
    data = weight.data if isinstance(weight, core.Tensor) else weight
    w = np.ascontiguousarray(data, dtype=dtype).reshape(-1)
    if w.size != classes:
        raise ValueError(f"cross_entropy: weight has {w.size} entries but the input has "
                         f"{classes} classes")
    return w


class CrossEntropyNode(Node):
    """Gradient of the fused loss: (softmax - target) scaled per row (see the module doc)."""
    __slots__ = ("reduction", "row_factor", "class_weight", "probs")

    def __init__(self, inputs, saved, reduction, row_factor, class_weight, probs):
        # saved: (logits (N, C), row max (N,), log_norm (N,) float64,
        #         class indices (N,) or probabilities (N, C)); see kernels.softmax.
        # With class indices, (N, C, d...) logits are kept as (N, C, d1 d2 ...) and the
        # other arrays hold one entry per position (see kernels.softmax_across).
        super().__init__(inputs, saved, inputs)
        self.reduction = reduction
        self.row_factor = row_factor  # per row: weight / normaliser (or one scalar)
        self.class_weight = class_weight
        self.probs = probs

    def _row_scale(self, grad, rows, dtype):
        scale = np.asarray(grad, dtype=dtype).reshape(-1) * self.row_factor
        # a fresh writable array: a read-only view would be another numba specialisation
        return np.array(np.broadcast_to(scale, (rows,)), dtype=dtype)

    def backward(self, grad, F, saved):
        if F is not _cpu:  # create_graph=True (the node exists on the CPU only)
            return self._formula(grad)
        x, row_max, log_norm, target = saved
        dtype = x.dtype
        rows = row_max.shape[0]
        scale = self._row_scale(grad, rows, dtype)
        zero = dtype.type(0)
        need_x = self.needs[0]
        gx = np.empty_like(x) if need_x else None
        if not self.probs:
            run(K.ce_index_backward if x.ndim == 2 else KA.ce_index_backward, x.size, x,
                row_max, log_norm, target, scale, zero, gx)
            return (None if gx is None else gx.reshape(self.inputs[0].shape),)
        weight = self.class_weight if self.class_weight is not None else np.empty(0, dtype)
        if need_x:
            run(K.ce_probs_backward, x.size, x, row_max, log_norm, target, weight, scale, zero,
                gx)
        gt = None
        if self.needs[1]:  # d loss_i / d T_ic = -w_c log softmax(x_i)_c
            minus_log_p = (row_max[:, None].astype(np.float64) - x) + log_norm[:, None]
            gt = minus_log_p * scale[:, None]
            if self.class_weight is not None:
                gt *= self.class_weight
            gt = gt.astype(dtype)
        return gx, gt

    def _formula(self, grad):
        """The kernels' gradient with differentiable tensor ops."""
        x = self.inputs[0]
        dtype = self.saved[0].dtype
        rows = self.saved[1].shape[0]
        # the class axis: last for rows, 1 for logits read in place (one row per position)
        axis = -1 if x.ndim == 2 else 1
        per_row = (rows, 1) if x.ndim == 2 else (x.shape[0], 1) + tuple(x.shape[2:])
        g = grad.reshape(per_row) if self.reduction == "none" else grad
        factor = np.asarray(self.row_factor, dtype=dtype)
        g = g * constant(factor.reshape(per_row) if factor.ndim else factor)
        p = softmax(x, axis)
        if not self.probs:
            onehot = np.zeros(x.shape, dtype)
            index = self.saved[3].reshape(per_row)
            np.put_along_axis(onehot, index, 1, axis=axis)
            return ((p - constant(onehot)) * g,)
        t = self.inputs[1]
        t = t if t.data.dtype == dtype else cast(t, dtype)
        w = None if self.class_weight is None else constant(self.class_weight.reshape(1, -1))
        wt = t if w is None else t * w
        gx = (p * wt.sum(axis=-1, keepdims=True) - wt) * g if self.needs[0] else None
        gt = None
        if self.needs[1]:
            log_p = log_softmax(x, -1)
            gt = -((log_p if w is None else log_p * w) * g)
        return gx, gt


def cross_entropy(input, target, weight=None, reduction="mean", ignore_index=-100,
                  one_hot=False, label_smoothing=0.0):
    """Softmax cross-entropy of logits ``input`` against class indices or probabilities."""
    check_reduction(reduction)
    if label_smoothing != 0.0:
        return _smoothed(input, target, weight, reduction, ignore_index, one_hot,
                         label_smoothing)
    input = as_tensor(input)
    target = as_tensor(target, like=input.data)
    if input.ndim == 0:
        raise ValueError("cross_entropy: the input needs a class dimension, got a 0-d tensor")
    probs = bool(one_hot) or (target.data.dtype.kind == "f"
                              and target.data.shape == input.data.shape)
    if probs and target.data.shape != input.data.shape:
        raise ValueError(f"cross_entropy: probability targets of shape {tuple(target.shape)} "
                         f"must match the input's shape {tuple(input.shape)}")
    if one_hot and weight is not None and reduction == "mean":
        return _label_weighted_mean(input, target, weight, ignore_index)
    on_cpu = core.namespace(input, target) is _cpu
    # (N, C, d...) logits with class indices: the kernels read them in place (except
    # where d... is one position: rows, which the row kernels take)
    in_place = on_cpu and not probs and input.ndim > 2 and math.prod(input.shape[2:]) > 1
    x_rows = input if in_place else _rows(input)
    classes = x_rows.shape[1]
    if classes == 0:
        raise ValueError("cross_entropy: the input has no classes (class dimension of size 0)")
    rows = x_rows.data.size // classes
    if not on_cpu:
        return _on_device(input, target, x_rows, probs, weight, reduction, ignore_index)
    x = np.ascontiguousarray(float_data(x_rows))
    if in_place:
        x = x.reshape(x.shape[0], classes, rows // x.shape[0] if x.shape[0] else 0)
    dtype = x.dtype
    zero = dtype.type(0)
    class_weight = _class_weight(weight, classes, dtype)
    row_max = np.empty(rows, dtype)
    log_norm = np.empty(rows, np.float64)
    loss = np.empty(rows, dtype)
    if probs:
        t_rows = _rows(target)
        t = np.ascontiguousarray(t_rows.data, dtype=dtype)
        run(K.ce_probs_forward, x.size, x, t,
            class_weight if class_weight is not None else np.empty(0, dtype), zero, row_max,
            log_norm, loss)
        normaliser, row_weight = rows, None
    else:
        t_rows = None
        index = _class_indices(target, input, rows, classes, ignore_index)
        kept = index != ignore_index
        row_weight = None
        if class_weight is not None:
            row_weight = np.where(kept, class_weight[np.where(kept, index, 0)], zero)
        elif not kept.all():
            row_weight = kept.astype(dtype)
        index = np.where(kept, index, 0)  # ignored rows have weight 0 and read class 0 safely
        run(KA.ce_index_forward if in_place else K.ce_index_forward, x.size, x, index,
            row_weight if row_weight is not None else np.empty(0, dtype), zero, row_max,
            log_norm, loss)
        normaliser = rows if row_weight is None else np.sum(row_weight, dtype=np.float64)
    if reduction == "none":
        out = loss
    else:
        total = np.sum(loss, dtype=np.float64)
        if reduction == "sum":
            out = np.asarray(total, dtype=dtype)
        else:  # a mean over no counted row (all ignored, or zero weights) is NaN, as in PyTorch
            out = np.asarray(total / normaliser if normaliser else np.nan, dtype=dtype)
    inputs = (x_rows,) if t_rows is None else (x_rows, t_rows)
    if records(*inputs):
        factor = np.ones((), np.float64) if row_weight is None else row_weight.astype(np.float64)
        if reduction == "mean":
            # No row counted: the loss is NaN but ignored rows still get zero gradients
            # (PyTorch's rule), so a batch of padding alone leaves the model as it was;
            # rows whose class weight is 0 get NaN, as PyTorch gives them.
            if normaliser:
                factor = factor / normaliser
            elif probs:
                factor = factor * np.nan  # (no rows at all: the gradient is empty)
            else:
                factor = np.where(kept, np.nan, 0.0)
        node = CrossEntropyNode(inputs, (x, row_max, log_norm, t if probs else index), reduction,
                                factor.astype(dtype), class_weight, probs)
        result = wrap(out, node)
    else:
        result = wrap(out)
    if reduction == "none" and input.ndim != 2:
        shape = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
        result = result.reshape(shape)
    return result


def _label_weighted_mean(input, target, weight, ignore_index, labels=None):
    """The mean of weighted one-hot (label) rows: the summed loss over the rows' total
    weight sum_ic w_c T_ic, composed of differentiable ops (the total depends on T).
    ``labels``: the rows T of that total when ``target`` is not them (smoothed labels)."""
    total = cross_entropy(input, target, weight, "sum", ignore_index, one_hot=True)
    dtype = total.data.dtype
    w = as_tensor(weight, like=input.data)
    w = (w if w.data.dtype == dtype else cast(w, dtype)).detach()  # class weights: constants
    t = _rows(target if labels is None else labels)
    t = t if t.data.dtype == dtype else cast(t, dtype)
    classes = t.shape[-1]
    if w.data.size != classes:
        raise ValueError(f"cross_entropy: weight has {w.data.size} entries but the input has "
                         f"{classes} classes")
    return total / (t * w.reshape((1, classes))).sum()


def check_label_smoothing(value):
    """``value`` as a float in [0, 1] (PyTorch's range), else a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("cross_entropy: label_smoothing must be a number between 0.0 and 1.0, "
                        f"got {type(value).__name__} {value!r}")
    if not 0.0 <= value <= 1.0:  # (NaN fails too)
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got "
                         f"{value!r}")
    return float(value)


def _smoothed(input, target, weight, reduction, ignore_index, one_hot, label_smoothing):
    """Cross-entropy with label smoothing (see the module doc), around the fused loss."""
    eps = check_label_smoothing(label_smoothing)
    input = as_tensor(input)
    target = as_tensor(target, like=input.data)
    if input.ndim == 0:
        raise ValueError("cross_entropy: the input needs a class dimension, got a 0-d tensor")
    classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    probs = bool(one_hot) or (target.data.dtype.kind == "f"
                              and target.data.shape == input.data.shape)
    if probs:  # smooth the target distribution itself
        dtype = float_data(input).dtype
        labels = target if target.data.dtype == dtype else cast(target, dtype)
        smoothed = labels * (1.0 - eps) + eps / classes
        if one_hot and weight is not None and reduction == "mean":
            return _label_weighted_mean(input, smoothed, weight, ignore_index, labels)
        return cross_entropy(input, smoothed, weight, reduction, ignore_index, one_hot)
    # class indices: (1 - e) CE + e / C smooth, each reduced alike
    loss = cross_entropy(input, target, weight, reduction, ignore_index)  # checks the targets
    dtype = loss.data.dtype
    x = input if input.data.dtype == dtype else cast(input, dtype)
    axis = 0 if x.ndim == 1 else 1
    log_p = log_softmax(x, axis)
    index = target.data
    if not isinstance(index, np.ndarray):
        index = core.namespace(target).to_host(index)
    index = np.asarray(index).astype(np.int64).reshape(_row_shape(x))
    kept = index != ignore_index
    w = None
    if weight is not None:  # class weights are constants (as in the fused op)
        w = np.asarray(core.namespace(weight).to_host(weight.data)
                       if isinstance(weight, core.Tensor) else weight, dtype=np.float64)
        w = w.reshape(-1)
        per_class = (classes,) + (1,) * (x.ndim - 2) if x.ndim > 1 else (classes,)
        log_p = log_p * constant(w.astype(dtype).reshape(per_class), like=x.data)
    smooth = -log_p.sum(axis=axis)
    if not kept.all():
        smooth = where(constant(kept, like=x.data), smooth, 0.0)
    scale = eps / classes
    if reduction == "none":
        return loss * (1.0 - eps) + smooth * scale
    total = smooth.sum()
    if reduction == "mean":
        counted = float(np.sum(w[np.where(kept, index, 0)] * kept)) if w is not None \
            else float(np.count_nonzero(kept))
        # nothing counted: the loss is NaN (as PyTorch's) and this term's gradient 0
        total = total / counted if counted else total * 0.0 + float("nan")
    return loss * (1.0 - eps) + total * scale


def _row_shape(x):
    """The shape of the per-row losses of logits ``x``: () for (C,), else (N, d...)."""
    return () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])


def _on_device(input, target, x_rows, probs, weight, reduction, ignore_index):
    """The loss composed of tensor ops (see :mod:`.composite`), for tensors on a GPU."""
    classes = x_rows.shape[1]
    if weight is not None:
        weight = as_tensor(weight, like=input.data)
        if weight.data.size != classes:
            raise ValueError(f"cross_entropy: weight has {weight.data.size} entries but the "
                             f"input has {classes} classes")
    if not probs:
        _check_index_shape(target, input)
        if target.data.dtype.kind not in "iuf":
            raise TypeError("cross_entropy: class-index targets must be integers, got "
                            f"{target.data.dtype}")
    t_rows = _rows(target) if probs else None
    result = composite.cross_entropy(x_rows, t_rows, target, probs, weight, reduction,
                                     ignore_index)
    if reduction == "none" and input.ndim != 2:
        result = result.reshape(() if input.ndim == 1 else
                                (input.shape[0],) + tuple(input.shape[2:]))
    return result
