"""``gradcheck``: compare autograd's gradients with central finite differences."""
import numpy as np

from .functional import grad as _grad
from .grad_mode import no_grad


def numerical_jacobian(fn, inputs, eps):
    """Central differences of every output element with respect to every input element."""
    with no_grad():
        base = fn(*inputs)
        outputs = base if isinstance(base, (tuple, list)) else (base,)
        columns = []
        for t in inputs:
            flat = t.data.reshape(-1)
            jac = np.zeros((flat.size, sum(o.data.size for o in outputs)))
            for i in range(flat.size):
                saved = flat[i]
                flat[i] = saved + eps
                plus = fn(*inputs)
                flat[i] = saved - eps
                minus = fn(*inputs)
                flat[i] = saved
                plus = plus if isinstance(plus, (tuple, list)) else (plus,)
                minus = minus if isinstance(minus, (tuple, list)) else (minus,)
                jac[i] = np.concatenate([(p.data.astype(np.float64) - m.data.astype(np.float64))
                                         .reshape(-1) / (2 * eps) for p, m in zip(plus, minus)])
            columns.append(jac)
    return columns


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True when autograd's Jacobian of ``fn`` at ``inputs`` matches finite differences.

    Use float64 inputs: float32 rounding swamps the differences.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    wrt = [t for t in inputs if getattr(t, "requires_grad", False)]
    if not wrt:
        raise ValueError("gradcheck: no input requires grad")
    for t in wrt:
        if not isinstance(t.data, np.ndarray):
            raise ValueError("gradcheck perturbs inputs element by element on the host: pass CPU "
                             "tensors (x.cpu()); compare a GPU run against the CPU instead")
        if t.data.dtype != np.float64:
            raise ValueError(f"gradcheck: inputs should be float64, got {t.dtype}; "
                             "float32 is too coarse for finite differences")
    out = fn(*inputs)
    outputs = out if isinstance(out, (tuple, list)) else (out,)
    sizes = [o.data.size for o in outputs]
    analytic = [np.zeros((t.data.size, sum(sizes))) for t in wrt]
    col = 0
    for o in outputs:
        for j in range(o.data.size):
            seed = np.zeros(o.data.shape, o.data.dtype)
            seed.reshape(-1)[j] = 1
            grads = _grad([o], wrt, [seed], retain_graph=True, allow_unused=True)
            for k, g in enumerate(grads):
                if g is not None:
                    analytic[k][:, col] = g.data.reshape(-1)
            col += 1
    numeric = numerical_jacobian(lambda *a: fn(*a), inputs, eps)
    numeric = [n for t, n in zip(inputs, numeric) if getattr(t, "requires_grad", False)]
    for k, (a, n) in enumerate(zip(analytic, numeric)):
        if not np.allclose(a, n, atol=atol, rtol=rtol, equal_nan=True):
            if raise_exception:
                worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape)
                raise RuntimeError(f"gradcheck: Jacobian mismatch for input {k}: analytic "
                                   f"{a[worst]:.6g} vs numerical {n[worst]:.6g} at {worst}")
            return False
    return True
