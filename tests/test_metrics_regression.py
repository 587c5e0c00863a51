"""sorix.metrics regression scores against scikit-learn and their formulas."""
import numpy as np
import pytest

import sorix
from sorix.metrics import (mean_absolute_error, mean_absolute_percentage_error,
                           mean_squared_error, r2_score, regression_report,
                           root_mean_squared_error)

METRICS = {"mean_squared_error": mean_squared_error,
           "root_mean_squared_error": root_mean_squared_error,
           "mean_absolute_error": mean_absolute_error,
           "mean_absolute_percentage_error": mean_absolute_percentage_error,
           "r2_score": r2_score}


def pair(seed, shape):
    rng = np.random.default_rng(seed)
    y_true = rng.normal(3.0, 2.0, shape)
    return y_true, y_true + rng.normal(0.0, 0.7, shape)


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("shape", [(1,), (2,), (37,), (25, 1), (30, 3)])
def test_every_metric_matches_sklearn(seed, shape):
    skm = pytest.importorskip("sklearn.metrics")
    y_true, y_pred = pair(seed, shape)
    for name, ours in METRICS.items():
        if name == "r2_score" and shape[0] < 2:
            continue  # sklearn returns NaN with a warning for one sample
        expected = getattr(skm, name)(y_true, y_pred)
        got = ours(y_true, y_pred)
        assert type(got) is float
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), name


def test_formulas_on_a_worked_example():
    y_true = np.array([3.0, -0.5, 2.0, 7.0])
    y_pred = np.array([2.5, 0.0, 2.0, 8.0])
    errors = y_pred - y_true  # [-0.5, 0.5, 0, 1]
    assert mean_squared_error(y_true, y_pred) == pytest.approx((0.25 + 0.25 + 0 + 1) / 4)
    assert root_mean_squared_error(y_true, y_pred) == pytest.approx(np.sqrt(1.5 / 4))
    assert mean_absolute_error(y_true, y_pred) == pytest.approx(2.0 / 4)
    assert mean_absolute_percentage_error(y_true, y_pred) == pytest.approx(
        (0.5 / 3 + 0.5 / 0.5 + 0 + 1 / 7) / 4)
    total = np.sum((y_true - y_true.mean()) ** 2)
    assert r2_score(y_true, y_pred) == pytest.approx(1 - np.sum(errors ** 2) / total)


def test_multi_output_averages_the_outputs():
    y_true, y_pred = pair(3, (40, 2))
    per_output_rmse = np.sqrt(np.mean((y_true - y_pred) ** 2, axis=0))
    assert root_mean_squared_error(y_true, y_pred) == pytest.approx(per_output_rmse.mean())
    r2 = [1 - np.sum((y_true[:, j] - y_pred[:, j]) ** 2)
          / np.sum((y_true[:, j] - y_true[:, j].mean()) ** 2) for j in range(2)]
    assert r2_score(y_true, y_pred) == pytest.approx(np.mean(r2))


def test_r2_of_a_constant_target():
    assert r2_score([2.0, 2.0, 2.0], [2.0, 2.0, 2.0]) == 1.0
    assert r2_score([2.0, 2.0, 2.0], [2.0, 2.5, 2.0]) == 0.0
    assert r2_score([1.0, 2.0], [1.0, 2.0]) == 1.0


def test_mape_with_a_zero_target_is_large_but_finite():
    value = mean_absolute_percentage_error([1.0, 0.0], [1.0, 1.0])
    assert np.isfinite(value)
    assert value == pytest.approx(1.0 / np.finfo(np.float64).eps / 2)


def test_float32_tensors_are_scored_in_float64():
    y_true, y_pred = pair(1, (1000,))
    t_true = sorix.tensor(y_true.astype(np.float32))
    t_pred = sorix.tensor(y_pred.astype(np.float32))
    exact_true, exact_pred = y_true.astype(np.float32).astype(np.float64), \
        y_pred.astype(np.float32).astype(np.float64)
    for ours in METRICS.values():
        assert ours(t_true, t_pred) == pytest.approx(ours(exact_true, exact_pred), rel=1e-14)


def test_lists_series_tensors_and_columns_agree():
    pd = pytest.importorskip("pandas")
    y_true, y_pred = pair(4, (20,))
    forms = [(y_true.tolist(), y_pred.tolist()), (pd.Series(y_true), pd.Series(y_pred)),
             (sorix.tensor(y_true), sorix.tensor(y_pred)),
             (y_true, y_pred.reshape(-1, 1)), (y_true.reshape(-1, 1), y_pred.reshape(-1, 1))]
    for ours in METRICS.values():
        expected = ours(y_true, y_pred)
        for a, b in forms:
            assert ours(a, b) == pytest.approx(expected, rel=1e-15)


def test_requires_grad_tensors_are_read():
    predictions = sorix.tensor([1.0, 2.0], requires_grad=True)
    assert mean_squared_error(sorix.tensor([1.0, 3.0]), predictions) == 0.5


@pytest.mark.parametrize("ours", list(METRICS.values()) + [regression_report])
def test_bad_inputs_raise(ours):
    with pytest.raises(ValueError, match="must have the same shape"):
        ours([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="must have the same shape"):
        ours(np.zeros(4), np.zeros((4, 2)))  # would broadcast to (4, 4) silently
    with pytest.raises(ValueError, match="must not be empty"):
        ours([], [])
    with pytest.raises(TypeError, match="must be numeric"):
        ours(["a", "b"], [1.0, 2.0])


def test_regression_report_lists_each_metric():
    y_true, y_pred = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]
    lines = regression_report(y_true, y_pred).splitlines()
    assert lines[0].split("|")[0].strip() == "Metric"
    values = {line.split("|")[0].strip(): float(line.split("|")[1]) for line in lines[2:]}
    assert values == pytest.approx({
        "R2": round(r2_score(y_true, y_pred), 4),
        "MAE": round(mean_absolute_error(y_true, y_pred), 4),
        "MSE": round(mean_squared_error(y_true, y_pred), 4),
        "RMSE": round(root_mean_squared_error(y_true, y_pred), 4),
        "MAPE": round(100 * mean_absolute_percentage_error(y_true, y_pred), 4)})
