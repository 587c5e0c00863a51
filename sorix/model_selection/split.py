"""train_test_split: one shuffled (or ordered) split into a training and a test part."""
import math
import numbers

import numpy as np

from .. import random as _random
from ..tensor import Tensor


def _length(data, name):
    """Number of rows, after checking that ``data`` is a container this module can split."""
    if not (hasattr(data, "iloc") or isinstance(data, (np.ndarray, Tensor, list, tuple))):
        raise TypeError(f"{name} must be a NumPy array, a Tensor, a list or a pandas "
                        f"DataFrame/Series, got {type(data).__name__}")
    if getattr(data, "ndim", 1) == 0:
        raise TypeError(f"{name} must be a sequence of samples, got a 0-d array")
    return len(data)


def _take(data, rows):
    """The given rows of ``data``, as the same kind of container."""
    if hasattr(data, "iloc"):  # a pandas DataFrame or Series keeps its index
        return data.iloc[rows]
    if isinstance(data, (np.ndarray, Tensor)):
        return data[rows]
    return [data[i] for i in rows.tolist()]  # a list (or tuple) of arbitrary samples


def _test_count(test_size, n_samples):
    """Number of test samples for a fraction in (0, 1) or an absolute count."""
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a float in (0, 1) or an int count, "
                        f"got {type(test_size).__name__}")
    if isinstance(test_size, numbers.Integral):
        n_test = int(test_size)
        if not 1 <= n_test < n_samples:
            raise ValueError(f"test_size={n_test} as a count must be between 1 and "
                             f"{n_samples - 1} for {n_samples} samples")
        return n_test
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1 (a fraction), got {test_size}")
    # rounding first keeps 0.3 * 10 = 3.0000000000000004 from becoming 4 test samples
    n_test = math.ceil(round(test_size * n_samples, 9))
    if n_test >= n_samples:
        raise ValueError(f"test_size={test_size} with {n_samples} samples leaves no training "
                         f"sample: lower test_size or pass more data")
    return n_test


def _permutation(n_samples, random_state):
    if random_state is None:
        return _random.generator().permutation(n_samples)
    if isinstance(random_state, (np.random.Generator, np.random.RandomState)):
        return random_state.permutation(n_samples)
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError(f"random_state must be an int, None (sorix's generator, seeded by "
                        f"sorix.manual_seed) or a NumPy generator, "
                        f"got {type(random_state).__name__}")
    # A private legacy generator: the same order as np.random.seed(s) followed by
    # np.random.permutation(n), without touching NumPy's global state.
    return np.random.RandomState(int(random_state)).permutation(n_samples)


def train_test_split(X, Y=None, test_size=0.2, random_state=42, shuffle=True):
    """Split ``X`` (and ``Y`` alongside it) into training and test rows.

    ``test_size`` is the test share in (0, 1), rounded up to whole samples
    (``ceil(test_size * n)``), or an int count. With ``shuffle=True`` the rows
    are permuted first: an int ``random_state`` (default 42) gives the same
    split every time, ``None`` draws from sorix's generator (so
    ``sorix.manual_seed`` governs it), and a ``numpy.random.Generator`` is used
    as given. ``shuffle=False`` keeps the order: the test part is the tail.

    Arrays, Tensors, lists and pandas DataFrames/Series are accepted and
    returned as the same kind (pandas keeps the original index). Inputs are
    never modified. Returns ``(X_train, X_test, Y_train, Y_test)``, or
    ``(X_train, X_test)`` without ``Y``.
    """
    n_samples = _length(X, "X")
    if Y is not None and _length(Y, "Y") != n_samples:
        raise ValueError(f"X and Y must have the same length, got len(X)={n_samples} and "
                         f"len(Y)={len(Y)}")
    if n_samples < 2:
        raise ValueError(f"train_test_split needs at least 2 samples, got {n_samples}")
    n_train = n_samples - _test_count(test_size, n_samples)
    rows = _permutation(n_samples, random_state) if shuffle else np.arange(n_samples)
    train_rows, test_rows = rows[:n_train], rows[n_train:]
    parts = [_take(X, train_rows), _take(X, test_rows)]
    if Y is not None:
        parts += [_take(Y, train_rows), _take(Y, test_rows)]
    return tuple(parts)
