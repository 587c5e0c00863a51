"""One-hot encoding of categorical columns.

Each input column with categories ``c_0 < c_1 < ... < c_{k-1}`` (sorted, as
``np.unique`` gives them) becomes ``k`` output columns; a row holding ``c_i``
has a 1 in the i-th of them and 0 elsewhere. Output columns are named
``<column>_<category>`` and come as float64, as in Sorix.

Decisions:

- A category not seen in ``fit`` is a ValueError naming it, unless the encoder
  was made with ``handle_unknown='ignore'`` (then its row is all zeros).
- Missing values (NaN, None, pandas NA) are a ValueError naming the column:
  fill them with a category of their own first (``df.fillna('missing')``).
- A column mixing kinds of values (strings and numbers) is a ValueError.
- Categories are stored as plain arrays (strings as NumPy unicode, numbers as
  numbers), so a fitted encoder saves and loads without pickle.
- ``inverse_transform`` returns category codes (indices into
  ``categories_``), as Sorix does: shape (n,) for one column, (n, columns)
  for several; a row with no 1 in a column's block gets -1.
"""
import numbers

import numpy as np

from ._data import check_width, default_names, not_fitted, read_columns, read_numeric

_HANDLE_UNKNOWN = ("error", "ignore")


def _missing(column):
    """Mask of missing values: NaN in float columns, NaN or None in object ones (a
    DataFrame's missing values, pandas NA included, arrive here as NaN)."""
    if column.dtype.kind == "f":
        return np.isnan(column)
    if column.dtype.kind != "O":
        return np.zeros(column.shape, dtype=bool)
    try:
        return np.asarray((column != column) | np.equal(column, None), dtype=bool)
    except TypeError:  # a value whose comparison has no truth value, such as pandas.NA
        return np.ones(column.shape, dtype=bool)


def _plain_categories(unique, name):
    """The sorted unique values of an object column as a plain (non-object) array."""
    values = unique.tolist()  # one entry per category, not per row
    if all(isinstance(v, str) for v in values):
        return np.array(values, dtype=str)
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return np.array(values, dtype=bool)
    if all(isinstance(v, numbers.Integral) for v in values):
        return np.array(values, dtype=np.int64)
    if all(isinstance(v, numbers.Real) for v in values):
        return np.array(values, dtype=np.float64)
    kinds = sorted({type(v).__name__ for v in values})
    raise ValueError(f"OneHotEncoder: column {name!r} mixes values of types {kinds}; convert "
                     "it to one type first (e.g. df[col].astype(str))")


def _categories(column, name):
    try:
        unique = np.unique(column)
    except TypeError:  # Python refuses to order e.g. str against int
        kinds = sorted({type(v).__name__ for v in column[:10000].tolist()})
        raise ValueError(f"OneHotEncoder: column {name!r} mixes values of types {kinds}; "
                         "convert it to one type first (e.g. df[col].astype(str))") from None
    if unique.dtype.kind == "O":
        return _plain_categories(unique, name)
    if unique.dtype.kind not in "biufUS":
        raise TypeError(f"OneHotEncoder: column {name!r} has dtype {unique.dtype}, which it "
                        "cannot encode")
    return unique


def _codes(categories, column, name):
    """(index of each row's category, mask of rows whose category is known)."""
    cat_text, col_text = categories.dtype.kind in "US", column.dtype.kind in "US"
    if column.dtype.kind == "O":
        categories = categories.astype(object)
    elif cat_text != col_text:
        kind = "strings" if cat_text else "numbers"
        raise ValueError(f"OneHotEncoder: column {name!r} holds {column.dtype} values, but the "
                         f"encoder was fitted on {kind}")
    try:
        index = np.searchsorted(categories, column)
    except TypeError:
        raise ValueError(f"OneHotEncoder: column {name!r} holds values that cannot be compared "
                         f"with the categories seen in fit ({categories[:5].tolist()}...); "
                         "convert it to the type it had in fit") from None
    index = np.minimum(index, len(categories) - 1)
    known = np.asarray(categories[index] == column, dtype=bool)
    return index, known


def _plain_name(name):
    """Whether ``name`` is a column name a fitted state may hold: what pandas gives (str,
    int, float, or a tuple of them for a MultiIndex), never an arbitrary object."""
    if isinstance(name, tuple):
        return bool(name) and all(_plain_name(part) for part in name)
    return isinstance(name, (str, int, float, np.integer, np.floating)) \
        and not isinstance(name, (bool, np.bool_))


class OneHotEncoder:
    """One-hot encodes categorical columns. ``features`` maps each column name to its categories."""

    def __init__(self, handle_unknown="error"):
        if handle_unknown not in _HANDLE_UNKNOWN:
            raise ValueError(f"handle_unknown must be one of {_HANDLE_UNKNOWN}, "
                             f"got {handle_unknown!r}")
        self.n_features = 0  # output columns once fitted
        self.features = {}
        self.handle_unknown = handle_unknown

    def _is_fitted(self):
        return bool(self.features)

    def _columns(self, X, action):
        fitted = list(self.features) if self._is_fitted() else None
        columns, names, was_1d = read_columns(X, "OneHotEncoder", fitted)
        names = names if names is not None else default_names(len(columns))
        for name, column in zip(names, columns):
            if _missing(column).any():
                raise ValueError(f"OneHotEncoder.{action}: column {name!r} has missing values "
                                 "(NaN/None); fill them with a category of their own first "
                                 "(e.g. df.fillna('missing'))")
        return columns, names, was_1d

    def fit(self, X):
        """Learn each column's sorted categories; returns self."""
        columns, names, _ = self._columns(X, "fit")
        if not columns or columns[0].shape[0] == 0:
            raise ValueError("OneHotEncoder.fit needs at least one column and one sample")
        features = {name: _categories(column, name) for name, column in zip(names, columns)}
        self.features = features
        self.n_features = sum(len(c) for c in features.values())
        return self

    def transform(self, X):
        """The one-hot matrix, float64 of shape (n_samples, n_features)."""
        if not self._is_fitted():
            raise not_fitted("OneHotEncoder", "transform")
        columns, _, was_1d = self._columns(X, "transform")
        check_width(len(columns), was_1d, len(self.features), "OneHotEncoder")
        n_rows = columns[0].shape[0]
        out = np.zeros((n_rows, self.n_features), dtype=np.float64)
        offset = 0
        for (name, categories), column in zip(self.features.items(), columns):
            index, known = _codes(categories, column, name)
            if self.handle_unknown == "error" and not known.all():
                unseen = list(dict.fromkeys(column[~known][:1000].tolist()))[:5]
                raise ValueError(
                    f"OneHotEncoder.transform: column {name!r} has categories not seen in fit: "
                    f"{unseen}. Refit the encoder on data that includes them, or create it with "
                    "OneHotEncoder(handle_unknown='ignore') to encode them as all zeros.")
            rows = np.flatnonzero(known)
            out[rows, offset + index[rows]] = 1.0
            offset += len(categories)
        return out

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        """Category codes: ``argmax`` within each column's block, -1 where the block is all 0."""
        if not self._is_fitted():
            raise not_fitted("OneHotEncoder", "inverse_transform")
        values, _, was_1d = read_numeric(X, "OneHotEncoder")
        check_width(values.shape[1], was_1d, self.n_features, "OneHotEncoder")
        bounds = np.cumsum([0] + [len(c) for c in self.features.values()])
        codes = np.empty((values.shape[0], len(self.features)), dtype=np.int64)
        for j, (start, stop) in enumerate(zip(bounds[:-1], bounds[1:])):
            block = values[:, start:stop]
            codes[:, j] = np.where((block != 0).any(axis=1), block.argmax(axis=1), -1)
        return codes[:, 0] if codes.shape[1] == 1 else codes

    @property
    def categories_(self):
        """The categories of each column, in output order (scikit-learn's name)."""
        return list(self.features.values())

    def get_features_names(self):
        """``<column>_<category>`` for every output column."""
        return [f"{name}_{category}" for name, categories in self.features.items()
                for category in categories.tolist()]

    # -- state -------------------------------------------------------------------------------
    def state_dict(self):
        return {"n_features": self.n_features,
                "features": {name: cats.copy() for name, cats in self.features.items()},
                "handle_unknown": self.handle_unknown}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` returned; checks it all before changing anything."""
        self._apply_state(self._validated_state(state_dict))
        return self

    def _validated_state(self, state):
        owner = "OneHotEncoder.load_state_dict"
        if not isinstance(state, dict):
            raise TypeError(f"{owner} expects a dict, got {type(state).__name__}")
        unknown = sorted(map(str, set(state) - {"n_features", "features", "handle_unknown"}))
        if unknown or "features" not in state:
            raise ValueError(f"{owner}: unexpected keys {unknown}; 'features' is required")
        if not isinstance(state["features"], dict):
            raise TypeError(f"{owner}: 'features' must be a dict of column name -> categories")
        features = {}
        for name, categories in state["features"].items():
            if not _plain_name(name):
                raise TypeError(f"{owner}: column name {name!r} is not a str, int or float, "
                                "or a tuple of them (a MultiIndex column)")
            cats = np.asarray(categories)
            cats = _plain_categories(cats, name) if cats.dtype.kind == "O" else cats.copy()
            if cats.ndim != 1 or cats.size == 0 or cats.dtype.kind not in "biufUS":
                raise ValueError(f"{owner}: the categories of {name!r} must be a non-empty 1-D "
                                 "array of numbers or strings")
            if not np.all(cats[1:] > cats[:-1]):
                raise ValueError(f"{owner}: the categories of {name!r} must be sorted and unique")
            features[name] = cats
        n_features = sum(len(c) for c in features.values())
        if state.get("n_features", n_features) != n_features:
            raise ValueError(f"{owner}: n_features={state['n_features']} does not match the "
                             f"{n_features} categories")
        handle_unknown = state.get("handle_unknown", self.handle_unknown)
        if handle_unknown not in _HANDLE_UNKNOWN:
            raise ValueError(f"{owner}: handle_unknown must be one of {_HANDLE_UNKNOWN}")
        return features, n_features, handle_unknown

    def _apply_state(self, validated):
        self.features, self.n_features, self.handle_unknown = validated

    def __str__(self):
        return f"OneHotEncoder({self.features})"

    __repr__ = __str__
