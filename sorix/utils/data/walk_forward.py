"""WalkForwardSplit: chronological train/validation folds for time series."""
import numbers


def _check_count(value, name, minimum, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _rows(data, start, stop):
    """Rows ``start:stop`` of an array, Tensor, list or pandas object (by position)."""
    if hasattr(data, "iloc"):
        return data.iloc[start:stop]
    return data[start:stop]


class WalkForwardSplit:
    """``WalkForwardSplit(n_splits=5, train_size=None, val_size=None, gap=0, expanding=None)``.

    Walk-forward validation: the data is taken to be in time order, and fold
    ``k`` validates on ``val_size`` consecutive samples that come after all of
    its training samples. The last fold ends at the last sample; each earlier
    one ends ``val_size`` samples before the next. ``gap`` samples between the
    training and validation windows are left out (a prediction horizon).

    * Expanding window (the default): fold ``k`` trains on every sample before
      its gap, so the training set grows from fold to fold.
    * Rolling window (``expanding=False``, or implied by giving ``train_size``):
      fold ``k`` trains on the ``train_size`` samples just before its gap (fewer
      in early folds that have less history, as TimeSeriesSplit's
      ``max_train_size``). Without ``train_size`` the window is as long as the
      first fold's history, so every fold trains on the same number of samples.

    ``val_size`` defaults to ``len(X) // (n_splits + 1)``. ``split`` yields
    slices of the data itself (not index arrays as scikit-learn's
    TimeSeriesSplit does), of the same kind as given: arrays, Tensors, lists,
    or pandas objects (sliced by position with ``.iloc``).
    """

    def __init__(self, n_splits=5, train_size=None, val_size=None, gap=0, expanding=None):
        n_splits = _check_count(n_splits, "n_splits", 1)
        gap = _check_count(gap, "gap", 0)
        train_size = _check_count(train_size, "train_size", 1, allow_none=True)
        val_size = _check_count(val_size, "val_size", 1, allow_none=True)
        if expanding is None:
            expanding = train_size is None  # a window length only means something rolling
        elif expanding and train_size is not None:
            raise ValueError("train_size only applies to a rolling window, but expanding=True "
                             "was requested: pass expanding=False for a fixed-size rolling "
                             "window, or drop train_size for an expanding one")
        self.n_splits = n_splits
        self.train_size = train_size
        self.val_size = val_size
        self.gap = gap
        self.expanding = bool(expanding)

    def get_n_splits(self, X=None, y=None):
        """The number of folds ``split`` yields."""
        return self.n_splits

    def _windows(self, n_samples):
        """``(train_start, train_stop, val_start, val_stop)`` for each fold."""
        val_size = self.val_size or max(1, n_samples // (self.n_splits + 1))
        first_val_start = n_samples - self.n_splits * val_size
        history = first_val_start - self.gap  # training samples available to the first fold
        if history < 1:
            raise ValueError(
                f"Not enough samples for {self.n_splits} chronological splits: "
                f"len(X)={n_samples} but {n_samples - history + 1} are required "
                f"(n_splits * val_size + gap + 1 = {self.n_splits} * {val_size} + "
                f"{self.gap} + 1). Reduce n_splits, val_size or gap.")
        window_length = self.train_size or history
        for k in range(self.n_splits):
            val_start = first_val_start + k * val_size
            train_stop = val_start - self.gap
            train_start = 0 if self.expanding else max(0, train_stop - window_length)
            yield train_start, train_stop, val_start, val_start + val_size

    def split(self, X, y=None):
        """Yield ``(train_X, train_y, val_X, val_y)`` per fold, or ``(train_X, val_X)``
        without ``y``. Raises ValueError when ``y`` and ``X`` differ in length or
        when the data cannot hold ``n_splits`` full folds."""
        n_samples = len(X)
        if y is not None and len(y) != n_samples:
            raise ValueError(f"X and y must have the same length, got len(X)={n_samples} "
                             f"and len(y)={len(y)}")
        windows = list(self._windows(n_samples))  # raises here, at the call, if they do not fit
        return self._folds(X, y, windows)

    @staticmethod
    def _folds(X, y, windows):
        for train_start, train_stop, val_start, val_stop in windows:
            train_X, val_X = _rows(X, train_start, train_stop), _rows(X, val_start, val_stop)
            if y is None:
                yield train_X, val_X
            else:
                yield (train_X, _rows(y, train_start, train_stop), val_X,
                       _rows(y, val_start, val_stop))

    def __repr__(self):
        return (f"WalkForwardSplit(n_splits={self.n_splits}, train_size={self.train_size}, "
                f"val_size={self.val_size}, gap={self.gap}, expanding={self.expanding})")
