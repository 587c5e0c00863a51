"""sorix.model_selection.train_test_split."""
import math

import numpy as np
import pytest

import sorix
from sorix.model_selection import train_test_split


def numbered(n, features=2):
    X = np.arange(n * features, dtype=np.float64).reshape(n, features)
    return X, X[:, 0] * 10  # y identifies its row of X


def rows_of(X_part):
    return (np.asarray(X_part)[:, 0] / 2).astype(int)


@pytest.mark.parametrize("n", [2, 3, 7, 10, 11, 100, 101])
@pytest.mark.parametrize("test_size", [0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 0.9])
def test_sizes_match_sklearn(n, test_size):
    sk = pytest.importorskip("sklearn.model_selection")
    X, y = numbered(n)
    try:
        expected = [len(part) for part in sk.train_test_split(X, test_size=test_size)]
    except ValueError:  # sklearn refuses an empty part, and so do we
        with pytest.raises(ValueError):
            train_test_split(X, test_size=test_size)
        return
    assert [len(part) for part in train_test_split(X, test_size=test_size)] == expected
    assert expected[1] == math.ceil(round(test_size * n, 9))


@pytest.mark.parametrize("seed", [0, 7, 42, 2**31])
def test_an_int_seed_gives_the_order_of_numpy_seed_then_permutation(seed):
    X, y = numbered(50)
    saved = np.random.get_state()
    np.random.seed(seed)
    order = np.random.permutation(50)
    np.random.set_state(saved)
    before = np.random.get_state()[1].copy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=seed)
    np.testing.assert_array_equal(rows_of(X_train), order[:40])
    np.testing.assert_array_equal(rows_of(X_test), order[40:])
    np.testing.assert_array_equal(y_train, X_train[:, 0] * 10)  # rows stay paired
    np.testing.assert_array_equal(y_test, X_test[:, 0] * 10)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # global state untouched


def test_default_seed_is_42_and_repeatable():
    X, y = numbered(30)
    first = train_test_split(X, y)
    for a, b in zip(first, train_test_split(X, y, random_state=42)):
        np.testing.assert_array_equal(a, b)


def test_none_draws_from_sorix_generator():
    X, _ = numbered(40)
    sorix.manual_seed(5)
    a_train, a_test = train_test_split(X, random_state=None)
    sorix.manual_seed(5)
    b_train, b_test = train_test_split(X, random_state=None)
    np.testing.assert_array_equal(a_train, b_train)
    np.random.seed(5)  # NumPy's global seed alone gives the same split (Sorix scripts)
    d_train, _ = train_test_split(X, random_state=None)
    np.testing.assert_array_equal(rows_of(d_train), rows_of(a_train))
    assert sorted(rows_of(a_train).tolist() + rows_of(a_test).tolist()) == list(range(40))
    c_train, _ = train_test_split(X, random_state=None)  # the stream moved on
    assert not np.array_equal(rows_of(c_train), rows_of(a_train))


def test_a_numpy_generator_is_used_as_given():
    X, _ = numbered(20)
    train, test = train_test_split(X, test_size=5, random_state=np.random.default_rng(3))
    order = np.random.default_rng(3).permutation(20)
    np.testing.assert_array_equal(rows_of(train), order[:15])
    np.testing.assert_array_equal(rows_of(test), order[15:])


def test_without_shuffle_the_test_part_is_the_tail():
    X, y = numbered(10)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, shuffle=False)
    np.testing.assert_array_equal(X_train, X[:7])
    np.testing.assert_array_equal(y_test, y[7:])


@pytest.mark.parametrize("seed", range(5))
def test_parts_partition_the_rows(seed):
    X, y = numbered(23)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.35, random_state=seed)
    rows = np.concatenate([rows_of(X_train), rows_of(X_test)])
    np.testing.assert_array_equal(np.sort(rows), np.arange(23))
    assert len(X_test) == math.ceil(0.35 * 23)


def test_pandas_objects_keep_their_index():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": np.arange(20), "b": np.arange(20) * 2.0},
                         index=[f"r{i}" for i in range(20)])
    labels = pd.Series(np.arange(20) * 10, index=frame.index)
    X_train, X_test, y_train, y_test = train_test_split(frame, labels, test_size=0.25,
                                                        random_state=1)
    assert isinstance(X_train, pd.DataFrame) and isinstance(y_test, pd.Series)
    assert list(X_train.index) == list(y_train.index)
    assert list(X_test.index) == list(y_test.index)
    assert sorted(X_train.index.tolist() + X_test.index.tolist()) == sorted(frame.index)
    np.testing.assert_array_equal(X_train["a"].to_numpy() * 10, y_train.to_numpy())
    np.testing.assert_array_equal(frame.index[np.random.RandomState(1).permutation(20)[:15]],
                                  X_train.index)


def test_tensors_and_lists_come_back_as_such():
    X, y = numbered(12)
    t = sorix.tensor(X.astype(np.float32))
    t_train, t_test, l_train, l_test = train_test_split(t, y.tolist(), test_size=4,
                                                        random_state=0)
    assert isinstance(t_train, sorix.Tensor) and t_train.dtype == sorix.float32
    assert t_train.shape == (8, 2) and t_test.shape == (4, 2)
    assert isinstance(l_train, list) and len(l_test) == 4
    np.testing.assert_array_equal(t_train.numpy()[:, 0] * 10, l_train)


def test_inputs_are_not_modified():
    X, y = numbered(15)
    saved = X.copy(), y.copy()
    train_test_split(X, y, random_state=3)
    np.testing.assert_array_equal(X, saved[0])
    np.testing.assert_array_equal(y, saved[1])


def test_errors_and_no_draw_on_error():
    X, y = numbered(10)
    sorix.manual_seed(0)
    keys, position = np.random.get_state()[1].copy(), np.random.get_state()[2]
    with pytest.raises(ValueError, match="same length"):
        train_test_split(X, y[:9], random_state=None)
    with pytest.raises(ValueError, match="between 0 and 1"):
        train_test_split(X, test_size=1.0, random_state=None)
    with pytest.raises(ValueError, match="between 0 and 1"):
        train_test_split(X, test_size=0.0)
    with pytest.raises(ValueError, match="between 1 and 9"):
        train_test_split(X, test_size=10)
    with pytest.raises(ValueError, match="leaves no training sample"):
        train_test_split(X, test_size=0.99)
    with pytest.raises(TypeError, match="test_size must be"):
        train_test_split(X, test_size=True)
    with pytest.raises(TypeError, match="random_state must be"):
        train_test_split(X, random_state="seed")
    with pytest.raises(TypeError, match="X must be"):
        train_test_split({"a": 1}, random_state=None)
    with pytest.raises(ValueError, match="at least 2 samples"):
        train_test_split(X[:1])
    np.testing.assert_array_equal(np.random.get_state()[1], keys)  # nothing was drawn
    assert np.random.get_state()[2] == position
