"""k-means kernels: nearest-centroid assignment and the centroid update of Lloyd's algorithm.

Assignment. For each point x_i the label is argmin_c ||x_i - c||^2 (the
first such c on ties, as ``np.argmin``), computed from direct differences
(x_ij - c_j)^2 in the data's dtype. The ||x||^2 - 2 x.c + ||c||^2 form was
measured slower here (it needs an exact recomputation of the chosen
distance for the inertia) and it loses digits to cancellation when points
lie far from the origin.

To vectorise without reordering floating-point sums, the points are taken
a tile at a time and copied feature-major (``xt[j, p]``): the innermost
loops then run over the tile's points, each lane an independent sum, so
SIMD needs no reassociation. The first d % 4 features are added one per
pass over the tile, the rest four per pass, and the last pass also keeps
the running minimum, so the per-point sums are read and written few times.

Update. Per-cluster sums and counts are accumulated in float64, each chunk
of points into its own slice of a ``(chunks, k, d)`` array (threads never
write the same memory), then reduced in a fixed order: the result does not
depend on the thread count's timing. A cluster no point chose keeps its
previous centroid.

Every kernel takes its chunk count from the length of its partial-result
array; the host functions below choose one chunk (serial build) or one per
thread (threaded build: from ``config.PARALLEL_THRESHOLD`` work on, while cores
are free, as for every other kernel).
"""
import math

import numpy as np

from . import threads, variants

prange = range  # numba's prange is bound when a kernel is compiled


# ---- kernels ---------------------------------------------------------------------

def assign(x, centroids, labels, inertia_parts, tile):
    """labels[i] = argmin_c ||x_i - c||^2; inertia_parts[b] = sum of the minima over chunk b.

    The partial inertias are float64. A point whose distances are all NaN or
    infinite gets label 0 and makes its chunk's inertia infinite, which the
    caller reports.
    """
    n, d = x.shape
    k = centroids.shape[0]
    chunks = inertia_parts.size
    step = -(-n // chunks)
    head = d - 4 if d >= 4 else d  # features summed before the final pass
    first = head % 4
    for b in prange(chunks):
        xt = np.empty((d, tile), x.dtype)
        acc = np.empty(tile, x.dtype)
        best_dist = np.empty(tile, x.dtype)
        best = np.empty(tile, np.int32)
        total = 0.0
        stop = min(n, (b + 1) * step)
        for start in range(b * step, stop, tile):
            m = min(tile, stop - start)
            for p in range(m):
                for j in range(d):
                    xt[j, p] = x[start + p, j]
            for p in range(m):
                best_dist[p] = np.inf
                best[p] = 0
            for c in range(k):
                centroid = centroids[c]
                for p in range(m):
                    acc[p] = 0
                for j in range(first):
                    c0 = centroid[j]
                    r0 = xt[j]
                    for p in range(m):
                        e0 = r0[p] - c0
                        acc[p] += e0 * e0
                for j in range(first, head, 4):
                    c0, c1, c2, c3 = centroid[j], centroid[j + 1], centroid[j + 2], centroid[j + 3]
                    r0, r1, r2, r3 = xt[j], xt[j + 1], xt[j + 2], xt[j + 3]
                    for p in range(m):
                        e0 = r0[p] - c0
                        e1 = r1[p] - c1
                        e2 = r2[p] - c2
                        e3 = r3[p] - c3
                        acc[p] += (e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3)
                if d >= 4:
                    c0, c1, c2, c3 = centroid[head], centroid[head + 1], centroid[head + 2], \
                        centroid[head + 3]
                    r0, r1, r2, r3 = xt[head], xt[head + 1], xt[head + 2], xt[head + 3]
                    for p in range(m):
                        e0 = r0[p] - c0
                        e1 = r1[p] - c1
                        e2 = r2[p] - c2
                        e3 = r3[p] - c3
                        v = acc[p] + ((e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3))
                        better = v < best_dist[p]
                        best_dist[p] = v if better else best_dist[p]
                        best[p] = c if better else best[p]
                else:
                    for p in range(m):
                        v = acc[p]
                        better = v < best_dist[p]
                        best_dist[p] = v if better else best_dist[p]
                        best[p] = c if better else best[p]
            for p in range(m):
                labels[start + p] = best[p]
                total += best_dist[p]
        inertia_parts[b] = total


def distances(x, centroids, out, totals, tile):
    """out[i, c] = ||x_i - c||^2; totals[b] = float64 sum of chunk b's rows (non-finite
    when any entry is). Summed in the order ``assign`` sums, so argmin(out[i]) is its label.

    (The tile loops repeat ``assign``'s on purpose: moved into a shared helper, even one
    numba inlines, they made ``assign`` 30 to 50% slower at d = 7 and 16.)"""
    n, d = x.shape
    k = centroids.shape[0]
    chunks = totals.size
    step = -(-n // chunks)
    first = d % 4
    for b in prange(chunks):
        xt = np.empty((d, tile), x.dtype)
        acc = np.empty(tile, x.dtype)
        total = 0.0
        stop = min(n, (b + 1) * step)
        for start in range(b * step, stop, tile):
            m = min(tile, stop - start)
            for p in range(m):
                for j in range(d):
                    xt[j, p] = x[start + p, j]
            for c in range(k):
                centroid = centroids[c]
                for p in range(m):
                    acc[p] = 0
                for j in range(first):
                    c0 = centroid[j]
                    r0 = xt[j]
                    for p in range(m):
                        e0 = r0[p] - c0
                        acc[p] += e0 * e0
                for j in range(first, d, 4):
                    c0, c1, c2, c3 = centroid[j], centroid[j + 1], centroid[j + 2], centroid[j + 3]
                    r0, r1, r2, r3 = xt[j], xt[j + 1], xt[j + 2], xt[j + 3]
                    for p in range(m):
                        e0 = r0[p] - c0
                        e1 = r1[p] - c1
                        e2 = r2[p] - c2
                        e3 = r3[p] - c3
                        acc[p] += (e0 * e0 + e1 * e1) + (e2 * e2 + e3 * e3)
                for p in range(m):
                    out[start + p, c] = acc[p]
                    total += acc[p]
        totals[b] = total


def centroid_sums(x, labels, sums, counts):
    """sums[b, c] = float64 sum of the points of chunk b labelled c; counts[b, c] their number."""
    n, d = x.shape
    chunks = sums.shape[0]
    step = -(-n // chunks)
    for b in prange(chunks):
        part = sums[b]
        count = counts[b]
        part[:] = 0
        count[:] = 0
        for i in range(b * step, min(n, (b + 1) * step)):
            c = labels[i]
            count[c] += 1
            for j in range(d):
                part[c, j] += x[i, j]


def finish_centroids(sums, counts, old, new, shift):
    """new_c = (sum of the chunks' sums) / count_c, or old_c when no point chose c;
    shift_c = ||new_c - old_c|| (float64, after rounding new_c to its dtype)."""
    chunks, k, d = sums.shape
    for c in range(k):
        count = 0
        for b in range(chunks):
            count += counts[b, c]
        moved = 0.0
        for j in range(d):
            if count > 0:
                total = 0.0
                for b in range(chunks):
                    total += sums[b, c, j]
                new[c, j] = total / count
            else:
                new[c, j] = old[c, j]
            e = np.float64(new[c, j]) - np.float64(old[c, j])
            moved += e * e
        shift[c] = math.sqrt(moved)


# ---- host side ---------------------------------------------------------------------

#: The most memory (bytes) the threaded update's per-chunk float64 sums may take.
PARTIAL_SUMS_BYTES = 64 * 2**20

#: Bytes of a tile of points copied feature-major: it stays in the L1 cache.
TILE_BYTES = 32 * 1024


def _threads():
    from numba import get_num_threads  # imported when a kernel first runs, like numba itself
    return get_num_threads()


def _chunks(work):
    """(threaded, chunk count) for ``work`` multiply-adds or elements: threaded when the
    other kernels would be (size and free cores, :func:`sorix.kernels.threads.use`)."""
    if not threads.use(work):
        return False, 1
    count = _threads()
    return count > 1, count


def tile_for(features, dtype):
    """Points per tile: the feature-major copy fits TILE_BYTES, 16 to 256 points."""
    fit = TILE_BYTES // (features * np.dtype(dtype).itemsize)
    return int(min(256, max(16, fit // 16 * 16)))


def assign_points(x, centroids):
    """``(labels, inertia)``: int64 nearest-centroid labels of the rows of ``x`` and the
    float sum of their squared distances (inf or nan when some distance is not finite).

    ``x`` (n, d) and ``centroids`` (k, d) are C-contiguous, of one float dtype.
    """
    n, d = x.shape
    threaded, chunks = _chunks(n * d * centroids.shape[0])
    labels = np.empty(n, np.int64)
    parts = np.empty(chunks)
    variants.variant(assign, threaded)(x, centroids, labels, parts, tile_for(d, x.dtype))
    return labels, float(parts.sum())


def squared_distances(x, centroids):
    """``(out, finite)``: the (n, k) matrix of ||x_i - c||^2 in x's dtype, and whether every
    entry is finite."""
    n, d = x.shape
    k = centroids.shape[0]
    threaded, chunks = _chunks(n * d * k)
    out = np.empty((n, k), x.dtype)
    totals = np.empty(chunks)
    variants.variant(distances, threaded)(x, centroids, out, totals, tile_for(d, x.dtype))
    return out, bool(np.isfinite(totals.sum()))


def update_centroids(x, labels, centroids):
    """``(new, shift)``: the mean of each cluster's points (the old centroid for a cluster
    with none), in the centroids' dtype, and each centroid's move ||new - old|| (float64)."""
    n, d = x.shape
    k = centroids.shape[0]
    threaded, chunks = _chunks(n * d)
    chunks = max(1, min(chunks, PARTIAL_SUMS_BYTES // (8 * k * d), n))
    threaded = threaded and chunks > 1
    sums = np.empty((chunks, k, d))
    counts = np.empty((chunks, k), np.int64)
    variants.variant(centroid_sums, threaded)(x, labels, sums, counts)
    new = np.empty_like(centroids)
    shift = np.empty(k)
    variants.variant(finish_centroids, False)(sums, counts, centroids, new, shift)
    return new, shift
