"""Neural-network building blocks: modules, layers, losses, initialisers."""
from . import functional, init, parallel
from .containers import ModuleList, Sequential
from .layers import (BatchNorm1d, Dropout, Embedding, LeakyReLU, Linear, ReLU, Sigmoid, Softmax,
                     Tanh)
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from .module import Module
from .parameter import Parameter

__all__ = ["Module", "Sequential", "ModuleList", "Parameter", "Linear", "ReLU", "LeakyReLU",
           "Sigmoid", "Tanh", "Softmax", "Dropout", "BatchNorm1d", "Embedding", "MSELoss",
           "BCEWithLogitsLoss", "CrossEntropyLoss", "init", "functional", "parallel"]

from .activation import ELU, GELU, SiLU, Softplus, Softsign  # noqa: E402
from .loss import BCELoss, HuberLoss, L1Loss, NLLLoss, SmoothL1Loss  # noqa: E402
from .normalization import LayerNorm  # noqa: E402
from . import utils  # noqa: E402

__all__ += ["GELU", "SiLU", "Softplus", "ELU", "Softsign", "LayerNorm", "L1Loss",
            "SmoothL1Loss", "HuberLoss", "NLLLoss", "BCELoss", "utils"]
