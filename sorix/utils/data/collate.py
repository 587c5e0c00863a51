"""default_collate: a list of samples -> one batch of Tensors (PyTorch's rules)."""
from collections.abc import Mapping

import numpy as np

from ...ops.shape import concat
from ...tensor import Tensor


def _stack(arrays):
    try:
        return Tensor._wrap(np.stack(arrays))
    except ValueError:
        shapes = sorted({tuple(np.shape(a)) for a in arrays})
        raise RuntimeError(f"cannot batch samples of different shapes {shapes}; "
                           "pass a collate_fn that pads or groups them") from None


def default_collate(batch):
    """Stack numbers, arrays and Tensors into Tensors, recursing into tuples, lists and dicts.

    Python floats become float64 and ints int64 (float64 for a mix), as in PyTorch; arrays and
    Tensors keep their dtype. Strings are returned as a list.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        if any(t.requires_grad for t in batch):
            return concat(batch, 0, True)  # keep the graph, as torch.stack would
        return _stack([t.data for t in batch])
    if isinstance(elem, (np.ndarray, np.generic)) and elem.dtype.kind in "biufc":
        return _stack(batch)
    if isinstance(elem, bool):
        return Tensor._wrap(np.array(batch, dtype=np.bool_))
    if isinstance(elem, (int, float)):
        # float64 as soon as one sample is a float (torch.tensor([1, 2.5]) is a float
        # tensor): the first sample's type alone would truncate [1, 2.5] to [1, 2]
        floats = any(isinstance(v, float) for v in batch)
        return Tensor._wrap(np.array(batch, dtype=np.float64 if floats else np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        out = {key: default_collate([sample[key] for sample in batch]) for key in elem}
        return out if type(elem) is dict else _same_mapping_type(type(elem), out)
    if isinstance(elem, (tuple, list)):
        if any(len(sample) != len(elem) for sample in batch):
            raise RuntimeError("each sample in a batch must have the same number of fields")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
            return type(elem)(*fields)
        return fields if isinstance(elem, list) else tuple(fields)
    raise TypeError(f"default_collate cannot batch samples of type {type(elem).__name__}; "
                    "pass collate_fn to the DataLoader")


def _same_mapping_type(kind, items):
    try:
        return kind(items)  # OrderedDict and friends
    except TypeError:  # a mapping type that cannot be built from a dict
        return items
