"""Optimizers. Each step is one fused kernel pass per parameter, in place."""
from .adam import Adam, AdamW
from .optimizer import Optimizer
from .rmsprop import RMSprop
from . import lr_scheduler  # noqa: F401
from .scipy_bridge import ScipyBridge
from .sgd import SGD, SGDMomentum

__all__ = ["Optimizer", "SGD", "SGDMomentum", "RMSprop", "Adam", "AdamW", "ScipyBridge",
           "lr_scheduler"]
