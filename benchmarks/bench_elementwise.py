"""Forward+backward of elementwise ops, reductions and matmul, float32.

Each setup checks one result against the NumPy reference and warms the
JIT (asv's setup_cache runs in another process, so it cannot warm it);
the timed call then runs forward and backward with fresh gradients.
"""
import sorix

from . import references as ref
from .prepare import once_per_params

# name -> sorix forward on (x, w); unary ops ignore w
ARITHMETIC = {"add": lambda x, w: x + w, "mul": lambda x, w: x * w, "div": lambda x, w: x / w}
TRANSCENDENTAL = {"exp": lambda x, w: x.exp(), "tanh": lambda x, w: x.tanh(),
                  "sigmoid": lambda x, w: x.sigmoid()}
PIECEWISE = {"relu": lambda x, w: x.relu(), "abs": lambda x, w: x.abs(),
             "clamp": lambda x, w: x.clamp(ref.CLAMP_LOW, ref.CLAMP_HIGH)}


class _Family:
    """One op family over every size; subclasses name the ops."""
    ops = {}
    param_names = ["op", "n"]
    timeout = 300  # 1e7 elements: validation and warm-up take seconds
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self, op, n):
        xd = ref.random32(n)
        wd = ref.random32(n, 0.5, 1.5, seed=ref.SEED + 1)
        gd = ref.random32(n, seed=ref.SEED + 2)
        self.forward = self.ops[op]
        self.binary = op in ARITHMETIC
        self.x = sorix.tensor(xd, requires_grad=True)
        self.w = sorix.tensor(wd, requires_grad=self.binary)
        self.g = sorix.tensor(gd)
        out = self.time_forward_backward(op, n)
        want_out, want_gx, want_gw = ref.elementwise_numpy(op, xd, wd, gd)
        ref.assert_close(out.data, want_out, f"{op} forward")
        ref.assert_close(self.x.grad.data, want_gx, f"{op} x.grad")
        if self.binary:
            ref.assert_close(self.w.grad.data, want_gw, f"{op} w.grad")
        self.time_forward_backward(op, n)  # warm: every kernel now compiled or loaded

    def time_forward_backward(self, op, n):
        self.x.grad = self.w.grad = None
        out = self.forward(self.x, self.w)
        out.backward(self.g)
        return out


class Arithmetic(_Family):
    ops = ARITHMETIC
    params = (list(ARITHMETIC), ref.SIZES)


class Transcendental(_Family):
    ops = TRANSCENDENTAL
    params = (list(TRANSCENDENTAL), ref.SIZES)


class Piecewise(_Family):
    ops = PIECEWISE
    params = (list(PIECEWISE), ref.SIZES)


class Reductions:
    """A full reduction to a scalar, then backward."""
    params = (["sum", "mean", "max"], ref.SIZES)
    param_names = ["op", "n"]
    timeout = 300
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self, op, n):
        xd = ref.random32(n)
        self.x = sorix.tensor(xd, requires_grad=True)
        out = self.time_forward_backward(op, n)
        want_out, want_gx = ref.reduction_numpy(op, xd)
        # float32 sums of up to 1e7 terms: NumPy's pairwise sum and sorix's may round apart
        ref.assert_close(out.data, want_out, f"{op} forward", rtol=1e-3)
        ref.assert_close(self.x.grad.data, want_gx, f"{op} x.grad")
        self.time_forward_backward(op, n)

    def time_forward_backward(self, op, n):
        self.x.grad = None
        out = getattr(self.x, op)()
        out.backward()
        return out


class Matmul:
    """``a @ b`` and both gradients: the shapes of an MNIST layer and a square product."""
    params = [["128x784 @ 784x128", "512x512 @ 512x512"]]
    param_names = ["shapes"]
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self, shapes):
        (m, k), (_, n) = (tuple(int(v) for v in side.split("x")) for side in shapes.split(" @ "))
        a = ref.random32((m, k))
        b = ref.random32((k, n), seed=ref.SEED + 1)
        g = ref.random32((m, n), seed=ref.SEED + 2)
        self.a = sorix.tensor(a, requires_grad=True)
        self.b = sorix.tensor(b, requires_grad=True)
        self.g = sorix.tensor(g)
        out = self.time_forward_backward(shapes)
        for name, have, want in zip(("out", "a.grad", "b.grad"),
                                    (out.data, self.a.grad.data, self.b.grad.data),
                                    ref.matmul_numpy(a, b, g)):
            ref.assert_close(have, want, f"matmul {name}", rtol=1e-3, atol=1e-3)
        self.time_forward_backward(shapes)

    def time_forward_backward(self, shapes):
        self.a.grad = self.b.grad = None
        out = self.a @ self.b
        out.backward(self.g)
        return out
