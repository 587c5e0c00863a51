"""Neural-network building blocks: modules, layers, losses, initialisers."""
from . import functional, init, parallel, utils
from .activation import (CELU, ELU, GELU, GLU, SELU, LogSigmoid, Mish, SiLU, Softplus, Softsign,
                         Tanhshrink)
from .activation_piecewise import (Hardshrink, Hardsigmoid, Hardswish, Hardtanh, PReLU, ReLU6,
                                   Softshrink, Threshold)
from .batchnorm import BatchNorm2d
from .containers import ModuleList, Sequential
from .conv import Conv1d, Conv2d
from .conv_transpose import ConvTranspose1d, ConvTranspose2d
from .layers import (BatchNorm1d, Dropout, Embedding, LeakyReLU, Linear, LogSoftmax, ReLU,
                     Sigmoid, Softmax, Tanh)
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss,
                   MSELoss, NLLLoss, SmoothL1Loss)
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter
from .pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AvgPool1d, AvgPool2d, MaxPool1d,
                      MaxPool2d)
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .shape import Flatten, Identity, Unflatten
from .transformer import MultiheadAttention, TransformerEncoder, TransformerEncoderLayer
from .transformer_decoder import Transformer, TransformerDecoder, TransformerDecoderLayer

__all__ = ["Module", "Sequential", "ModuleList", "Parameter",
           # layers
           "Linear", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
           "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
           "BatchNorm1d", "BatchNorm2d", "LayerNorm", "Dropout", "Embedding", "Flatten",
           "Unflatten", "Identity",
           "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
           "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
           "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
           # activations
           "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "GELU", "SiLU",
           "Softplus", "ELU", "Softsign", "Mish", "SELU", "CELU", "LogSigmoid", "Tanhshrink",
           "GLU", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "Softshrink", "Hardshrink",
           "Threshold", "PReLU",
           # losses
           "MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "KLDivLoss",
           # namespaces
           "init", "functional", "parallel", "utils"]
