"""sorix: a NumPy autograd library with a PyTorch-like API and numba kernels."""
from ._version import __version__  # noqa: F401  (the package's version)

import builtins as _builtins
import importlib as _importlib

from . import autograd, cuda, dtypes  # noqa: F401
from . import tensor as _tensor_module  # noqa: F401  (sorix.tensor, the module)
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.functional import grad
from .device import device
from .dtypes import (DType, bool_, float16, float32, float64, int8, int16, int32, int64,
                     uint8)
from .factories import (arange, as_tensor, diag, empty, empty_like, eye, from_numpy, full,
                        full_like, linspace, logspace, ones, ones_like, rand, rand_like, randint,
                        randn, randn_like, randperm, zeros, zeros_like)
from .functions import (all, any, argmax, argmin, cat, chunk, clamp, clip, clone, concat,
                        concatenate, detach, dot, flatten, gather, is_tensor, log_softmax,
                        masked_fill, matmul, max, mean, min, numel, permute, repeat, reshape,
                        softmax, split, squeeze, stack, std, sum, swapaxes, swapdims, t,
                        transpose, unbind, unsqueeze, var, where)
from .functions import ELEMENTWISE as _ELEMENTWISE
from .functions import METHOD_FUNCTIONS as _METHOD_FUNCTIONS
from .ops.einsum import einsum
from .random import manual_seed, seed
from .tensor import Size, Tensor
from .tensor import tensor  # noqa: F811  (the attribute is the factory, as in Sorix)

# The elementwise maths (exp, add, relu, square ...): every op of the table in
# sorix.kernels.defs that names a ``function``.
globals().update(_ELEMENTWISE)
# The comparison, sorting, scan, selection and scatter functions (eq, sort, cumsum, tril,
# scatter_add ...): the Tensor methods that the mixins sorix.tensor_logic, tensor_ordering,
# tensor_selection and tensor_scatter list.
globals().update(_METHOD_FUNCTIONS)

float = float32  # noqa: A001  (PyTorch's aliases)
double = float64
half = float16
int = int32  # noqa: A001  (Sorix documents sorix.int as int32)
long = int64
short = int16
byte = uint8
bool = bool_  # noqa: A001

# Loaded on first use, not by ``import sorix``: a script that trains with
# sorix.optim alone never pays for sorix.nn's modules, and the reverse.
_LAZY = {"nn": ("sorix.nn", None), "optim": ("sorix.optim", None),
         "utils": ("sorix.utils", None), "load": ("sorix.serialization", "load"),
         "save": ("sorix.serialization", "save"), "metrics": ("sorix.metrics", None),
         "model_selection": ("sorix.model_selection", None),
         "clustering": ("sorix.clustering", None),
         "preprocessing": ("sorix.preprocessing", None),
         "distributed": ("sorix.distributed", None),
         "serialization": ("sorix.serialization", None)}


def __getattr__(name):
    found = _LAZY.get(name)
    if found is None:
        raise AttributeError(f"module 'sorix' has no attribute {name!r}")
    module = _importlib.import_module(found[0])
    value = module if found[1] is None else getattr(module, found[1])
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# ``from sorix import *`` gives every public name, the lazy ones included, except
# those that would shadow a builtin (float, int, bool, sum, abs ...): use sorix.sum.
__all__ = sorted(({name for name in globals() if not name.startswith("_")} | set(_LAZY))
                 - set(dir(_builtins)))
