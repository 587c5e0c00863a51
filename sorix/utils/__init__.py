"""Utilities: ``sorix.utils.data`` (Dataset, DataLoader, splitters), and Sorix's functional
namespaces ``sorix.utils.math`` and ``sorix.utils.utils`` (loaded on first use)."""
import importlib as _importlib

from . import data  # noqa: F401

_LAZY = ("math", "utils")


def __getattr__(name):
    if name in _LAZY:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
