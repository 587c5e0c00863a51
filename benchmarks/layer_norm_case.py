"""The LayerNorm comparison case: forward + backward of layer normalisation over the
last axis of a (4096, 1024) float32 input, with weight and bias, for each implementation.

- sorix: ``nn.functional.layer_norm`` then ``backward`` with fresh gradients;
- numpy: the multi-pass NumPy forward and hand-written backward below;
- torch: ``torch.nn.functional.layer_norm`` and its backward;
- floor: one threaded pass reading three (4096, 1024) arrays and writing two, the
  bytes a fused forward (read x, write y) and backward (read g and x, write dx) move.

Each builder validates its result against a float64 NumPy computation, then warms up.
"""
import numpy as np

from . import references as ref

SHAPE = (4096, 1024)
EPS = 1e-5


def inputs(shape=SHAPE):
    rows, cols = shape
    return (ref.random32(shape, -2.0, 3.0), ref.random32(cols, 0.5, 1.5, seed=ref.SEED + 1),
            ref.random32(cols, seed=ref.SEED + 2), ref.random32(shape, seed=ref.SEED + 3))


def layer_norm_numpy(x, w, b, g, eps=EPS):
    """(y, dx, dw, db): forward, then backward with upstream gradient g, one NumPy
    operation (and temporary array) at a time, in x's dtype."""
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = centred * rstd
    y = xhat * w + b
    gw = g * w
    dx = rstd * (gw - gw.mean(axis=-1, keepdims=True)
                 - xhat * (gw * xhat).mean(axis=-1, keepdims=True))
    return y, dx, (g * xhat).sum(axis=0), g.sum(axis=0)


def _check(got, who):
    x, w, b, g = inputs()
    want = layer_norm_numpy(*(a.astype(np.float64) for a in (x, w, b, g)))
    ref.assert_normalisation_close(got, want, who, "LayerNorm")


def build(impl):
    """A validated, warmed step callable: one forward + backward of ``impl``."""
    from .cases import Unavailable, _torch, _warm
    x, w, b, g = inputs()
    if impl == "sorix":
        import sorix
        import sorix.nn.functional as F
        xs, ws, bs = (sorix.tensor(a, requires_grad=True) for a in (x, w, b))
        gs = sorix.tensor(g)

        def step():
            xs.grad = ws.grad = bs.grad = None
            y = F.layer_norm(xs, (SHAPE[1],), ws, bs, EPS)
            y.backward(gs)
            return y.data, xs.grad.data, ws.grad.data, bs.grad.data
    elif impl == "numpy":
        def step():
            return layer_norm_numpy(x, w, b, g)
    elif impl == "torch":
        torch = _torch()
        xt, wt, bt = (torch.from_numpy(a.copy()).requires_grad_() for a in (x, w, b))
        gt = torch.from_numpy(g)

        def step():
            xt.grad = wt.grad = bt.grad = None
            y = torch.nn.functional.layer_norm(xt, (SHAPE[1],), wt, bt, EPS)
            y.backward(gt)
            return (y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())
    elif impl == "floor":
        a, c, d = x.reshape(-1).copy(), g.reshape(-1).copy(), x.reshape(-1).copy()

        def step():
            ref.floor_read3_write2(a, c, d)
        return _warm(step)
    else:
        raise Unavailable(f"unknown implementation {impl!r}")
    _check(step(), impl)
    return _warm(step)
