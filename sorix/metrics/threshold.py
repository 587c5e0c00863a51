"""find_optimal_threshold: the probability cut-off that maximises a metric."""
import numpy as np

from ._inputs import as_array


def _f1_at_thresholds(is_positive, probs, thresholds):
    """Binary F1 of ``probs >= t`` for every ``t`` at once: ``2 tp / (predicted + actual)``.

    Counting ``probs >= t`` is a binary search in the sorted probabilities, so
    the whole grid costs one sort instead of one pass over the data per threshold.
    """
    ordered = np.sort(probs)
    ordered_positive = np.sort(probs[is_positive])
    predicted = len(ordered) - np.searchsorted(ordered, thresholds, side="left")
    true_positives = len(ordered_positive) - np.searchsorted(ordered_positive, thresholds,
                                                             side="left")
    denominator = predicted + len(ordered_positive)
    return np.divide(2.0 * true_positives, denominator, out=np.zeros(len(thresholds)),
                     where=denominator != 0)


def _scores_of(metric_fn, y_true, probs, thresholds):
    """``metric_fn(y_true, probs >= t)`` per threshold; NaN where the metric raised."""
    scores = np.full(len(thresholds), np.nan)
    first_error = None
    for k, threshold in enumerate(thresholds):  # one call per threshold, not per sample
        try:
            scores[k] = float(metric_fn(y_true, (probs >= threshold).astype(int)))
        except Exception as exc:  # a metric may be undefined at some cut-offs
            if first_error is None:
                first_error = exc
    if np.isnan(scores).all() and first_error is not None:
        raise RuntimeError(f"metric_fn failed for all {len(thresholds)} candidate thresholds, "
                           f"so none could be evaluated; the first failure is chained "
                           f"below") from first_error
    return scores


def find_optimal_threshold(y_true, y_probs, metric_fn=None, *, n_thresholds=200):
    """Threshold ``t`` maximising ``metric_fn(y_true, (y_probs >= t).astype(int))``.

    Candidates are ``k / n_thresholds`` for ``k = 1 .. n_thresholds - 1`` (0 and 1,
    which predict a single class, are left out). ``metric_fn(y_true, y_pred)``
    defaults to the binary F1 score (0 when undefined); a candidate at which a
    custom metric raises is skipped. Ties go to the smallest threshold.
    ``y_true`` holds 0/1 labels, ``y_probs`` the positive class's probabilities
    in [0, 1]. Returns ``(best_threshold, best_score)`` as Python floats.
    """
    if isinstance(n_thresholds, bool) or not isinstance(n_thresholds, (int, np.integer)):
        raise TypeError(f"n_thresholds must be an int, got {type(n_thresholds).__name__}")
    if n_thresholds < 2:
        raise ValueError(f"n_thresholds must be >= 2, got {n_thresholds}")
    y_true = as_array(y_true, "y_true").ravel()
    probs = as_array(y_probs, "y_probs").ravel()
    if y_true.size == 0 or probs.size == 0:
        raise ValueError("y_true and y_probs must not be empty")
    if y_true.size != probs.size:
        raise ValueError(f"y_true and y_probs must have the same number of elements, got "
                         f"{y_true.size} and {probs.size}")
    if probs.dtype.kind not in "biuf":
        raise TypeError(f"y_probs must be numeric probabilities, got dtype {probs.dtype}")
    probs = probs.astype(np.float64, copy=False)
    if not np.all((probs >= 0.0) & (probs <= 1.0)):  # NaN fails too
        raise ValueError("y_probs must be probabilities in [0, 1]: apply a sigmoid (or "
                         "softmax) to the model's outputs first")
    thresholds = np.arange(1, n_thresholds) / n_thresholds
    if metric_fn is None:
        is_positive = y_true == 1
        if not np.all(is_positive | (y_true == 0)):
            raise ValueError("the default metric (binary F1) needs y_true of 0/1 labels: "
                             "map the labels to 0/1 or pass metric_fn")
        scores = _f1_at_thresholds(is_positive, probs, thresholds)
    else:
        scores = _scores_of(metric_fn, y_true, probs, thresholds)
        if np.isnan(scores).all():
            raise RuntimeError("metric_fn returned NaN at every candidate threshold")
    best = int(np.nanargmax(scores))
    return float(thresholds[best]), float(scores[best])
