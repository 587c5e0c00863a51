"""Loop templates for the CPU elementwise kernels.

The names ``F``, ``D``, ``DA`` and ``DB`` are not defined here: the builder
(:mod:`sorix.kernels.build`) makes one copy of a template per op and dtype
with those names bound to the op's compiled scalar definitions. All arrays
are 1-D and contiguous; ``p`` holds the op's scalar parameters in the
data's dtype. ``prange`` is a plain ``range`` in the serial build and a
threaded loop in the parallel one.

Backward templates with an ``_as`` (``_bs``) suffix take an ``a`` (``b``) of one
element, read once before the loop, so a size-1 operand is not expanded. The
``_s`` ones, which read ``a[i * sa]`` with a stride of 0 or 1, serve the GPU
only: on the CPU, LLVM could not see that ``i * sa`` steps by one, and the
threaded builds gathered their vector lanes element by element.
"""
F = D = DA = DB = prange = None  # bound per kernel by the builder


def unary0(x, out, p):
    for i in prange(x.size):
        out[i] = F(x[i])


def unary1(x, out, p):
    p0 = p[0]
    for i in prange(x.size):
        out[i] = F(x[i], p0)


def unary2(x, out, p):
    p0 = p[0]
    p1 = p[1]
    for i in prange(x.size):
        out[i] = F(x[i], p0, p1)


def unary0_grad(g, x, y, gx, p):
    for i in prange(x.size):
        gx[i] = g[i] * D(x[i], y[i])


def unary1_grad(g, x, y, gx, p):
    p0 = p[0]
    for i in prange(x.size):
        gx[i] = g[i] * D(x[i], y[i], p0)


def unary2_grad(g, x, y, gx, p):
    p0 = p[0]
    p1 = p[1]
    for i in prange(x.size):
        gx[i] = g[i] * D(x[i], y[i], p0, p1)


def binary(a, b, out):
    for i in prange(out.size):
        out[i] = F(a[i], b[i])


def binary_as(a, b, out):
    s = b[0]
    for i in prange(out.size):
        out[i] = F(a[i], s)


def binary_sa(a, b, out):
    s = a[0]
    for i in prange(out.size):
        out[i] = F(s, b[i])


# Broadcast operands read in place, not expanded: out and the full operand are viewed as
# (R, C); ``_rows`` takes the other operand as C values repeated along every row (the
# trailing axes of the output: a bias), ``_cols`` as R values each held along its row
# (the leading axes: a per-sample scale). The ``_a`` forms take the repeated operand
# first.

def binary_rows(a, b, out):
    for r in prange(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = F(a[r, c], b[c])


def binary_cols(a, b, out):
    for r in prange(out.shape[0]):
        s = b[r]
        for c in range(out.shape[1]):
            out[r, c] = F(a[r, c], s)


def binary_rows_a(a, b, out):
    for r in prange(out.shape[0]):
        for c in range(out.shape[1]):
            out[r, c] = F(a[c], b[r, c])


def binary_cols_a(a, b, out):
    for r in prange(out.shape[0]):
        s = a[r]
        for c in range(out.shape[1]):
            out[r, c] = F(s, b[r, c])


# Their gradients: g, y, ga and gb are (R, C); ``need_a``/``need_b`` say which to write
# (LLVM takes the tests out of the loop).

def binary_grad_rows(g, a, b, y, ga, gb, need_a, need_b):
    for r in prange(g.shape[0]):
        for c in range(g.shape[1]):
            gi = g[r, c]
            if need_a:
                ga[r, c] = gi * DA(a[r, c], b[c], y[r, c])
            if need_b:
                gb[r, c] = gi * DB(a[r, c], b[c], y[r, c])


def binary_grad_cols(g, a, b, y, ga, gb, need_a, need_b):
    for r in prange(g.shape[0]):
        s = b[r]
        for c in range(g.shape[1]):
            gi = g[r, c]
            if need_a:
                ga[r, c] = gi * DA(a[r, c], s, y[r, c])
            if need_b:
                gb[r, c] = gi * DB(a[r, c], s, y[r, c])


def binary_grad_rows_a(g, a, b, y, ga, gb, need_a, need_b):
    for r in prange(g.shape[0]):
        for c in range(g.shape[1]):
            gi = g[r, c]
            if need_a:
                ga[r, c] = gi * DA(a[c], b[r, c], y[r, c])
            if need_b:
                gb[r, c] = gi * DB(a[c], b[r, c], y[r, c])


def binary_grad_cols_a(g, a, b, y, ga, gb, need_a, need_b):
    for r in prange(g.shape[0]):
        s = a[r]
        for c in range(g.shape[1]):
            gi = g[r, c]
            if need_a:
                ga[r, c] = gi * DA(s, b[r, c], y[r, c])
            if need_b:
                gb[r, c] = gi * DB(s, b[r, c], y[r, c])


def binary_grad_ab(g, a, b, y, ga, gb):
    for i in prange(g.size):
        gi = g[i]
        ga[i] = gi * DA(a[i], b[i], y[i])
        gb[i] = gi * DB(a[i], b[i], y[i])


def binary_grad_a(g, a, b, y, ga, gb):
    for i in prange(g.size):
        ga[i] = g[i] * DA(a[i], b[i], y[i])


def binary_grad_b(g, a, b, y, ga, gb):
    for i in prange(g.size):
        gb[i] = g[i] * DB(a[i], b[i], y[i])


def binary_grad_same(g, a, b, y, ga, gb):
    # a and b are one operand (x * x): its gradient is the sum of both partials
    for i in prange(g.size):
        ga[i] = g[i] * (DA(a[i], b[i], y[i]) + DB(a[i], b[i], y[i]))


def binary_grad_ab_as(g, a, b, y, ga, gb):
    ai = a[0]
    for i in prange(g.size):
        gi = g[i]
        bi = b[i]
        ga[i] = gi * DA(ai, bi, y[i])
        gb[i] = gi * DB(ai, bi, y[i])


def binary_grad_a_as(g, a, b, y, ga, gb):
    ai = a[0]
    for i in prange(g.size):
        ga[i] = g[i] * DA(ai, b[i], y[i])


def binary_grad_b_as(g, a, b, y, ga, gb):
    ai = a[0]
    for i in prange(g.size):
        gb[i] = g[i] * DB(ai, b[i], y[i])


def binary_grad_ab_bs(g, a, b, y, ga, gb):
    bi = b[0]
    for i in prange(g.size):
        gi = g[i]
        ai = a[i]
        ga[i] = gi * DA(ai, bi, y[i])
        gb[i] = gi * DB(ai, bi, y[i])


def binary_grad_a_bs(g, a, b, y, ga, gb):
    bi = b[0]
    for i in prange(g.size):
        ga[i] = g[i] * DA(a[i], bi, y[i])


def binary_grad_b_bs(g, a, b, y, ga, gb):
    bi = b[0]
    for i in prange(g.size):
        gb[i] = g[i] * DB(a[i], bi, y[i])


# The GPU's broadcast gradients (sorix.kernels.cuda.elementwise), one thread per element:
# a stride of 0 or 1 costs a thread nothing there.

def binary_grad_ab_s(g, a, b, y, ga, gb, sa, sb):
    for i in prange(g.size):
        gi = g[i]
        ai = a[i * sa]
        bi = b[i * sb]
        ga[i] = gi * DA(ai, bi, y[i])
        gb[i] = gi * DB(ai, bi, y[i])


def binary_grad_a_s(g, a, b, y, ga, gb, sa, sb):
    for i in prange(g.size):
        ga[i] = g[i] * DA(a[i * sa], b[i * sb], y[i])


def binary_grad_b_s(g, a, b, y, ga, gb, sa, sb):
    for i in prange(g.size):
        gb[i] = g[i] * DB(a[i * sa], b[i * sb], y[i])
