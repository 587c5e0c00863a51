"""Serial against threaded build of each hot CPU kernel, from 1e4 to 1e7 float32 elements.

The kernels are called directly (the builds ``opt.step()`` and the tensor
ops choose between by size and load), so that the two builds are compared
alone: a threaded build should never lose to the serial one at the sizes
where it is chosen (``config.PARALLEL_THRESHOLD`` for the elementwise loops,
``config.OPTIMIZER_PARALLEL_THRESHOLDS`` for the optimizer updates). Each
setup checks one call of each build against the NumPy formula.
"""
import numpy as np

from . import references as ref
from .prepare import once_per_params

KERNELS = ["rmsprop", "adam", "sgd momentum", "mul", "tanh", "sigmoid backward"]
BUILDS = ["serial", "threaded"]
SIZES = [10**4, 10**5, 10**6, 10**7]

f32 = np.float32


def _optimizer_call(name, n, parallel):
    """(call, check): one update in place, and a check of one update from fresh state."""
    from sorix.kernels import optim as KO
    from sorix.kernels.variants import variant
    p, g = ref.random32(n), ref.random32(n, seed=ref.SEED + 1)
    empty = KO.EMPTY[np.dtype(f32)]
    state = [np.zeros(n, f32), np.zeros(n, f32)]
    if name == "rmsprop":
        kernel = variant(KO.rmsprop, parallel)
        args = (p, g, state[0], empty, empty, *map(f32, (1e-3, 0.99, 0.01, 1e-8, 0, 0)), False)

        def expected(p0, g0):
            ref.rmsprop_numpy(p0, g0, np.zeros_like(p0), 1e-3)
    elif name == "adam":  # the first step: step_size lr / (1 - beta1), bias correction 2
        kernel = variant(KO.adam, parallel)
        args = (p, g, state[0], state[1], empty,
                *map(f32, (1e-3 / 0.1, 0.1, 0.999, 0.001, 1e-8, 0, 1, np.sqrt(0.001))), False)

        def expected(p0, g0):
            ref.adam_numpy(p0, g0, np.zeros_like(p0), np.zeros_like(p0), 1, 1e-3)
    else:  # SGD with momentum 0.9, first step (buffer = gradient)
        kernel = variant(KO.sgd, parallel)
        args = (p, g, state[0], *map(f32, (1e-3, 0, 0.9, 1)), False, False, True)

        def expected(p0, g0):
            ref.sgd_momentum_numpy(p0, g0, np.zeros_like(p0), 1e-3, 0.9)
    want = p.copy()
    expected(want, g.copy())
    kernel(*args)
    ref.assert_close(p, want, f"{name} ({'threaded' if parallel else 'serial'}) update")
    return lambda: kernel(*args)


def _elementwise_call(name, n, parallel):
    from sorix.kernels import build
    from sorix.kernels.defs import BINARY, UNARY
    x, w = ref.random32(n), ref.random32(n, 0.5, 1.5, seed=ref.SEED + 1)
    out = np.empty(n, f32)
    none = np.zeros(0, f32)
    if name == "mul":
        kernel = build.kernel("binary", "mul", {"F": BINARY["mul"].forward}, f32, parallel)
        args, want = (x, w, out), x * w
    elif name == "tanh":
        kernel = build.kernel("unary0", "tanh", {"F": UNARY["tanh"].forward}, f32, parallel)
        args, want = (x, out, none), np.tanh(x)
    else:  # sigmoid's backward: g * y (1 - y)
        kernel = build.kernel("unary0_grad", "sigmoid", {"D": UNARY["sigmoid"].derivative},
                              f32, parallel)
        y = (1 / (1 + np.exp(-x))).astype(f32)
        args, want = (w, x, y, out, none), w * y * (1 - y)
    kernel(*args)
    ref.assert_close(out, want, f"{name} ({'threaded' if parallel else 'serial'})")
    return lambda: kernel(*args)


class SerialVersusThreaded:
    params = (KERNELS, SIZES, BUILDS)
    param_names = ["kernel", "n", "build"]
    timeout = 300
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self, kernel, n, build):
        parallel = build == "threaded"
        if kernel in ("rmsprop", "adam", "sgd momentum"):
            self.call = _optimizer_call(kernel, n, parallel)
        else:
            self.call = _elementwise_call(kernel, n, parallel)
        self.call()  # warm

    def time_kernel(self, kernel, n, build):
        self.call()
