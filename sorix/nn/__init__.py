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
