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
from .conv import Conv1d, Conv2d  # noqa: E402
from .pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d  # noqa: E402
from .shape import Flatten, Identity, Unflatten  # noqa: E402

__all__ += ["Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten",
            "Unflatten", "Identity"]
