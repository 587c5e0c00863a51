"""Regression metrics. Each returns a Python float.

Targets are read as float64 arrays of shape (N, outputs). With several outputs
(2-D targets) each metric is computed per output and the results averaged
with equal weight (scikit-learn's ``multioutput='uniform_average'``).
"""
import numpy as np

from ._inputs import target_pair


def mean_squared_error(Y_true, Y_pred):
    """``mean((y_true - y_pred) ** 2)``."""
    y_true, y_pred = target_pair(Y_true, Y_pred)
    return float(np.mean(np.square(y_true - y_pred)))


def root_mean_squared_error(Y_true, Y_pred):
    """``sqrt(mean((y_true - y_pred) ** 2))``, taken per output then averaged."""
    y_true, y_pred = target_pair(Y_true, Y_pred)
    return float(np.mean(np.sqrt(np.mean(np.square(y_true - y_pred), axis=0))))


def mean_absolute_error(Y_true, Y_pred):
    """``mean(|y_true - y_pred|)``."""
    y_true, y_pred = target_pair(Y_true, Y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def mean_absolute_percentage_error(Y_true, Y_pred):
    """``mean(|y_true - y_pred| / max(|y_true|, eps))`` as a fraction (0.25 = 25 %).

    ``eps`` is float64's machine epsilon, so a zero target gives a very large
    but finite term instead of inf or NaN (scikit-learn's convention).
    """
    y_true, y_pred = target_pair(Y_true, Y_pred)
    scale = np.maximum(np.abs(y_true), np.finfo(np.float64).eps)
    return float(np.mean(np.abs(y_true - y_pred) / scale))


def r2_score(Y_true, Y_pred):
    """Coefficient of determination ``1 - sum((y - y_pred)^2) / sum((y - mean(y))^2)``.

    1 is a perfect fit, 0 is no better than predicting the mean, and it is
    negative when worse. When ``y_true`` is constant the ratio is undefined:
    the score is 1.0 for an exact prediction and 0.0 otherwise.
    """
    y_true, y_pred = target_pair(Y_true, Y_pred)
    residual = np.sum(np.square(y_true - y_pred), axis=0)
    total = np.sum(np.square(y_true - y_true.mean(axis=0)), axis=0)
    defined = total != 0
    scores = np.where(residual == 0, 1.0, 0.0)
    scores[defined] = 1.0 - residual[defined] / total[defined]
    return float(np.mean(scores))


def regression_report(y_true, y_pred):
    """R2, MAE, MSE, RMSE and MAPE (in percent) as a table in one string."""
    rows = [("R2", r2_score(y_true, y_pred), "(-inf, 1]"),
            ("MAE", mean_absolute_error(y_true, y_pred), "[0, inf)"),
            ("MSE", mean_squared_error(y_true, y_pred), "[0, inf)"),
            ("RMSE", root_mean_squared_error(y_true, y_pred), "[0, inf)"),
            ("MAPE", 100.0 * mean_absolute_percentage_error(y_true, y_pred), "[0, inf) %")]
    header = f"{'Metric':<6} | {'Score':>9} | Range"
    lines = [header, "-" * (len(header) + 5)]
    lines += [f"{name:<6} | {value:>9.4f} | {valid}" for name, value, valid in rows]
    return "\n".join(lines)
