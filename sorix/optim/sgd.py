"""Stochastic gradient descent, with PyTorch's momentum and Nesterov rules."""
from ..kernels import optim as K
from ..kernels.backend import of
from .optimizer import Optimizer, _check


class SGD(Optimizer):
    """p -= lr * d, where d is the gradient (plus weight decay), or its momentum buffer.

    buf = momentum * buf + (1 - dampening) * d (buf = d on the first step);
    Nesterov uses d + momentum * buf.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, weight_decay=0.0, dampening=0,
                 nesterov=False, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      dampening=dampening, nesterov=nesterov, maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        _check(group["momentum"] >= 0.0, f"Invalid momentum value: {group['momentum']}")
        _check(group["weight_decay"] >= 0.0, f"Invalid weight_decay value: {group['weight_decay']}")
        if group["nesterov"]:
            _check(group["momentum"] > 0 and group["dampening"] == 0,
                   "Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p, grad, state, group, kind):
        B = of(p)
        momentum = group["momentum"]
        first = False
        buf = B.nothing(p.dtype)
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = B.zeros(p.shape, p.dtype)
                first = True
        B.run(K.sgd, p, grad, buf,
              *self._as_scalars(kind, group["lr"], group["weight_decay"], momentum,
                           1 - group["dampening"]),
              bool(group["nesterov"]), bool(group["maximize"]), first)


class SGDMomentum(SGD):
    """Sorix's SGD with momentum 0.9 by default."""

    def __init__(self, params, lr=1e-3, momentum=0.9, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
