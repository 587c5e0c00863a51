"""Layer-normalisation kernels over the rows of a contiguous (R, C) array.

Each row is normalised on its own, so the kernels are threaded over rows
(over blocks of rows in backward). A row is read from memory once per
kernel; the further passes over it hit the cache.

The row statistics accumulate in float64 whatever the data's dtype, in
one pass over values shifted by one of the row's own (see
:func:`row_moments`: no cancellation of E[x^2] - E[x]^2 when |mean| >> std).
Forward's output and backward's gradients are computed in the data's dtype:
on a core with wide vectors a float64 pass over float32 data is bound by its
arithmetic, not by memory (the forward took 2.4 ms for a (4096, 1024)
float32 input on one thread, 1.7 ms in float32). The statistics enter those
passes rounded to that dtype with the rounding's loss kept beside them (see
:func:`backward`), so the results stay within a few units in the last place.
Row sums are the helpers listed in ``REASSOCIATE``: they are compiled with
fast-math's reassociation flag (beside the contract flag every kernel has),
which lets LLVM split a sum into
vector lanes (a plain loop adds one element at a time, waiting on each
addition).
"""
import math

prange = range  # numba's prange is bound when a kernel is compiled


def row_moments(x, i):
    """(sum_j d_j, sum_j d_j^2) in float64 for row i, d_j = x[i, j] - x[i, 0].

    Shifting by a value of the row keeps E[d^2] - E[d]^2 from cancelling: the
    variance it gives has a relative error of at most about C times float64's
    epsilon (|x[i, 0] - mean| is at most sqrt(C - 1) standard deviations), so the
    statistics take one pass instead of two.
    """
    shift = x[i, 0] * 1.0
    total = 0.0
    total_sq = 0.0
    for j in range(x.shape[1]):
        d = x[i, j] - shift
        total += d
        total_sq += d * d
    return total, total_sq


def row_grad_sums(g, x, weight, i, m, shift, r, zero):
    """(sum_j g w, sum_j g w xhat) over row i, xhat = ((x - m) - shift) r, in the data's
    dtype (``zero`` is 0 in it): dx needs these to about the data's precision."""
    gw_total = zero
    gw_xhat_total = zero
    for j in range(x.shape[1]):
        gw = g[i, j] * weight[j]
        gw_total += gw
        gw_xhat_total += gw * (((x[i, j] - m) - shift) * r)
    return gw_total, gw_xhat_total


#: Helpers whose float sums may be reordered (see :func:`sorix.kernels.variants.variant`).
REASSOCIATE = ("row_moments", "row_grad_sums")


def forward(x, weight, bias, eps, out, mean, rstd):
    """out = (x - mean_i) rstd_i weight + bias per row i, with mean_i = sum_j x_ij / C and
    rstd_i = 1 / sqrt(var_i + eps), var_i = sum_j (x_ij - mean_i)^2 / C (from
    :func:`row_moments`); mean and rstd (float64) are kept for backward."""
    rows, cols = x.shape
    for i in prange(rows):
        if cols == 0:  # no values: NaN statistics, as a mean over nothing
            mean[i] = math.nan
            rstd[i] = math.nan
            continue
        total, total_sq = row_moments(x, i)
        mean_shifted = total / cols
        m = x[i, 0] + mean_shifted
        var = max(total_sq / cols - mean_shifted * mean_shifted, 0.0)
        r = 1.0 / math.sqrt(var + eps)
        mean[i] = m
        rstd[i] = r
        # The statistics in the data's dtype (rounded through the row's first output
        # slot, written last): m_d, s_d = m - m_d (what rounding lost) and r_d, as in
        # backward; ((x - m_d) - s_d) r_d keeps a float32 row far from zero exact to a
        # few units in the last place, and float32 lanes are twice float64's.
        out[i, 0] = m
        m_d = out[i, 0]
        out[i, 0] = m - m_d
        s_d = out[i, 0]
        out[i, 0] = r
        r_d = out[i, 0]
        for j in range(cols):
            out[i, j] = ((x[i, j] - m_d) - s_d) * r_d * weight[j] + bias[j]


#: Backward adds a block's parameter gradients in the data's dtype over this many rows at
#: a time, then into float64: a float32 sum of a few dozen terms keeps about 7 digits.
FLUSH_ROWS = 32


def backward(g, x, mean, rstd, weight, need_input, need_params, dx, partial, block_sums,
             row_scalars):
    """One read of g and x from memory per row gives every gradient:

        dbias_j   = sum_i g_ij,   dweight_j = sum_i g_ij xhat_ij
        dx_ij     = rstd_i (g_ij w_j - mean_j(g w) - xhat_ij mean_j(g w xhat))

    with xhat_ij = (x_ij - mean_i) rstd_i, computed in the data's dtype as
    ((x_ij - m_i) - s_i) r_i, where m_i and r_i are mean_i and rstd_i rounded to
    that dtype and s_i = mean_i - m_i what the rounding lost (x - m is exact for x
    near m, so a float32 row far from zero keeps its digits).

    The rows are split into ``partial.shape[0]`` blocks of consecutive rows; block k
    adds its column sums in ``block_sums[k]`` (the data's dtype, FLUSH_ROWS rows at a
    time) and then into ``partial[k, 0]`` (dbias) and ``partial[k, 1]`` (dweight), in
    float64, which the caller adds up. The block count depends on the shape alone,
    so the result is the same on any number of threads. ``row_scalars[k]`` is the
    block's room for m_i, s_i, r_i and 1/C in the data's dtype.
    """
    rows, cols = x.shape
    blocks = partial.shape[0]
    per_block = (rows + blocks - 1) // blocks if blocks else 0
    for k in prange(blocks):
        sums = partial[k]
        for j in range(cols):
            sums[0, j] = 0.0
            sums[1, j] = 0.0
        scalars = row_scalars[k]
        scalars[0] = 0.0
        zero = scalars[0]  # 0 in the data's dtype (read back from an array of that dtype)
        scalars[3] = 1.0 / cols if cols else 0.0
        inv_cols = scalars[3]  # (a float32 sum / int64 would compute in float64)
        stop = min(rows, (k + 1) * per_block)
        for start in range(k * per_block, stop, FLUSH_ROWS):
            sum_g = block_sums[k, 0]
            sum_g_xhat = block_sums[k, 1]
            for j in range(cols):
                sum_g[j] = zero
                sum_g_xhat[j] = zero
            for i in range(start, min(stop, start + FLUSH_ROWS)):
                scalars[0] = mean[i]
                scalars[1] = mean[i] - scalars[0]
                scalars[2] = rstd[i]
                m = scalars[0]
                shift = scalars[1]
                r = scalars[2]
                # dx and the column sums in separate loops over the row (in cache by
                # then): each loop writes few enough arrays for LLVM to vectorise it
                # behind its aliasing checks; one loop writing all three stays scalar
                if need_input:
                    gw_total, gw_xhat_total = row_grad_sums(g, x, weight, i, m, shift, r, zero)
                    a = gw_total * inv_cols
                    b = gw_xhat_total * inv_cols
                    for j in range(cols):
                        xhat = ((x[i, j] - m) - shift) * r
                        dx[i, j] = r * (g[i, j] * weight[j] - a - xhat * b)
                if need_params:
                    for j in range(cols):
                        gv = g[i, j]
                        sum_g[j] += gv
                        sum_g_xhat[j] += gv * (((x[i, j] - m) - shift) * r)
            for j in range(cols):
                sums[0, j] += sum_g[j]
                sums[1, j] += sum_g_xhat[j]
