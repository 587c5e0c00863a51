"""ScipyBridge: hand sorix parameters to ``scipy.optimize.minimize(jac=True)``.

SciPy works on one flat float64 vector; the bridge maps it onto the
parameters (writing into their existing arrays, so models and optimizers
holding them see the new values) and returns the loss with its gradient
from sorix's autograd. SciPy itself is never imported here.
"""
import numpy as np

from ..autograd.grad_mode import enable_grad, no_grad
from ..kernels.backend import of
from ..tensor import Tensor


class ScipyBridge:
    """``ScipyBridge(parameters, loss_fn)``: ``parameters`` is a Tensor or an iterable of
    Tensors, ``loss_fn()`` takes no arguments and returns a scalar loss Tensor.

    Example::

        bridge = ScipyBridge(model.parameters(), lambda: criterion(model(X), y))
        res = scipy.optimize.minimize(bridge.objective, bridge.get_x(), jac=True,
                                      method="L-BFGS-B")
        bridge.set_x(res.x)
    """

    def __init__(self, parameters, loss_fn):
        params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
        if not params:
            raise ValueError("ScipyBridge got an empty parameter list")
        # every check first: a failed call must leave frozen parameters frozen
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"ScipyBridge optimizes Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("ScipyBridge can only optimize leaf tensors")
        if not callable(loss_fn):
            hint = (" (got a Tensor: pass a function that computes the loss, e.g. "
                    "lambda: criterion(model(X), y))") if isinstance(loss_fn, Tensor) else ""
            raise TypeError("loss_fn must be a callable taking no arguments" + hint)
        for p in params:
            if not p.requires_grad:
                p.requires_grad = True  # as Sorix does: the bridge needs their gradients
        self.params = params
        self.loss_fn = loss_fn
        self.shapes = [tuple(p.data.shape) for p in params]
        self.sizes = [int(p.data.size) for p in params]
        self.total_size = sum(self.sizes)

    def get_x(self):
        """The current parameter values as one new flat float64 array."""
        return np.concatenate([np.asarray(p.detach().numpy(), dtype=np.float64).ravel()
                               for p in self.params])

    def set_x(self, x):
        """Write ``x`` into the parameters' own arrays (cast to each one's dtype)."""
        x = np.asarray(x, dtype=np.float64).ravel()
        if x.size != self.total_size:
            raise ValueError(f"x has {x.size} values but the parameters hold {self.total_size}")
        offset = 0
        with no_grad():
            for p, size, shape in zip(self.params, self.sizes, self.shapes):
                # (copied to the parameter's device when it is on a GPU)
                of(p.data).assign(p.data, Ellipsis, x[offset:offset + size].reshape(shape))
                p._version[0] += 1  # an in-place change, visible to autograd's checks
                offset += size

    def objective(self, x):
        """``(loss, gradient)`` at ``x``: a Python float and a flat float64 array."""
        self.set_x(x)
        for p in self.params:
            p.grad = None
        with enable_grad():
            loss = self.loss_fn()
            if not isinstance(loss, Tensor):
                raise TypeError(f"loss_fn must return a Tensor, got {type(loss).__name__}")
            if loss.data.size != 1:
                raise RuntimeError(f"loss_fn must return a scalar, got shape {tuple(loss.shape)}")
            if loss.requires_grad:
                loss.backward()
        grads = [np.zeros(size) if p.grad is None
                 else np.asarray(p.grad.detach().numpy(), np.float64).ravel()
                 for p, size in zip(self.params, self.sizes)]
        return float(loss.item()), np.concatenate(grads)
