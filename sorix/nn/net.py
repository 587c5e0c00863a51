"""Sorix's ``sorix.nn.net``: the module base class and containers under Sorix's import path."""
from .containers import ModuleList, Sequential  # noqa: F401
from .module import Module, _indent as _add_indent  # noqa: F401

__all__ = ["Module", "Sequential", "ModuleList"]
