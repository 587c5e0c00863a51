"""Turning metric inputs (Tensors, arrays, lists, pandas Series) into NumPy arrays.

pandas is never imported: ``np.asarray`` already reads a Series, and a Tensor
hands over its data (a host copy for a GPU tensor) through ``__array__``.
"""
import sys

import numpy as np

_NUMERIC_KINDS = "biuf"


def as_array(values, name):
    """``values`` as a NumPy array, without copying a host array that is already one."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like (a Tensor, an array, a list or a "
                        f"pandas Series), got {type(values).__name__}: {exc}") from exc
    if array.ndim == 0:
        raise ValueError(f"{name} must be a sequence of samples, got a scalar ({array!r})")
    return array


def _same_samples(y_true, y_pred):
    """Check that both arrays hold the same samples; (N,) against (N, 1) is accepted."""
    if y_true.shape == y_pred.shape:
        return
    n = len(y_true)
    if {y_true.shape, y_pred.shape} == {(n,), (n, 1)}:
        return  # a column vector against a flat one: the same N samples
    raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and "
                     f"{y_pred.shape}: pass one prediction per target")


def label_pair(y_true, y_pred):
    """Flat label arrays of equal length, for classification metrics."""
    y_true, y_pred = as_array(y_true, "y_true"), as_array(y_pred, "y_pred")
    _same_samples(y_true, y_pred)
    if y_true.size == 0:
        raise ValueError("y_true and y_pred must not be empty")
    y_true, y_pred = y_true.ravel(), y_pred.ravel()
    check_comparable(y_true, y_pred, "y_true and y_pred")
    for name, labels in (("y_true", y_true), ("y_pred", y_pred)):
        if _has_missing(labels):  # (NaN would become a class of its own, never matched)
            raise ValueError(f"Input {name} contains NaN or a missing value; drop or fill "
                             "those samples first")
    _check_not_continuous(y_true, y_pred)
    return y_true, y_pred


def _continuous_value(labels):
    """A value of float ``labels`` that is not a whole number (a probability, a score),
    or None. Whole floats (0.0, 1.0) are labels, as in scikit-learn."""
    if labels.dtype.kind != "f":
        return None
    fractional = labels != np.floor(labels)  # (inf - inf is NaN: not whole either)
    fractional |= ~np.isfinite(labels)
    return labels[np.argmax(fractional)] if fractional.any() else None


def _check_not_continuous(y_true, y_pred):
    """Refuse probabilities or scores where class labels are expected: each distinct
    value would count as a class of its own, and the metric would be wrong silently.
    The message starts as scikit-learn's does."""
    found = {name: _continuous_value(labels)
             for name, labels in (("y_true", y_true), ("y_pred", y_pred))}
    if found["y_true"] is None and found["y_pred"] is None:
        return
    kinds = [("continuous" if found[name] is not None
              else "binary" if len(np.unique(labels)) <= 2 else "multiclass")
             for name, labels in (("y_true", y_true), ("y_pred", y_pred))]
    if kinds == ["continuous", "continuous"]:
        start = "Classification metrics can't handle continuous targets"
    else:
        start = f"Classification metrics can't handle a mix of {kinds[0]} and {kinds[1]} targets"
    name = "y_pred" if found["y_pred"] is not None else "y_true"
    raise ValueError(f"{start}: {name} holds continuous values (e.g. {found[name]:g}), such as "
                     "probabilities, where class labels are expected; threshold them first, "
                     "e.g. (y_prob >= 0.5).astype(int), or take argmax(axis=1) of class scores")


def _has_missing(labels):
    """Whether ``labels`` hold a NaN (float arrays) or a None, NaN or pandas NA (object
    arrays)."""
    if labels.dtype.kind in "fc":
        return bool(np.isnan(labels).any())
    if labels.dtype.kind == "O":
        pandas = sys.modules.get("pandas")  # (loaded wherever a pandas NA can be present)
        if pandas is not None:
            return bool(pandas.isna(labels).any())  # one vectorised pass
        return any(v is None or (isinstance(v, float) and v != v) for v in labels)
    return False


def target_pair(y_true, y_pred):
    """float64 arrays of shape (N, outputs), for regression metrics.

    A flat target is one output; a 2-D target has one output per column (deeper
    shapes are flattened after the sample axis).
    """
    y_true, y_pred = as_array(y_true, "y_true"), as_array(y_pred, "y_pred")
    _same_samples(y_true, y_pred)
    if y_true.size == 0:
        raise ValueError("y_true and y_pred must not be empty")
    arrays = []
    for name, array in (("y_true", y_true), ("y_pred", y_pred)):
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(f"{name} must be numeric for a regression metric, "
                            f"got dtype {array.dtype}")
        arrays.append(array.astype(np.float64, copy=False).reshape(len(array), -1))
    if arrays[0].shape != arrays[1].shape:  # (N,) against (N, 1): both one column
        arrays = [a.reshape(-1, 1) for a in arrays]
    return arrays[0], arrays[1]


def check_comparable(a, b, what):
    """Refuse to compare numbers with strings: NumPy would turn 1 into '1' silently."""
    kinds = {"number" if x.dtype.kind in _NUMERIC_KINDS else "text" if x.dtype.kind in "US"
             else "object" for x in (a, b)}
    if kinds == {"number", "text"}:
        raise ValueError(f"{what} mix numeric and string labels ({a.dtype} and {b.dtype}): "
                         f"use one type of label throughout")
