"""Dataset: features and optional targets, indexed together (PyTorch's TensorDataset role)."""
import numpy as np

from ...tensor import Tensor


def _as_column(values, name):
    """Arrays and Tensors stay as they are (a DataFrame becomes its array); regular
    numeric lists become arrays with
    ``sorix.tensor``'s dtype rule (Python floats -> float32) so batches can be gathered
    by fancy indexing. Anything else (strings, ragged samples, objects) stays a list."""
    if hasattr(values, "columns") and hasattr(values, "to_numpy"):
        values = values.to_numpy()  # a pandas DataFrame: its rows, as an array (list() of
        # a DataFrame gives its column names)
        if values.dtype == np.object_:  # mixed column types (int and bool ...): numbers
            values = _numbers_if_possible(values)  # if that is all they hold
    if isinstance(values, (np.ndarray, Tensor)):
        if values.ndim == 0:
            raise TypeError(f"{name} must have a length: got a 0-d array")
        return values
    if not hasattr(values, "__len__") or not hasattr(values, "__getitem__"):
        raise TypeError(f"{name} must be an array, a Tensor or a sequence, "
                        f"got {type(values).__name__}")
    values = list(values)
    try:
        array = np.array(values)
    except ValueError:  # ragged nested lists
        return values
    if array.dtype.kind not in "biuf" or array.ndim == 0:
        return values
    if array.dtype == np.float64 and not any(isinstance(v, np.ndarray) for v in values):
        array = array.astype(np.float32)
    return array


def _numbers_if_possible(values):
    """An object array that holds only numbers, as a numeric array (floats as float32, the
    rule for lists); one holding text or None is returned as it is."""
    try:
        array = np.array(values.tolist())
    except ValueError:
        return values
    if array.dtype.kind not in "biuf":
        return values
    return array.astype(np.float32) if array.dtype == np.float64 else array


def _batch(column, indices):
    """The rows ``indices`` of a column: a Tensor of numbers, or, for text or objects
    (string labels, a text feature), a NumPy array. Tensors hold numbers only; the
    text is handed over as it is, as default_collate hands over a list of strings."""
    rows = np.asarray(column.data if isinstance(column, Tensor) else column)[indices]
    return Tensor._wrap(rows) if rows.dtype.kind in "biufc" else rows


def _copy_of(rows):
    if isinstance(rows, Tensor):
        return rows.detach().clone()
    return np.array(rows, copy=True) if isinstance(rows, np.ndarray) else rows


def _write(storage, index, value):
    """``storage[index] = value``; an ndarray value of the slot's size takes its shape."""
    if isinstance(storage, np.ndarray) and not isinstance(value, Tensor):
        slot_shape = storage[index].shape
        value = np.asarray(value)
        if value.shape != slot_shape and value.size == int(np.prod(slot_shape)):
            value = value.reshape(slot_shape)
    storage[index] = value


class Dataset:
    """``Dataset(X, y=None, transform=None, target_transform=None)``.

    ``ds[i]`` is ``(x, y)``, or ``x`` without targets; ``transform`` and
    ``target_transform`` are applied to each sample as it is read. ``X`` and
    ``y`` may be NumPy arrays (their dtype is kept), Tensors or lists.
    Subclasses may override ``__len__`` and ``__getitem__`` as in PyTorch.
    """

    def __init__(self, X, y=None, transform=None, target_transform=None):
        X = _as_column(X, "X")
        if y is not None:
            y = _as_column(y, "y")
            if len(X) != len(y):
                raise ValueError(f"X and y must have the same length, got len(X)={len(X)} "
                                 f"and len(y)={len(y)}")
        self.X = X
        self.y = y
        self.transform = transform
        self.target_transform = target_transform

    def __len__(self):
        return len(self.X)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)) and not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of length {len(self)}")
        x = self.X[index]
        if self.transform is not None:
            x = self.transform(x)
        if self.y is None:
            return x
        y = self.y[index]
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __setitem__(self, index, value):
        """Overwrite samples in place: ``ds[i] = (x, y)``, or ``ds[i] = x`` without targets.

        A value with as many elements as the slot is reshaped to it, so a label
        given as ``np.array([1])`` fills a scalar slot. If writing ``y`` fails,
        ``X`` is restored, so a failed assignment changes nothing.
        """
        if self.y is None:
            _write(self.X, index, value)
            return
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise ValueError("this dataset has targets: assign a pair, ds[i] = (x, y)")
        x, y = value
        saved = _copy_of(self.X[index])
        _write(self.X, index, x)
        try:
            _write(self.y, index, y)
        except Exception:
            _write(self.X, index, saved)
            raise

    def _gather(self, indices):
        """Whole batches by fancy indexing, or None when samples must be read one by one
        (transforms, list storage, or a subclass that reads samples its own way)."""
        if (type(self).__getitem__ is not Dataset.__getitem__ or self.transform is not None
                or self.target_transform is not None):
            return None
        columns = [self.X] if self.y is None else [self.X, self.y]
        if not all(isinstance(c, (np.ndarray, Tensor)) for c in columns):
            return None
        batch = [_batch(c, indices) for c in columns]
        return batch[0] if self.y is None else tuple(batch)

    def __repr__(self):
        return f"Dataset(len={len(self)}, has_labels={self.y is not None})"
