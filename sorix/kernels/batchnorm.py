"""Batch-normalisation kernels on a contiguous (N, F, L) view of the input.

Statistics are per feature F over the N and L axes, in float64 whatever the
data's dtype: float32 sums over a large batch would otherwise lose digits.
The variance is computed in two passes (mean first, then squared
deviations), which avoids the cancellation of E[x^2] - E[x]^2.

The reductions are threaded over features, each feature's sums made by one
thread in one order, so the result does not depend on the thread count.
Along each (i, f) row of L values they are the helpers listed in
``REASSOCIATE``, compiled with fast-math's reassociation flag so that LLVM
adds in vector lanes (a plain float64 loop adds one value at a time, each
addition waiting on the last: for a (64, 32, 28, 28) float32 batch the two
passes took several milliseconds on one core). The elementwise passes are
threaded over N for large inputs.

(N, F) inputs have kernels of their own (the ``_rows`` ones), whose inner
loop runs over the features: a contiguous (N, F) array viewed as (N, F, 1)
would give the general kernels rows of one value.
"""
prange = range  # numba's prange is bound when a kernel is compiled


def row_sum(x, i, j):
    """sum_k x[i, j, k], in float64."""
    total = 0.0
    for k in range(x.shape[2]):
        total += x[i, j, k]
    return total


def row_squared_deviations(x, i, j, m):
    """sum_k (x[i, j, k] - m)^2, in float64."""
    total = 0.0
    for k in range(x.shape[2]):
        d = x[i, j, k] - m
        total += d * d
    return total


def row_grad_sums(g, x, i, j, m):
    """(sum_k g[i, j, k], sum_k g[i, j, k] (x[i, j, k] - m)), in float64."""
    total_g = 0.0
    total_g_dev = 0.0
    for k in range(x.shape[2]):
        gv = g[i, j, k]
        total_g += gv
        total_g_dev += gv * (x[i, j, k] - m)
    return total_g, total_g_dev


#: Helpers whose float sums may be reordered (see :func:`sorix.kernels.variants.variant`).
REASSOCIATE = ("row_sum", "row_squared_deviations", "row_grad_sums")


def batch_stats(x, mean, var):
    """mean_f = sum x / M and var_f = sum (x - mean_f)^2 / M (biased), M = N L; float64 out."""
    n, f, _ = x.shape
    count = n * x.shape[2]
    for j in prange(f):
        total = 0.0
        for i in range(n):
            total += row_sum(x, i, j)
        m = total / count
        mean[j] = m
        total_sq = 0.0
        for i in range(n):
            total_sq += row_squared_deviations(x, i, j, m)
        var[j] = total_sq / count


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
    n, f, _ = x.shape
    for j in prange(f):
        m = mean[j]
        total_g = 0.0
        total_g_dev = 0.0
        for i in range(n):
            row_g, row_g_dev = row_grad_sums(g, x, i, j, m)
            total_g += row_g
            total_g_dev += row_g_dev
        sum_g[j] = total_g
        sum_g_xhat[j] = total_g_dev * invstd[j]


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
