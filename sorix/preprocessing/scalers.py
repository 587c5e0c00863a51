"""Feature scalers: ``(x - center) / scale`` per column, and its inverse.

==============  ====================  ==============================
scaler          center                scale
==============  ====================  ==============================
MinMaxScaler    column minimum        max - min
StandardScaler  column mean           standard deviation (ddof=0)
RobustScaler    column median         interquartile range q3 - q1
==============  ====================  ==============================

Decisions shared by the three:

- A column whose scale is 0 (a constant column, or an interquartile range of
  0) gets scale 1, as scikit-learn does: it transforms to exactly 0 and back,
  with no division by zero. A constant column's center is its value exactly.
- NaN or infinity in ``fit`` or ``transform`` is a ValueError naming the
  columns; ``inverse_transform`` passes them through.
- Statistics are float64 and the arithmetic runs in float64, rounded once
  to the result's dtype: a float32 or float64 input keeps its dtype, other
  inputs give float64. Results are NumPy arrays, as in Sorix; a 1-D
  input (one column) gives a 1-D result.
- Using a scaler before ``fit`` raises a ValueError ("You must call fit()").
"""
import numpy as np

from ._data import (check_width, column_range, default_names, float_dtype, not_fitted,
                    read_numeric)


class _Scaler:
    """What the scalers share: reading input, the transform and its inverse, state."""

    _stats = ()  # the fitted arrays' attribute names, in Sorix's spelling

    def __init__(self):
        self.numerical_features = []
        self.n_features = 0
        for name in self._stats:
            setattr(self, name, None)

    # -- what each scaler defines ----------------------------------------------------------
    def _fit_stats(self, values, low, high):
        """The fitted arrays (float64, one value per column) for ``_stats``."""
        raise NotImplementedError

    def _center_and_scale(self):
        """(center, scale) float64 arrays with the zero scales already replaced by 1."""
        raise NotImplementedError

    # -- the common API ----------------------------------------------------------------------
    def _owner(self):
        return type(self).__name__

    def _is_fitted(self):
        return all(getattr(self, name) is not None for name in self._stats)

    def _read(self, X, action):
        if not self._is_fitted():
            raise not_fitted(self._owner(), action)
        values, _, was_1d = read_numeric(X, self._owner(), self.numerical_features)
        check_width(values.shape[1], was_1d, len(self._stats_array()), self._owner())
        return values, was_1d

    def _stats_array(self):
        return getattr(self, self._stats[0])

    def fit(self, X):
        """Learn the per-column statistics of ``X``; returns self."""
        values, names, _ = read_numeric(X, self._owner())
        if values.shape[0] == 0:
            raise ValueError(f"{self._owner()}.fit needs at least one sample, got 0 rows")
        if values.shape[1] == 0:
            raise ValueError(f"{self._owner()}.fit needs at least one column, got 0")
        low, high = column_range(values, names, self._owner(), "fit")
        stats = self._fit_stats(values, low, high)
        # Everything is computed before anything is stored: a failed fit changes nothing.
        self.numerical_features = names if names is not None else default_names(values.shape[1])
        self.n_features = values.shape[1]
        for name, value in zip(self._stats, stats):
            setattr(self, name, value)
        return self

    def transform(self, X):
        """``(X - center) / scale`` per column, as a new array."""
        values, was_1d = self._read(X, "transform")
        if values.shape[0]:
            column_range(values, self.numerical_features, self._owner(), "transform")
        center, scale = self._center_and_scale()
        out = values - center  # float64, the statistics' dtype: a new array, never X itself
        out /= scale
        return _finish(out, values, was_1d)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        """``X * scale + center`` per column, as a new array."""
        values, was_1d = self._read(X, "inverse_transform")
        center, scale = self._center_and_scale()
        out = values * scale
        out += center
        return _finish(out, values, was_1d)

    def get_features_names(self):
        """The input column names (F0, F1, ... for unnamed data); a scaler keeps them."""
        return list(self.numerical_features)

    # -- state -------------------------------------------------------------------------------
    def state_dict(self):
        """Sorix's layout: ``numerical_features``, ``n_features`` and the fitted arrays."""
        state = {"numerical_features": list(self.numerical_features),
                 "n_features": self.n_features}
        for name in self._stats:
            value = getattr(self, name)
            state[name] = None if value is None else np.array(value, dtype=np.float64)
        return state

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned; checks it all before changing anything."""
        self._apply_state(self._validated_state(state_dict))
        return self

    def _validated_state(self, state):
        owner = f"{self._owner()}.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{owner} expects a dict, got {type(state).__name__}")
        known = {"numerical_features", "n_features", *self._stats}
        unknown = sorted(map(str, set(state) - known))
        missing = sorted(set(self._stats) - set(state))
        if unknown or missing:
            raise ValueError(f"{owner}: unexpected keys {unknown}, missing keys {missing}")
        stats = [state[name] for name in self._stats]
        if all(value is None for value in stats):
            return [], 0, [None] * len(stats)
        if any(value is None for value in stats):
            raise ValueError(f"{owner}: {list(self._stats)} must all be arrays or all None")
        try:
            arrays = [np.array(value, dtype=np.float64).reshape(-1) for value in stats]
        except (TypeError, ValueError):
            raise TypeError(f"{owner}: {list(self._stats)} must be numeric arrays") from None
        width = arrays[0].size
        if width == 0 or any(a.size != width for a in arrays):
            raise ValueError(f"{owner}: {list(self._stats)} must have the same nonzero length, "
                             f"got {[a.size for a in arrays]}")
        names = state.get("numerical_features")
        names = default_names(width) if names is None else list(names)
        n_features = state.get("n_features", width)
        if len(names) != width or n_features != width:
            raise ValueError(f"{owner}: {len(names)} feature names and n_features={n_features} "
                             f"do not match the {width} fitted columns")
        return names, width, arrays

    def _apply_state(self, validated):
        self.numerical_features, self.n_features, arrays = validated
        for name, value in zip(self._stats, arrays):
            setattr(self, name, value)

    def __repr__(self):
        if not self._is_fitted():
            return f"{self._owner()}()"
        return f"{self._owner()}(numerical_features={self.numerical_features})"


def _finish(out, values, was_1d):
    """Round the float64 result once to the input's float dtype; 1-D in gives 1-D out."""
    out = out.astype(float_dtype(values), copy=False)
    return out.reshape(-1) if was_1d else out


def _safe_scale(scale):
    """Zero scales (constant columns) become 1, so they transform to 0 and back."""
    return np.where(scale == 0, 1.0, scale)


def _optional(value):
    return None if value is None else np.asarray(value, dtype=np.float64)


class MinMaxScaler(_Scaler):
    """Scales each column to [0, 1]: ``(x - data_min_) / (data_max_ - data_min_)``."""

    _stats = ("min", "max")

    def _fit_stats(self, values, low, high):
        return low, high

    def _center_and_scale(self):
        return self.min, _safe_scale(self.max - self.min)

    @property
    def data_min_(self):
        return self.min

    @data_min_.setter
    def data_min_(self, value):
        self.min = _optional(value)

    @property
    def data_max_(self):
        return self.max

    @data_max_.setter
    def data_max_(self, value):
        self.max = _optional(value)

    @property
    def data_range_(self):
        return None if not self._is_fitted() else self.max - self.min

    @property
    def scale_(self):
        """``1 / data_range_``, with a zero range counted as 1 (scikit-learn's convention)."""
        return None if not self._is_fitted() else 1.0 / _safe_scale(self.max - self.min)

    @property
    def min_(self):
        """``-data_min_ * scale_``: the transform is ``x * scale_ + min_``."""
        return None if not self._is_fitted() else -self.min * self.scale_


class StandardScaler(_Scaler):
    """Standardizes each column: ``(x - mean_) / scale_``, ``scale_`` the (ddof=0) std."""

    _stats = ("mean", "std")

    def _fit_stats(self, values, low, high):
        mean = values.mean(axis=0, dtype=np.float64)
        std = values.std(axis=0, dtype=np.float64)
        constant = low == high
        # Rounding can leave a constant column a mean a hair off its value and a tiny std:
        # pin both, so the column transforms to exactly 0.
        return np.where(constant, low, mean), np.where(constant, 0.0, std)

    def _center_and_scale(self):
        return self.mean, _safe_scale(self.std)

    @property
    def mean_(self):
        return self.mean

    @mean_.setter
    def mean_(self, value):
        self.mean = _optional(value)

    @property
    def scale_(self):
        """The standard deviation, with 0 (a constant column) counted as 1."""
        return None if self.std is None else _safe_scale(self.std)

    @scale_.setter
    def scale_(self, value):
        self.std = _optional(value)

    @property
    def var_(self):
        return None if self.std is None else self.std ** 2

    @var_.setter
    def var_(self, value):
        self.std = None if value is None else np.sqrt(_optional(value))


class RobustScaler(_Scaler):
    """Scales with statistics robust to outliers: ``(x - median) / (q3 - q1)``.

    Quantiles use NumPy's default linear interpolation (as scikit-learn does).
    """

    _stats = ("median", "q1", "q3")

    def _fit_stats(self, values, low, high):
        q1, median, q3 = np.quantile(values, [0.25, 0.5, 0.75], axis=0).astype(np.float64)
        return median, q1, q3

    def _center_and_scale(self):
        return self.median, _safe_scale(self.q3 - self.q1)

    @property
    def center_(self):
        return self.median

    @center_.setter
    def center_(self, value):
        self.median = _optional(value)

    @property
    def scale_(self):
        """The interquartile range, with 0 counted as 1."""
        return None if not self._is_fitted() else _safe_scale(self.q3 - self.q1)
