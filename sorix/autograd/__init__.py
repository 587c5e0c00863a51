"""Automatic differentiation: the graph, the backward engine and grad mode."""
from .functional import grad
from .gradcheck import gradcheck
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .node import Node

__all__ = ["grad", "gradcheck", "no_grad", "enable_grad", "set_grad_enabled",
           "is_grad_enabled", "Node"]
