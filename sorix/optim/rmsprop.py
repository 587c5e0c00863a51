"""RMSprop: scale each step by a running average of squared gradients."""
from ..kernels import optim as K
from ..kernels.backend import of
from .optimizer import Optimizer, _check


class RMSprop(Optimizer):
    """square_avg = alpha * square_avg + (1 - alpha) * g^2
    p -= lr * g / (sqrt(square_avg) + eps)

    ``centered`` divides by the running variance instead (square_avg minus
    the squared running mean of g); ``momentum`` keeps a buffer
    buf = momentum * buf + g / (sqrt(...) + eps) and steps by lr * buf.
    ``decay`` is Sorix's older name for ``alpha`` and wins when given.
    """

    def __init__(self, params, lr=1e-3, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False, maximize=False, decay=None):
        if decay is not None:
            alpha = decay
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _validate(self, group):
        super()._validate(group)
        _check(group["eps"] >= 0.0, f"Invalid epsilon value: {group['eps']}")
        _check(0.0 <= group["alpha"] <= 1.0, f"Invalid alpha value: {group['alpha']}")
        _check(group["momentum"] >= 0.0, f"Invalid momentum value: {group['momentum']}")
        _check(group["weight_decay"] >= 0.0, f"Invalid weight_decay value: {group['weight_decay']}")

    def _init_state(self, p, group):
        size = p.data.size
        state = {"step": 0, "square_avg": self._zeros(p, size)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = self._zeros(p, size)
        if group["centered"]:
            state["grad_avg"] = self._zeros(p, size)
        return state

    def _update(self, p, grad, state, group, kind):
        state["step"] += 1
        alpha = group["alpha"]
        of(p).run(K.rmsprop, p, grad, state["square_avg"], self._optional(state, "grad_avg", p),
              self._optional(state, "momentum_buffer", p),
              *self._as_scalars(kind, group["lr"], alpha, 1 - alpha, group["eps"],
                           group["weight_decay"], group["momentum"]),
              bool(group["maximize"]))

    @property
    def vts(self):
        """The running averages of squared gradients, one array per parameter (Sorix)."""
        out = []
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = self._init_state(p, group)
                square_avg = state["square_avg"]
                out.append(of(square_avg).reshape(square_avg, p.data.shape))
        return out
