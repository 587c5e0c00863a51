"""Classification metrics from per-class counts (one ``np.bincount`` per count).

Labels may be any comparable values (ints, floats, bools, strings). Unless
``labels`` is given, the classes are every label seen in ``y_true`` or
``y_pred``, sorted.

``zero_division`` decides a score whose denominator is zero (precision of a
class never predicted, recall of a class never present): ``"warn"`` gives
0.0 with a RuntimeWarning, ``0``/``1`` give that value silently, and
``np.nan`` gives NaN, which the macro and weighted averages then skip.
"""
import numbers
import warnings

import numpy as np

from ._inputs import as_array, check_comparable, label_pair

AVERAGES = ("binary", "micro", "macro", "weighted", None)


def zero_division_value(zero_division):
    """The value a zero-denominator score takes."""
    if isinstance(zero_division, str):
        if zero_division == "warn":
            return 0.0
    elif not isinstance(zero_division, bool) and isinstance(zero_division, numbers.Real):
        if zero_division in (0, 1) or np.isnan(zero_division):
            return float(zero_division)
    raise ValueError(f"zero_division must be 'warn', 0.0, 1.0 or np.nan, got {zero_division!r}")


def sorted_classes(y_true, y_pred, labels=None):
    """The classes to score: ``labels`` in the caller's order, or every label seen, sorted."""
    if labels is None:
        try:
            return np.unique(np.concatenate([y_true, y_pred]))
        except TypeError as exc:
            raise ValueError(f"labels of different types cannot be ordered ({exc}): "
                             f"use one type of label throughout") from exc
    classes = as_array(labels, "labels").ravel()
    if classes.size == 0:
        raise ValueError("labels must name at least one class, got an empty list")
    check_comparable(classes, y_true, "labels and y_true")
    if np.unique(classes).size != classes.size:
        raise ValueError(f"labels must not repeat a class, got {classes.tolist()}")
    return classes


def class_indices(values, classes):
    """Position of each value in ``classes`` (any order), or -1 for a value not in it."""
    order = np.argsort(classes, kind="stable")
    ordered = classes[order]
    slot = np.minimum(np.searchsorted(ordered, values), len(ordered) - 1)
    return np.where(ordered[slot] == values, order[slot], -1)


def class_counts(y_true, y_pred, classes):
    """``(true_positives, predicted, actual)``: three int arrays, one entry per class."""
    n_classes = len(classes)
    true_index = class_indices(y_true, classes)
    pred_index = class_indices(y_pred, classes)
    hit = (true_index == pred_index) & (true_index >= 0)
    true_positives = np.bincount(true_index[hit], minlength=n_classes)
    predicted = np.bincount(pred_index[pred_index >= 0], minlength=n_classes)
    actual = np.bincount(true_index[true_index >= 0], minlength=n_classes)
    return true_positives, predicted, actual


_REASONS = {"precision": "no sample was predicted as it",
            "recall": "no true sample has it",
            "f1": "no sample has it or was predicted as it"}


def ratio_scores(metric, true_positives, predicted, actual, zero_division, names):
    """precision ``tp/predicted``, recall ``tp/actual`` or f1 ``2tp/(predicted + actual)``,
    per entry, with ``zero_division`` where the denominator is zero."""
    if metric == "precision":
        numerator, denominator = true_positives, predicted
    elif metric == "recall":
        numerator, denominator = true_positives, actual
    else:
        numerator, denominator = 2 * true_positives, predicted + actual
    undefined = denominator == 0
    scores = np.divide(numerator, denominator, out=np.zeros(len(denominator)),
                       where=~undefined)
    if undefined.any():
        scores[undefined] = zero_division_value(zero_division)
        if isinstance(zero_division, str):
            missing = [names[i] for i in np.flatnonzero(undefined)]
            warnings.warn(f"Division by zero in {metric} for label(s) {missing}: "
                          f"{_REASONS[metric]}, so the score is set to 0.0. Pass "
                          f"zero_division=0.0, 1.0 or np.nan to choose the value and "
                          f"silence this warning.", RuntimeWarning, stacklevel=4)
    return scores


def average_scores(scores, actual, average, zero_division):
    """Macro (plain mean) or weighted (by ``actual`` counts) average; NaN scores are skipped."""
    defined = ~np.isnan(scores)
    if not defined.any():
        return float("nan")
    if average == "macro":
        return float(np.mean(scores[defined]))
    weights = actual[defined]
    if weights.sum() == 0:  # none of the scored labels occurs in y_true
        if isinstance(zero_division, str):
            warnings.warn("Division by zero in the weighted average: no true sample has any "
                          "of the labels, so the score is set to 0.0. Pass zero_division to "
                          "choose the value and silence this warning.", RuntimeWarning,
                          stacklevel=4)
        return zero_division_value(zero_division)
    return float(np.average(scores[defined], weights=weights))


def _binary_counts(y_true, y_pred, pos_label):
    """Counts of ``pos_label`` against every other label."""
    check_comparable(np.asarray([pos_label]), y_true, "pos_label and y_true")
    present = sorted_classes(y_true, y_pred)
    if present.size > 1 and not np.any(present == pos_label):
        raise ValueError(f"pos_label={pos_label!r} is not one of the labels present "
                         f"{present.tolist()}: pass pos_label=<the positive class>, or "
                         f"average=None, 'micro', 'macro' or 'weighted' for per-class scores")
    is_true, is_pred = y_true == pos_label, y_pred == pos_label
    return (np.array([np.count_nonzero(is_true & is_pred)]),
            np.array([np.count_nonzero(is_pred)]), np.array([np.count_nonzero(is_true)]))


def _score(metric, y_true, y_pred, labels, average, pos_label, zero_division):
    if average not in AVERAGES:
        raise ValueError(f"average must be one of 'binary', 'micro', 'macro', 'weighted' "
                         f"or None, got {average!r}")
    zero_division_value(zero_division)  # refuse a bad value before any work
    y_true, y_pred = label_pair(y_true, y_pred)
    if average == "binary":
        counts = _binary_counts(y_true, y_pred, pos_label)
        return float(ratio_scores(metric, *counts, zero_division, [pos_label])[0])
    classes = sorted_classes(y_true, y_pred, labels)
    true_positives, predicted, actual = class_counts(y_true, y_pred, classes)
    if average == "micro":
        totals = [np.array([c.sum()]) for c in (true_positives, predicted, actual)]
        return float(ratio_scores(metric, *totals, zero_division, ["<all labels>"])[0])
    scores = ratio_scores(metric, true_positives, predicted, actual, zero_division,
                          classes.tolist())
    if average is None:
        return scores
    return average_scores(scores, actual, average, zero_division)


_DOC = """{title}

    ``average``: ``'binary'`` (default) scores ``pos_label`` against every
    other label (with more than two classes: that class one-vs-rest);
    ``None`` returns a float64 array with one score per class (in the order
    of ``labels``, else sorted); ``'macro'`` is the plain mean of those,
    ``'weighted'`` their mean weighted by each class's count in ``y_true``;
    ``'micro'`` pools the counts of all classes first. ``labels`` picks and
    orders the classes for the non-binary modes. Returns a Python float
    except for ``average=None``.
    """


def precision_score(y_true, y_pred, *, labels=None, average="binary", pos_label=1,
                    zero_division="warn"):
    return _score("precision", y_true, y_pred, labels, average, pos_label, zero_division)


def recall_score(y_true, y_pred, *, labels=None, average="binary", pos_label=1,
                 zero_division="warn"):
    return _score("recall", y_true, y_pred, labels, average, pos_label, zero_division)


def f1_score(y_true, y_pred, *, labels=None, average="binary", pos_label=1,
             zero_division="warn"):
    return _score("f1", y_true, y_pred, labels, average, pos_label, zero_division)


precision_score.__doc__ = _DOC.format(title="Precision ``tp / (tp + fp)``: of the samples "
                                            "predicted as a class, the share that has it.")
recall_score.__doc__ = _DOC.format(title="Recall ``tp / (tp + fn)``: of the samples that have "
                                         "a class, the share predicted as it.")
f1_score.__doc__ = _DOC.format(title="F1 ``2 tp / (2 tp + fp + fn)``, the harmonic mean of "
                                     "precision and recall.")


def accuracy_score(Y_true, Y_pred):
    """Share of samples whose prediction equals the target, as a Python float."""
    y_true, y_pred = label_pair(Y_true, Y_pred)
    return float(np.count_nonzero(y_true == y_pred) / y_true.size)


def confusion_matrix(y_true, y_pred, *, labels=None, normalize=None):
    """``C[i, j]`` = number of samples of class ``labels[i]`` predicted as ``labels[j]``.

    An int64 array of shape (n_classes, n_classes); samples whose true or
    predicted label is not in ``labels`` are left out. ``normalize='true'``
    divides each row by its sum, ``'pred'`` each column, ``'all'`` the whole
    matrix (float64; an empty row or column stays 0).
    """
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize must be None, 'true', 'pred' or 'all', got {normalize!r}")
    y_true, y_pred = label_pair(y_true, y_pred)
    classes = sorted_classes(y_true, y_pred, labels)
    n_classes = len(classes)
    true_index = class_indices(y_true, classes)
    pred_index = class_indices(y_pred, classes)
    kept = (true_index >= 0) & (pred_index >= 0)
    cells = true_index[kept] * n_classes + pred_index[kept]
    matrix = np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    matrix = matrix.astype(np.int64, copy=False)
    if normalize is None:
        return matrix
    axis = {"true": 1, "pred": 0, "all": None}[normalize]
    totals = matrix.sum(axis=axis, keepdims=axis is not None)
    return np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals != 0)
