"""sorix.utils.data.WalkForwardSplit against scikit-learn's TimeSeriesSplit and closed forms."""
import numpy as np
import pytest

import sorix
from sorix.utils.data import WalkForwardSplit


def positions(n):
    """X whose first column is the row number, so a fold shows which rows it took."""
    return np.arange(n, dtype=np.float64).reshape(n, 1) * np.array([[1.0, -1.0]]), \
        np.arange(n) * 10


def fold_rows(splitter, n):
    X, y = positions(n)
    folds = []
    for train_X, train_y, val_X, val_y in splitter.split(X, y):
        np.testing.assert_array_equal(train_y, train_X[:, 0] * 10)
        np.testing.assert_array_equal(val_y, val_X[:, 0] * 10)
        folds.append((train_X[:, 0].astype(int), val_X[:, 0].astype(int)))
    return folds


CASES = [dict(n_splits=5), dict(n_splits=3, val_size=7), dict(n_splits=4, val_size=10, gap=3),
         dict(n_splits=1), dict(n_splits=6, val_size=5, train_size=12),
         dict(n_splits=2, gap=4, train_size=30)]


@pytest.mark.parametrize("n", [60, 97, 200])
@pytest.mark.parametrize("case", CASES)
def test_folds_match_sklearn_time_series_split(n, case):
    sk = pytest.importorskip("sklearn.model_selection")
    if case["n_splits"] == 1:
        pytest.skip("TimeSeriesSplit needs n_splits >= 2 (see the closed-form tests)")
    ours = fold_rows(WalkForwardSplit(**case), n)
    theirs = sk.TimeSeriesSplit(n_splits=case["n_splits"], test_size=case.get("val_size"),
                                gap=case.get("gap", 0), max_train_size=case.get("train_size"))
    expected = list(theirs.split(np.zeros(n)))
    assert len(ours) == len(expected) == case["n_splits"]
    for (train, val), (train_ref, val_ref) in zip(ours, expected):
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(val, val_ref)


@pytest.mark.parametrize("n,n_splits,val_size,gap", [(50, 4, 6, 0), (31, 3, 5, 2), (9, 8, 1, 0),
                                                     (40, 1, 10, 0), (40, 1, 10, 29)])
def test_expanding_windows_in_closed_form(n, n_splits, val_size, gap):
    folds = fold_rows(WalkForwardSplit(n_splits=n_splits, val_size=val_size, gap=gap), n)
    for k, (train, val) in enumerate(folds):
        val_start = n - (n_splits - k) * val_size
        np.testing.assert_array_equal(val, np.arange(val_start, val_start + val_size))
        np.testing.assert_array_equal(train, np.arange(0, val_start - gap))
    assert folds[-1][1][-1] == n - 1


def test_rolling_without_train_size_keeps_the_first_folds_length():
    splitter = WalkForwardSplit(n_splits=4, val_size=10, gap=2, expanding=False)
    folds = fold_rows(splitter, 70)
    history = 70 - 4 * 10 - 2
    for k, (train, val) in enumerate(folds):
        assert len(train) == history
        assert train[-1] == val[0] - 3
    assert splitter.expanding is False and splitter.train_size is None


def test_train_size_implies_rolling_and_contradiction_raises():
    assert WalkForwardSplit(train_size=5).expanding is False
    assert WalkForwardSplit().expanding is True
    with pytest.raises(ValueError, match="train_size only applies to a rolling window"):
        WalkForwardSplit(train_size=5, expanding=True)


def test_without_y_yields_pairs_and_keeps_the_container():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"v": np.arange(30.0)}, index=np.arange(30)[::-1])  # index != position
    series = pd.Series(np.arange(30) * 2, index=frame.index)
    folds = list(WalkForwardSplit(n_splits=2, val_size=5).split(frame, series))
    train_X, train_y, val_X, val_y = folds[1]
    assert isinstance(val_X, pd.DataFrame) and isinstance(val_y, pd.Series)
    np.testing.assert_array_equal(val_X["v"], np.arange(25.0, 30.0))  # by position
    np.testing.assert_array_equal(train_y, np.arange(25) * 2)
    tensor_folds = list(WalkForwardSplit(n_splits=2, val_size=5).split(
        sorix.tensor(np.arange(30.0).reshape(30, 1))))
    assert all(len(fold) == 2 for fold in tensor_folds)
    train_t, val_t = tensor_folds[0]
    assert isinstance(train_t, sorix.Tensor) and train_t.shape == (20, 1)
    assert val_t.numpy().ravel().tolist() == [20.0, 21.0, 22.0, 23.0, 24.0]
    list_folds = list(WalkForwardSplit(n_splits=3, val_size=2).split(list("abcdefghij")))
    assert list_folds[0] == (list("abcd"), list("ef"))


def test_not_enough_samples_raises_at_the_call():
    splitter = WalkForwardSplit(n_splits=5, val_size=10, gap=9)
    assert len(list(splitter.split(np.zeros(60)))) == 5  # 5*10 + 9 + 1
    with pytest.raises(ValueError, match=r"Not enough samples .* len\(X\)=59 but 60"):
        splitter.split(np.zeros(59))  # no need to iterate
    rolling = WalkForwardSplit(n_splits=3, val_size=10, train_size=20)
    # a rolling window is at most train_size long: the first fold has 1 sample of history
    assert [len(train) for train, _ in rolling.split(np.zeros(31))] == [1, 11, 20]
    with pytest.raises(ValueError, match="Not enough samples"):
        rolling.split(np.zeros(30))


def test_validation_of_arguments():
    for kwargs, message in [(dict(n_splits=0), "n_splits must be >= 1"),
                            (dict(gap=-1), "gap must be >= 0"),
                            (dict(val_size=0), "val_size must be >= 1"),
                            (dict(train_size=0), "train_size must be >= 1")]:
        with pytest.raises(ValueError, match=message):
            WalkForwardSplit(**kwargs)
    with pytest.raises(TypeError, match="n_splits must be an int"):
        WalkForwardSplit(n_splits=2.5)
    with pytest.raises(ValueError, match="same length"):
        WalkForwardSplit(n_splits=2).split(np.zeros(30), np.zeros(29))


def test_get_n_splits_and_repr():
    splitter = WalkForwardSplit(n_splits=4, train_size=12, val_size=3, gap=1)
    assert splitter.get_n_splits() == 4
    assert repr(splitter) == ("WalkForwardSplit(n_splits=4, train_size=12, val_size=3, gap=1, "
                              "expanding=False)")
