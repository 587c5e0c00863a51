"""Batch-normalisation kernels on a contiguous (N, F, L) view of the input.

Statistics are per feature F over the N and L axes. The reductions walk
memory in order (row by row) and keep one float64 accumulator per feature:
float32 sums over a large batch would otherwise lose digits. The variance
is computed in two passes (mean first, then squared deviations), which
avoids the cancellation of E[x^2] - E[x]^2. The elementwise passes are
threaded over N for large inputs.
"""
prange = range  # numba's prange is bound when a kernel is compiled


def batch_stats(x, mean, var):
    """mean_f = sum x / M and var_f = sum (x - mean_f)^2 / M (biased), M = N L; float64 out."""
    n, f, l = x.shape
    count = n * l
    for j in range(f):
        mean[j] = 0.0
        var[j] = 0.0
    for i in range(n):
        for j in range(f):
            acc = 0.0
            for k in range(l):
                acc += x[i, j, k]
            mean[j] += acc
    for j in range(f):
        mean[j] /= count
    for i in range(n):
        for j in range(f):
            m = mean[j]
            acc = 0.0
            for k in range(l):
                d = x[i, j, k] - m
                acc += d * d
            var[j] += acc
    for j in range(f):
        var[j] /= count


def normalize(x, mean, scale, shift, out):
    """out = (x - mean_f) * scale_f + shift_f, with scale = gamma / sqrt(var + eps), shift = beta.

    Subtracting the mean before scaling keeps precision when |mean| >> std.
    """
    n, f, l = x.shape
    for i in prange(n):
        for j in range(f):
            m = mean[j]
            a = scale[j]
            b = shift[j]
            for k in range(l):
                out[i, j, k] = (x[i, j, k] - m) * a + b


def grad_sums(g, x, mean, invstd, sum_g, sum_g_xhat):
    """sum_g_f = sum g and sum_g_xhat_f = sum g (x - mean_f) invstd_f, in float64.

    They are dbeta and dgamma, and the two corrections in dx.
    """
    n, f, l = x.shape
    for j in range(f):
        sum_g[j] = 0.0
        sum_g_xhat[j] = 0.0
    for i in range(n):
        for j in range(f):
            m = mean[j]
            a = 0.0
            b = 0.0
            for k in range(l):
                gv = g[i, j, k]
                a += gv
                b += gv * (x[i, j, k] - m)
            sum_g[j] += a
            sum_g_xhat[j] += b
    for j in range(f):
        sum_g_xhat[j] *= invstd[j]


def grad_input(g, x, mean, invstd, coef, mean_g, mean_g_xhat, out):
    """dx = coef_f (g - mean_g_f - xhat mean_g_xhat_f), xhat = (x - mean_f) invstd_f,
    coef = gamma invstd: the closed form of back-propagating through the batch statistics."""
    n, f, l = x.shape
    for i in prange(n):
        for j in range(f):
            m = mean[j]
            s = invstd[j]
            c = coef[j]
            mg = mean_g[j]
            mgx = mean_g_xhat[j]
            for k in range(l):
                out[i, j, k] = c * (g[i, j, k] - mg - (x[i, j, k] - m) * s * mgx)


# ---- (N, F) inputs ------------------------------------------------------------------------

def batch_stats_rows(x, mean, var):
    """:func:`batch_stats` for x of shape (N, F)."""
    n, f = x.shape
    mean[:] = 0.0
    var[:] = 0.0
    for i in range(n):
        for j in range(f):
            mean[j] += x[i, j]
    for j in range(f):
        mean[j] /= n
    for i in range(n):
        for j in range(f):
            d = x[i, j] - mean[j]
            var[j] += d * d
    for j in range(f):
        var[j] /= n


def normalize_rows(x, mean, scale, shift, out):
    """:func:`normalize` for x of shape (N, F)."""
    n, f = x.shape
    for i in prange(n):
        for j in range(f):
            out[i, j] = (x[i, j] - mean[j]) * scale[j] + shift[j]


def grad_sums_rows(g, x, mean, invstd, sum_g, sum_g_xhat):
    """:func:`grad_sums` for x of shape (N, F)."""
    n, f = x.shape
    sum_g[:] = 0.0
    sum_g_xhat[:] = 0.0
    for i in range(n):
        for j in range(f):
            gv = g[i, j]
            sum_g[j] += gv
            sum_g_xhat[j] += gv * (x[i, j] - mean[j])
    for j in range(f):
        sum_g_xhat[j] *= invstd[j]


def grad_input_rows(g, x, mean, invstd, coef, mean_g, mean_g_xhat, out):
    """:func:`grad_input` for x of shape (N, F)."""
    n, f = x.shape
    for i in prange(n):
        for j in range(f):
            out[i, j] = coef[j] * (g[i, j] - mean_g[j] - (x[i, j] - mean[j]) * invstd[j]
                                   * mean_g_xhat[j])
