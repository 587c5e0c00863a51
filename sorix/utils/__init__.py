"""Utilities: ``sorix.utils.data`` holds Dataset and DataLoader."""
from . import data  # noqa: F401
