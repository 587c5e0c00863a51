"""Adam and AdamW (PyTorch's updates, with AMSGrad)."""
import math

from ..kernels import optim as K
from ..kernels.backend import of
from .optimizer import Optimizer, _check


class Adam(Optimizer):
    """m = beta1 m + (1 - beta1) g;  v = beta2 v + (1 - beta2) g^2
    p -= lr / (1 - beta1^t) * m / (sqrt(v / (1 - beta2^t)) + eps)

    Adam adds ``weight_decay * p`` to the gradient; AdamW instead shrinks p
    by ``1 - lr * weight_decay`` each step. ``amsgrad`` uses the running
    maximum of v.
    """

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 amsgrad=False, maximize=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        beta1, beta2 = group["betas"]
        _check(0.0 <= beta1 < 1.0, f"Invalid beta parameter at index 0: {beta1}")
        _check(0.0 <= beta2 < 1.0, f"Invalid beta parameter at index 1: {beta2}")
        _check(group["eps"] >= 0.0, f"Invalid epsilon value: {group['eps']}")
        _check(group["weight_decay"] >= 0.0, f"Invalid weight_decay value: {group['weight_decay']}")

    def _init_state(self, p, group):
        size = p.data.size
        state = {"step": 0, "exp_avg": self._zeros(p, size), "exp_avg_sq": self._zeros(p, size)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = self._zeros(p, size)
        return state

    def _update(self, p, grad, state, group, kind):
        state["step"] += 1
        step = state["step"]
        lr, wd = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
        if self._decoupled:
            decoupled, wd = 1 - lr * wd, 0.0
        else:
            decoupled = 1.0
        of(p).run(K.adam, p, grad, state["exp_avg"], state["exp_avg_sq"],
              self._optional(state, "max_exp_avg_sq", p), kind(step_size),
              *self._as_scalars(kind, 1 - beta1, beta2, 1 - beta2, group["eps"], wd, decoupled),
              kind(bias_correction2_sqrt), bool(group["maximize"]))


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)
