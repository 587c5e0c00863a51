"""Sorix's ``sorix.utils.math``: the maths functions, differentiable on tensors and plain
NumPy on arrays. The same functions as ``sorix.add``, ``sorix.exp`` ...: this module only
gives them Sorix's import path."""
from ..functions import (abs, absolute, add, ceil, cos, div, exp, floor, log, matmul, mean,  # noqa: F401
                         mul, pow, round, sign, sin, sqrt, sub, sum, tanh)

__all__ = ["add", "sub", "mul", "div", "matmul", "pow", "sin", "cos", "tanh", "exp", "log",
           "sqrt", "abs", "absolute", "sign", "round", "floor", "ceil", "mean", "sum"]
