"""Layers: Linear, activations, Softmax and LogSoftmax, Dropout, BatchNorm1d and Embedding.

Parameters are float32 tensors drawn from ``sorix.random.generator()``
(seeded by ``sorix.manual_seed``), named and shaped as in Sorix.
"""

import numpy as np

from .. import random as _random
from ..autograd.grad_mode import no_grad
from ..dtypes import numpy_dtype
from ..ops import embedding as _options
from ..tensor import Tensor
from . import functional as F
from .module import Module, check_device


def _count(value, name, least=0):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"{name} must be >= {least} (an int), got {value!r}")
    return int(value)


def _normal(shape, std):
    """float32 N(0, std^2) samples from sorix's generator."""
    values = _random.generator().standard_normal(shape, dtype=np.float32)
    values *= np.float32(std)
    return values


class Linear(Module):
    """y = x @ W + b, over the last axis of x (any number of leading batch dims).

    ``W`` has shape (in, out) and ``b`` shape (1, out): Sorix's layout, the
    transpose of PyTorch's ``weight``. ``init='he'`` draws W from
    N(0, 2/in) (for ReLU networks), ``init='xavier'`` from N(0, 2/(in+out));
    b starts at zero.
    """

    def __init__(self, features=None, neurons=None, bias=True, init="he", device="cpu", *,
                 in_features=None, out_features=None):
        super().__init__()
        features = _pick(features, in_features, "features", "in_features")
        neurons = _pick(neurons, out_features, "neurons", "out_features")
        features, neurons = _count(features, "features"), _count(neurons, "neurons")
        if init not in ("he", "xavier"):
            raise ValueError(f"Invalid initialization method {init!r}: use 'he' or 'xavier'")
        self.device = check_device(device)
        self.init = init
        #: the standard deviation W was drawn with (Sorix's attribute)
        self.std_dev = (np.sqrt(2.0 / features) if init == "he"
                        else np.sqrt(2.0 / (features + neurons))) if features else 0.0
        # drawn on the host (the same values on every device for one seed), then moved
        self.W = Tensor(_normal((features, neurons), float(self.std_dev)), requires_grad=True,
                        device=device)
        self.bias = bool(bias)  # Sorix keeps the flag here and the tensor in ``b``
        self.b = Tensor(np.zeros((1, neurons), np.float32), requires_grad=True,
                        device=device) if bias else None

    @property
    def in_features(self):
        return self.W.shape[0]

    @property
    def out_features(self):
        return self.W.shape[1]

    def forward(self, x):
        x = F.as_tensor(x)
        features = self.W.shape[0]
        if x.ndim == 0 or x.shape[-1] != features:
            raise ValueError(f"Linear expected input with {features} features in its last "
                             f"dimension, got input of shape {tuple(x.shape)}")
        # fold the batch dims into rows so the product is one 2-D matmul, forward and back
        rows = x if x.ndim == 2 else x.reshape((-1, features))
        out = rows @ self.W
        if self.b is not None:
            out = out + self.b
        return out if x.ndim == 2 else out.reshape(tuple(x.shape[:-1]) + (self.W.shape[1],))

    @property
    def coef_(self):
        """W as a flat NumPy array (Sorix's scikit-learn style accessor; a copy from a GPU)."""
        return self.W.detach().numpy().reshape(-1)

    @property
    def intercept_(self):
        if self.b is None:
            return None
        values = self.b.detach().numpy().reshape(-1)
        return values.item() if values.size == 1 else values

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.b is not None}")


def _pick(value, alias, name, alias_name):
    if value is not None and alias is not None:
        raise TypeError(f"give {name} or {alias_name}, not both")
    value = alias if value is None else value
    if value is None:
        raise TypeError(f"missing {name} (also accepted as {alias_name}=)")
    return value


# ---- activations ----------------------------------------------------------------

class ReLU(Module):
    """max(x, 0). (``inplace`` is accepted for PyTorch code and ignored.)"""

    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return F.relu(x)


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    """1 / (1 + exp(-x))."""

    def forward(self, x):
        return F.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i - log sum_j exp(x_j) along ``dim``: log-probabilities, for ``NLLLoss``."""

    def __init__(self, dim=-1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return F.log_softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Dropout(Module):
    """Inverted dropout in training mode (zero with probability p, scale the rest by
    1/(1-p)); the identity in evaluation mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        self.p = F.check_dropout_probability(p)

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


# ---- normalisation and lookup ---------------------------------------------------

class BatchNorm1d(Module):
    """Batch normalisation of (N, F) or (N, F, L) input, per feature F.

    Training: y = gamma (x - mean) / sqrt(var + eps) + beta with the batch's
    mean and biased variance; the buffers move as
    running = (1 - momentum) running + momentum batch (unbiased variance for
    running_var); ``momentum=None`` gives the plain average of all batches
    seen. Evaluation uses the running statistics instead.
    ``gamma``, ``beta``, ``running_mean`` and ``running_var`` have shape (1, F).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, device="cpu"):
        super().__init__()
        self.num_features = _count(num_features, "num_features")
        self.eps = float(eps)
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be between 0 and 1 (or None), got {momentum!r}")
        self.momentum = None if momentum is None else float(momentum)
        self.num_batches_tracked = 0  # a plain count: Sorix's state_dict keys stay as they are
        self.device = check_device(device)
        shape = (1, self.num_features)
        self.gamma = Tensor(np.ones(shape, np.float32), requires_grad=True, device=device)
        self.beta = Tensor(np.zeros(shape, np.float32), requires_grad=True, device=device)
        self.register_buffer("running_mean", Tensor(np.zeros(shape, np.float32), device=device))
        self.register_buffer("running_var", Tensor(np.ones(shape, np.float32), device=device))

    def forward(self, x):
        x = F.as_tensor(x)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm1d({self.num_features}) expects input of shape "
                             f"(N, {self.num_features}) or (N, {self.num_features}, L), "
                             f"got {tuple(x.shape)}")
        momentum = self.momentum
        if self.training:
            self.num_batches_tracked += 1
            if momentum is None:  # cumulative average: batch k gets weight 1/k
                momentum = 1.0 / self.num_batches_tracked
        return F.batch_norm(x, self.running_mean, self.running_var, self.gamma, self.beta,
                            self.training, momentum, self.eps)

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class Embedding(Module):
    """A lookup table: integer indices of any shape -> rows of ``W`` (num_embeddings, dim).

    ``W`` starts from U(-a, a) with a = sqrt(1 / num_embeddings) (Sorix's
    initialisation), in ``dtype`` (float32, or float64), with the padding row
    zero. Repeated indices accumulate their gradients.

    The options are PyTorch's (see :func:`sorix.nn.functional.embedding`):
    ``padding_idx`` (negative counts from the end): that row gets no gradient;
    ``max_norm``/``norm_type``: rows read whose norm exceeds ``max_norm`` are
    scaled down in place in ``W`` before the lookup; ``scale_grad_by_freq``:
    each row's gradient is divided by its count in the batch. ``sparse=True``
    raises NotImplementedError (gradients are dense). ``_weight`` gives the
    initial ``W`` (shape (num_embeddings, embedding_dim), memory shared when it
    already has the dtype and device; its padding row is kept as it is);
    ``_freeze=True`` makes ``W`` not require grad (it stays a parameter).
    """

    _pytorch_layout_weights = ("W",)  # (rows, dim), as PyTorch's weight
    # (class defaults: a module pickled before the options existed still runs)
    padding_idx = None
    max_norm = None
    norm_type = 2.0
    scale_grad_by_freq = False
    sparse = False

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device="cpu", dtype=None):
        super().__init__()
        self.num_embeddings = _count(num_embeddings, "num_embeddings", least=1)
        self.embedding_dim = _count(embedding_dim, "embedding_dim", least=1)
        self.device = check_device(device)
        if sparse:
            _options.refuse_sparse()
        if padding_idx is not None:
            padding_idx = _options.padding_row(padding_idx, self.num_embeddings)
        _options.norm_options(max_norm, norm_type)  # (checks them)
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = bool(scale_grad_by_freq)
        self.sparse = False
        if dtype is not None:
            dtype = numpy_dtype(dtype)
        if _weight is None:
            dtype = np.dtype(np.float32) if dtype is None else dtype
            self._check_dtype(dtype)
            self.W = Tensor(self._initial_values(dtype), requires_grad=True, device=device)
        else:
            weight = _weight if isinstance(_weight, Tensor) else Tensor(_weight)
            if dtype is None:  # a float32 or float64 weight keeps its dtype
                found = weight.data.dtype
                dtype = found if found in (np.float32, np.float64) else np.dtype(np.float32)
            self._check_dtype(dtype)
            weight = Tensor(weight, dtype=dtype, device=device)
            expected = (self.num_embeddings, self.embedding_dim)
            if tuple(weight.shape) != expected:
                raise ValueError(f"Shape of weight does not match num_embeddings and "
                                 f"embedding_dim: got {tuple(weight.shape)}, expected {expected}")
            self.W = Tensor(weight.data, requires_grad=True)
        if _freeze:
            self.W.requires_grad = False  # (registered above: it stays a parameter)

    @staticmethod
    def _check_dtype(dtype):
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"embedding weights must be float32 or float64, got {dtype}")

    def _initial_values(self, dtype):
        """Sorix's U(-a, a), a = sqrt(1 / num_embeddings), with the padding row zero."""
        shape = (self.num_embeddings, self.embedding_dim)
        if dtype == np.float32:
            bound = np.float32(np.sqrt(1.0 / self.num_embeddings))
            values = _random.generator().random(shape, dtype=np.float32)
            values = values * (2 * bound) - bound
        else:
            bound = np.sqrt(1.0 / self.num_embeddings)
            values = _random.generator().random(shape, dtype=np.float64) * (2 * bound) - bound
        if self.padding_idx is not None:
            values[self.padding_idx] = 0
        return values

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose ``W`` is ``embeddings`` (2-D; memory shared with a float32 or
        float64 tensor or array, on its device); ``freeze=True``: W does not require grad."""
        weight = embeddings if isinstance(embeddings, Tensor) else Tensor(embeddings)
        if weight.ndim != 2:
            raise ValueError(f"Embeddings parameter is expected to be 2-dimensional, got shape "
                             f"{tuple(weight.shape)}")
        rows, cols = weight.shape
        return cls(rows, cols, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
                   _weight=weight, _freeze=freeze, device=weight.device)

    def reset_parameters(self):
        """Draw ``W`` again (in place) from Sorix's U(-a, a), with the padding row zero."""
        with no_grad():
            self.W[...] = Tensor(self._initial_values(self.W.data.dtype))

    @property
    def weight(self):
        """PyTorch's name; same (num_embeddings, dim) layout."""
        return self.W

    def forward(self, indices):
        return F.embedding(indices, self.W, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s
