"""ColumnTransformer: different transformers on different columns, joined side by side.

``ColumnTransformer([(name, transformer, columns), ...])`` gives each
transformer ``X[columns]`` and concatenates their outputs in the order listed;
columns not listed are dropped (as in Sorix). ``columns`` are names for a
DataFrame, or integer positions (for an array, or a DataFrame).
"""
import numpy as np

from ._data import _as_array, is_frame, not_fitted


def _column_list(columns):
    return list(columns) if isinstance(columns, (list, tuple, np.ndarray)) else [columns]


def _check_spec(transformers):
    if not isinstance(transformers, (list, tuple)) or not transformers:
        raise TypeError("ColumnTransformer expects a non-empty list of "
                        "(name, transformer, columns) tuples")
    spec = []
    for item in transformers:
        if not isinstance(item, (list, tuple)) or len(item) != 3:
            raise TypeError(f"ColumnTransformer: {item!r} is not a (name, transformer, columns) "
                            "tuple")
        name, transformer, columns = item
        if not isinstance(name, str):
            raise TypeError(f"ColumnTransformer: the name {name!r} is not a string")
        if not all(hasattr(transformer, m) for m in ("fit", "transform", "get_features_names")):
            raise TypeError(f"ColumnTransformer: {name!r} is not a transformer (it needs fit, "
                            "transform and get_features_names)")
        if not _column_list(columns):
            raise ValueError(f"ColumnTransformer: {name!r} selects no columns")
        spec.append(tuple(item))
    names = [name for name, _, _ in spec]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"ColumnTransformer: transformer names must be unique, {duplicates} "
                         "repeat")
    return spec


def _select(X, columns):
    """``X[columns]``: by name (or label) on a DataFrame, by position on arrays."""
    columns = _column_list(columns)
    if is_frame(X):
        present = list(X.columns)
        if all(c in present for c in columns):
            return X[columns]
        if all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in columns):
            return X.iloc[:, columns]
        missing = [c for c in columns if c not in present]
        raise ValueError(f"ColumnTransformer: columns {missing} are not in the DataFrame, which "
                         f"has {present}")
    values = _as_array(X, "ColumnTransformer")
    if values.ndim != 2:
        raise ValueError(f"ColumnTransformer expects 2-D data, got shape {values.shape}")
    if not all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in columns):
        raise TypeError(f"ColumnTransformer: columns {columns} are names, which need a pandas "
                        "DataFrame; select array columns by integer position")
    if any(not -values.shape[1] <= c < values.shape[1] for c in columns):
        raise ValueError(f"ColumnTransformer: columns {columns} are out of range for "
                         f"{values.shape[1]} columns")
    return values[:, columns]


def _fitted(transformer):
    check = getattr(transformer, "_is_fitted", None)
    return check() if check is not None else True  # a foreign transformer checks for itself


def _width(transformer):
    return int(transformer.n_features) if hasattr(transformer, "n_features") else \
        len(transformer.get_features_names())


class ColumnTransformer:
    """Applies ``transformers = [(name, transformer, columns), ...]`` and joins the results."""

    def __init__(self, transformers):
        self.transformers = _check_spec(transformers)
        self.n_features = 0  # output columns once fitted
        self.features_names = []

    def _is_fitted(self):
        return all(_fitted(tf) for _, tf, _ in self.transformers)

    def fit(self, X):
        """Fit every transformer on its columns; returns self. A failure changes nothing."""
        before = [tf.state_dict() if hasattr(tf, "state_dict") else None
                  for _, tf, _ in self.transformers]
        try:
            for _, tf, columns in self.transformers:
                tf.fit(_select(X, columns))
        except BaseException:
            for (_, tf, _), state in zip(self.transformers, before):
                if state is not None:
                    tf.load_state_dict(state)
            raise
        self.n_features = sum(_width(tf) for _, tf, _ in self.transformers)
        self.features_names = self.get_features_names()
        return self

    def transform(self, X):
        """The transformers' outputs side by side, in the order they are listed."""
        if not self._is_fitted():
            raise not_fitted("ColumnTransformer", "transform")
        parts = []
        for _, tf, columns in self.transformers:
            part = np.asarray(tf.transform(_select(X, columns)))
            parts.append(part.reshape(-1, 1) if part.ndim == 1 else part)
        return np.concatenate(parts, axis=1)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        """Each transformer's ``inverse_transform`` on its block of output columns, joined.

        One column per selected input column, float64; an encoder gives its category
        codes (see ``OneHotEncoder.inverse_transform``).
        """
        if not self._is_fitted():
            raise not_fitted("ColumnTransformer", "inverse_transform")
        values = X.to_numpy() if is_frame(X) else _as_array(X, "ColumnTransformer")
        widths = [_width(tf) for _, tf, _ in self.transformers]
        if values.ndim != 2 or values.shape[1] != sum(widths):
            raise ValueError(f"ColumnTransformer: X has shape {values.shape}, but the transform "
                             f"gives {sum(widths)} columns")
        parts, start = [], 0
        for (_, tf, _), width in zip(self.transformers, widths):
            part = np.asarray(tf.inverse_transform(values[:, start:start + width]))
            part = part.reshape(-1, 1) if part.ndim == 1 else part
            parts.append(part.astype(np.float64, copy=False))
            start += width
        return np.concatenate(parts, axis=1)

    def get_features_names(self):
        """``<transformer name>_<feature>`` for every output column."""
        return [f"{name}_{feature}" for name, tf, _ in self.transformers
                for feature in tf.get_features_names()]

    # -- state -------------------------------------------------------------------------------
    def state_dict(self):
        """Sorix's layout: ``n_features``, ``features_names`` and ``transformers_states``, a
        list of ``(name, transformer.state_dict(), columns)``."""
        return {"n_features": self.n_features, "features_names": list(self.features_names),
                "transformers_states": [(name, tf.state_dict(), columns)
                                        for name, tf, columns in self.transformers]}

    def load_state_dict(self, state_dict):
        """Load each transformer's state by name; checks it all before changing anything."""
        owner = "ColumnTransformer.load_state_dict"
        if not isinstance(state_dict, dict) or "transformers_states" not in state_dict:
            raise TypeError(f"{owner} expects a dict with 'transformers_states'")
        states = {}
        for item in state_dict["transformers_states"]:
            if not isinstance(item, (list, tuple)) or len(item) != 3:
                raise TypeError(f"{owner}: {str(item)[:80]} is not a (name, state, columns) entry")
            states[item[0]] = item[1]
        names = [name for name, _, _ in self.transformers]
        missing = [n for n in names if n not in states]
        unknown = [n for n in states if n not in names]
        if missing or unknown:
            raise ValueError(f"{owner}: no state for {missing}; states for unknown transformers "
                             f"{unknown}")
        plans = []
        for name, tf, _ in self.transformers:
            validate = getattr(tf, "_validated_state", None)
            plans.append((tf, validate(states[name]) if validate else states[name],
                          validate is not None))
        for tf, state, validated in plans:
            if validated:
                tf._apply_state(state)
            else:
                tf.load_state_dict(state)
        self.n_features = sum(_width(tf) for _, tf, _ in self.transformers)
        self.features_names = self.get_features_names() if self._is_fitted() else []
        return self

    # How ``sorix.save`` stores a ColumnTransformer without pickle: its configuration,
    # with the transformers themselves (each saved as its own registered class).
    def _sorix_state(self):
        return {"transformers": [[name, tf, columns] for name, tf, columns in self.transformers],
                "n_features": self.n_features}

    @classmethod
    def _sorix_from_state(cls, state):
        if set(state) != {"transformers", "n_features"}:
            raise ValueError(f"unexpected keys {sorted(map(str, state))}")
        ct = cls(state["transformers"])
        n_features = sum(_width(tf) for _, tf, _ in ct.transformers) if ct._is_fitted() else 0
        if state["n_features"] != n_features:
            raise ValueError(f"n_features={state['n_features']} does not match the "
                             f"transformers' {n_features} output columns")
        ct.n_features = n_features
        ct.features_names = ct.get_features_names() if ct._is_fitted() else []
        return ct

    def __repr__(self):
        items = ", ".join(f"({name!r}, {tf!r}, {columns!r})"
                          for name, tf, columns in self.transformers)
        return f"ColumnTransformer([{items}])"
