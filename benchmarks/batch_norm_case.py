"""The BatchNorm2d comparison case: a training-mode forward + backward of batch
normalisation over the channels of a (64, 32, 28, 28) float32 batch (a convolution's
output), with weight and bias, for each implementation.

- sorix: ``nn.BatchNorm2d(32)`` then ``backward`` with a fixed upstream gradient;
- numpy: the multi-pass NumPy forward and hand-written backward below;
- torch: ``torch.nn.BatchNorm2d(32)`` and its backward.

There is no memory-floor column: the statistics need a pass over the batch before the
output can be written, so no single pass moves the case's bytes.
Each builder validates its result against a float64 NumPy computation, then warms up.
"""
import numpy as np

from . import references as ref

SHAPE = (64, 32, 28, 28)
EPS = 1e-5
AXES = (0, 2, 3)


def inputs(shape=SHAPE):
    channels = shape[1]
    return (ref.random32(shape, -2.0, 3.0), ref.random32(channels, 0.5, 1.5, seed=ref.SEED + 1),
            ref.random32(channels, seed=ref.SEED + 2), ref.random32(shape, seed=ref.SEED + 3))


def batch_norm_numpy(x, w, b, g, eps=EPS):
    """(y, dx, dw, db): forward with the batch's statistics, then backward with upstream
    gradient g, one NumPy operation (and temporary array) at a time, in x's dtype."""
    per_channel = (1, -1, 1, 1)
    mean = x.mean(axis=AXES, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axis=AXES, keepdims=True)
    rstd = 1 / np.sqrt(var + x.dtype.type(eps))
    xhat = centred * rstd
    y = xhat * w.reshape(per_channel) + b.reshape(per_channel)
    dw = (g * xhat).sum(axis=AXES)
    db = g.sum(axis=AXES)
    count = x.size // x.shape[1]
    dx = (w.reshape(per_channel) * rstd) * (g - db.reshape(per_channel) / count
                                            - xhat * dw.reshape(per_channel) / count)
    return y, dx, dw, db


def _check(got, who):
    x, w, b, g = inputs()
    want = batch_norm_numpy(*(a.astype(np.float64) for a in (x, w, b, g)))
    ref.assert_normalisation_close(got, want, who, "BatchNorm2d")


def build(impl):
    """A validated, warmed step callable: one training-mode forward + backward."""
    from .cases import Unavailable, _torch, _warm
    x, w, b, g = inputs()
    if impl == "sorix":
        import sorix
        from sorix import nn
        layer = nn.BatchNorm2d(SHAPE[1])
        with sorix.no_grad():
            layer.weight.data[...] = w
            layer.bias.data[...] = b
        xs, gs = sorix.tensor(x, requires_grad=True), sorix.tensor(g)

        def step():
            xs.grad = layer.weight.grad = layer.bias.grad = None
            y = layer(xs)
            y.backward(gs)
            return y.data, xs.grad.data, layer.weight.grad.data, layer.bias.grad.data
    elif impl == "numpy":
        def step():
            return batch_norm_numpy(x, w, b, g)
    elif impl == "torch":
        torch = _torch()
        layer = torch.nn.BatchNorm2d(SHAPE[1])
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
        xt, gt = torch.from_numpy(x.copy()).requires_grad_(), torch.from_numpy(g)

        def step():
            xt.grad = layer.weight.grad = layer.bias.grad = None
            y = layer(xt)
            y.backward(gt)
            return (y.detach().numpy(), xt.grad.numpy(), layer.weight.grad.numpy(),
                    layer.bias.grad.numpy())
    elif impl == "floor":
        raise Unavailable("the statistics need their own pass: no single-pass floor")
    else:
        raise Unavailable(f"unknown implementation {impl!r}")
    _check(step(), impl)
    return _warm(step)
