"""Sorix's ``sorix.utils.utils``: factories, joining and shape functions, activations,
seeding and save/load under Sorix's import path. Every name is the one ``sorix`` itself
exports; nothing is reimplemented here."""
from ..factories import (arange, as_tensor, diag, empty, empty_like, eye, from_numpy,  # noqa: F401
                         full, full_like, linspace, logspace, ones, ones_like, rand, randint,
                         randn, randperm, zeros, zeros_like)
from ..functions import (argmax, argmin, cat, chunk, clamp, flatten, gather, permute,  # noqa: F401
                         repeat, reshape, sigmoid, softmax, split, squeeze, stack, t, transpose,
                         unbind, unsqueeze, where)
from ..random import manual_seed  # noqa: F401
from ..serialization import load, save  # noqa: F401

__all__ = ["arange", "as_tensor", "diag", "empty", "empty_like", "eye", "from_numpy", "full",
           "full_like", "linspace", "logspace", "ones", "ones_like", "rand", "randint", "randn",
           "randperm", "zeros", "zeros_like", "argmax", "argmin", "cat", "chunk", "clamp",
           "flatten", "gather", "permute", "repeat", "reshape", "sigmoid", "softmax", "split",
           "squeeze", "stack", "t", "transpose", "unbind", "unsqueeze", "where", "manual_seed",
           "load", "save"]
