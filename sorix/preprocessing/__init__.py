"""Preprocessing as in Sorix: scalers, a one-hot encoder and a column transformer.

Each has ``fit``, ``transform``, ``fit_transform``, ``inverse_transform``,
``get_features_names``, ``state_dict`` and ``load_state_dict``. Inputs may be
NumPy arrays, lists, sorix Tensors or pandas DataFrames (pandas is never
imported here); results are NumPy arrays and the input is never modified.
Fitted transformers save and load with ``sorix.save``/``sorix.load`` without
pickle (they are registered safe classes).
"""
from ..serialization import register_safe_class as _register
from ._data import NotFittedError
from .encoders import OneHotEncoder
from .scalers import MinMaxScaler, RobustScaler, StandardScaler
from .transformers import ColumnTransformer

__all__ = ["MinMaxScaler", "StandardScaler", "RobustScaler", "OneHotEncoder",
           "ColumnTransformer", "NotFittedError"]

for _cls in (MinMaxScaler, StandardScaler, RobustScaler, OneHotEncoder, ColumnTransformer):
    # Saved under their public names, so moving code between files keeps old files loading.
    _register(_cls, name=f"sorix.preprocessing.{_cls.__name__}")
del _cls
