"""sorix.metrics.find_optimal_threshold against a brute-force search."""
import warnings

import numpy as np
import pytest

import sorix
from sorix.metrics import accuracy_score, f1_score, find_optimal_threshold


def scored(seed, n=300, noise=0.25):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, n)
    probs = np.clip(0.5 + (y_true - 0.5) * 0.4 + rng.normal(0, noise, n), 0.0, 1.0)
    return y_true, probs


def brute_force(y_true, probs, metric, n_thresholds):
    """Evaluate every grid point with a plain loop; first maximum wins."""
    thresholds = [k / n_thresholds for k in range(1, n_thresholds)]
    scores = [metric(y_true, (probs >= t).astype(int)) for t in thresholds]
    best = int(np.argmax(scores))
    return thresholds[best], scores[best]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_thresholds", [2, 7, 200])
def test_default_f1_equals_brute_force_with_sklearn(seed, n_thresholds):
    skm = pytest.importorskip("sklearn.metrics")
    y_true, probs = scored(seed)
    expected = brute_force(y_true, probs,
                           lambda t, p: skm.f1_score(t, p, zero_division=0.0), n_thresholds)
    threshold, score = find_optimal_threshold(y_true, probs, n_thresholds=n_thresholds)
    assert type(threshold) is float and type(score) is float
    assert threshold == pytest.approx(expected[0], abs=1e-12)
    assert score == pytest.approx(expected[1], rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_default_f1_equals_our_f1_on_ties_and_grid_points(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 2, 60)
    probs = rng.integers(0, 11, 60) / 10  # many probabilities exactly on grid points
    expected = brute_force(y_true, probs, lambda t, p: f1_score(t, p, zero_division=0), 20)
    assert find_optimal_threshold(y_true, probs, n_thresholds=20) == \
        pytest.approx(expected, abs=1e-12)


def test_custom_metric_equals_brute_force():
    y_true, probs = scored(9, noise=0.4)
    assert find_optimal_threshold(y_true, probs, accuracy_score, n_thresholds=50) == \
        pytest.approx(brute_force(y_true, probs, accuracy_score, 50))


def test_ties_go_to_the_smallest_threshold():
    y_true = np.array([0, 1, 1])
    probs = np.array([0.0, 0.9, 1.0])  # every t in (0, 0.9] separates perfectly
    assert find_optimal_threshold(y_true, probs, n_thresholds=10) == (0.1, 1.0)


def test_no_positive_label_scores_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threshold, score = find_optimal_threshold(np.zeros(20, dtype=int),
                                                  np.linspace(0, 1, 20))
    assert (threshold, score) == (0.005, 0.0)


def test_tensor_inputs_give_the_float64_answer():
    y_true, probs = scored(2)
    probs32 = probs.astype(np.float32)
    expected = find_optimal_threshold(y_true, probs32.astype(np.float64))
    assert find_optimal_threshold(sorix.tensor(y_true.astype(np.float32)),
                                  sorix.tensor(probs32)) == expected


def test_metric_failing_at_some_thresholds_is_skipped():
    y_true, probs = scored(3)

    def strict(t, p):
        if p.mean() > 0.6:
            raise ValueError("too many positives")
        return accuracy_score(t, p)

    threshold, score = find_optimal_threshold(y_true, probs, strict, n_thresholds=40)
    allowed = [k / 40 for k in range(1, 40) if (probs >= k / 40).mean() <= 0.6]
    best = max(allowed, key=lambda t: accuracy_score(y_true, (probs >= t).astype(int)))
    assert threshold == pytest.approx(best)


def test_errors():
    y_true, probs = scored(0, n=10)

    def broken(t, p):
        raise KeyError("broken")

    with pytest.raises(RuntimeError, match="failed for all 9 candidate") as caught:
        find_optimal_threshold(y_true, probs, broken, n_thresholds=10)
    assert isinstance(caught.value.__cause__, KeyError)
    with pytest.raises(ValueError, match="n_thresholds must be >= 2"):
        find_optimal_threshold(y_true, probs, n_thresholds=1)
    with pytest.raises(TypeError, match="n_thresholds must be an int"):
        find_optimal_threshold(y_true, probs, n_thresholds=10.0)
    with pytest.raises(ValueError, match="must not be empty"):
        find_optimal_threshold([], [])
    with pytest.raises(ValueError, match="same number of elements, got 10 and 9"):
        find_optimal_threshold(y_true, probs[:9])
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        find_optimal_threshold(y_true, probs * 3 - 1)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        find_optimal_threshold(y_true, np.where(y_true == 1, np.nan, 0.2))
    with pytest.raises(ValueError, match="0/1 labels"):
        find_optimal_threshold(y_true + 1, probs)
    with pytest.raises(RuntimeError, match="NaN at every"):
        find_optimal_threshold(y_true, probs, lambda t, p: float("nan"))
