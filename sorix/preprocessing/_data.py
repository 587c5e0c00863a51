"""Reading the inputs the transformers accept, and the checks they share.

Inputs are NumPy arrays, (nested) lists, sorix Tensors and pandas DataFrames or
Series. pandas is recognised by duck typing (``columns``/``to_numpy``), never
imported. A 1-D input is one column, as in Sorix. Nothing here writes to the
caller's data: arrays are read, and new arrays are returned.
"""
import numpy as np

from ..tensor import Tensor

_ACCEPTED = "a NumPy array, a list, a sorix Tensor or a pandas DataFrame"


class NotFittedError(ValueError, AttributeError):
    """A transformer was used before ``fit`` (a ValueError, as in Sorix)."""


def default_names(n):
    """Sorix's names for unnamed columns: F0, F1, ..."""
    return [f"F{i}" for i in range(n)]


def is_frame(X):
    return hasattr(X, "columns") and hasattr(X, "to_numpy") and getattr(X, "ndim", None) == 2


def is_series(X):
    return (hasattr(X, "to_numpy") and hasattr(X, "index") and hasattr(X, "name")
            and getattr(X, "ndim", None) == 1)


def not_fitted(owner, action):
    return NotFittedError(f"This {owner} is not fitted yet. You must call fit() or "
                          f"fit_transform() before {action}().")


def _as_array(X, owner):
    if isinstance(X, np.ndarray):
        return X
    if isinstance(X, Tensor):
        return X.data if isinstance(X.data, np.ndarray) else np.asarray(X.cpu().data)
    if isinstance(X, (list, tuple)):
        try:
            return np.asarray(X)
        except ValueError as exc:  # ragged rows
            raise ValueError(f"{owner}: the rows of the list have different lengths "
                             f"({exc})") from None
    raise TypeError(f"Input must be {_ACCEPTED}; {owner} got {type(X).__name__}.")


def select_frame(X, fitted_names, owner):
    """Columns of a DataFrame in the order they were fitted, by name.

    Names generated for unnamed columns (F0, F1, ...) are not matched: such a
    transformer reads a DataFrame's columns by position.
    """
    names = list(X.columns)
    if fitted_names is None or names == list(fitted_names):
        return X
    missing = [c for c in fitted_names if c not in names]
    if not missing:
        return X[list(fitted_names)]
    if list(fitted_names) == default_names(len(fitted_names)):
        return X
    raise ValueError(f"{owner}: the DataFrame lacks the column(s) {missing} it was fitted "
                     f"on; it has {names}")


def read_columns(X, owner, fitted_names=None):
    """``(columns, names, was_1d)``: a list of 1-D arrays, one per column (each keeps its own
    dtype, so a DataFrame of numbers and strings is not turned into objects), their names
    (None for unnamed data) and whether the input was 1-D."""
    if is_frame(X):
        X = select_frame(X, fitted_names, owner)
        # na_value: None and pandas NA in object columns arrive as NaN, one kind of missing.
        return ([_series_values(X.iloc[:, j]) for j in range(X.shape[1])], list(X.columns),
                False)
    if is_series(X):
        return [_series_values(X)], [X.name if X.name is not None else "F0"], True
    values = _as_array(X, owner)
    if values.ndim == 1:
        return [values], None, True
    _check_2d(values, owner)
    return [values[:, j] for j in range(values.shape[1])], None, False


def _series_values(series):
    values = series.to_numpy()
    if values.dtype.kind == "O":
        values = series.to_numpy(dtype=object, na_value=np.nan)
    return values


def read_numeric(X, owner, fitted_names=None):
    """``(values, names, was_1d)`` with ``values`` a 2-D numeric array (a view where possible)."""
    if is_frame(X):
        X = select_frame(X, fitted_names, owner)
        names = list(X.columns)
        values = X.to_numpy()
        if values.dtype.kind == "b":
            values = values.astype(np.float64)
        if values.dtype.kind not in "biuf":
            bad = [c for c, dt in zip(names, X.dtypes) if getattr(dt, "kind", "O") not in "biuf"]
            try:  # object columns of numbers, pandas' nullable integers (NA becomes NaN)
                values = X.to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise TypeError(f"{owner} needs numeric columns; {bad} are not numeric. Encode "
                                "categories with OneHotEncoder (or a ColumnTransformer).") from None
        return values, names, False
    if is_series(X):
        values, names, _ = read_numeric(X.to_frame(), owner, fitted_names)
        return values, names, True
    values = _as_array(X, owner)
    was_1d = values.ndim == 1
    if was_1d:
        values = values.reshape(-1, 1)
    _check_2d(values, owner)
    if values.dtype.kind == "b":  # NumPy's quantiles cannot subtract booleans
        return values.astype(np.float64), None, was_1d
    if values.dtype.kind not in "biuf":
        try:
            if values.dtype.kind not in "O":
                raise TypeError
            values = values.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{owner} needs numeric data, got an array of {values.dtype}. Encode "
                            "categories with OneHotEncoder (or a ColumnTransformer).") from None
    return values, None, was_1d


def _check_2d(values, owner):
    if values.ndim != 2:
        raise ValueError(f"{owner} expects a 2-D array (n_samples, n_features) or a 1-D column; "
                         f"got {values.ndim}-D data of shape {values.shape}")


def check_width(n_columns, was_1d, n_fitted, owner):
    if n_columns != n_fitted:
        if was_1d:
            raise ValueError(f"{owner}: X is 1-D, which is read as one column, but it was fitted "
                             f"on {n_fitted} columns. For one sample, pass a 2-D row: "
                             "x.reshape(1, -1).")
        raise ValueError(f"{owner}: X has {n_columns} column(s), but it was fitted on {n_fitted}.")


def float_dtype(values):
    """The dtype results come in: float32 and float64 inputs keep theirs, the rest is float64."""
    return values.dtype if values.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def column_range(values, names, owner, action):
    """Per-column (min, max) in float64, refusing NaN and infinity with the columns named."""
    low = values.min(axis=0).astype(np.float64)
    high = values.max(axis=0).astype(np.float64)
    if values.dtype.kind == "f":
        bad = ~(np.isfinite(low) & np.isfinite(high))  # NaN propagates; inf is the min or max
        if bad.any():
            labels = names if names is not None else default_names(values.shape[1])
            columns = [labels[j] for j in np.flatnonzero(bad)]
            raise ValueError(f"{owner}.{action}: column(s) {columns} contain NaN or infinity. "
                             "Fill or drop missing values first (e.g. df.fillna(...) or "
                             "df.dropna()).")
    return low, high
