"""k-means on device arrays: the GPU side of :mod:`sorix.kernels.kmeans`, same functions.

- Assignment: one thread per point (grid-stride) runs over the k centroids,
  summing (x_ij - c_j)^2 in the data's dtype, and keeps the first nearest
  (as ``np.argmin``). The minima go to a float64 array that the existing
  sum reduction adds up into the inertia.
- Update: each point adds itself to its cluster's float64 sums and count
  with atomics. To spread the contention of many points on few clusters,
  blocks write to ``copies`` separate sets of sums (block b to set b mod
  copies); a second kernel, one thread per cluster, adds the sets up in a
  fixed order and divides. A cluster no point chose keeps its centroid.

Atomic float64 additions happen in no fixed order, so the sums may differ
in their last bits from run to run; rounded to float32 centroids they
almost never do.

Conversions to float64 are written ``np.float64(v)``: numba-cuda types
``float(v)`` of a float32 as float32.
"""
import numpy as np

from . import build, runtime
from .arrays import contiguous, empty, to_host, zeros
from .reduce import sum as device_sum

cuda = math = grid_range = None  # bound per kernel by the builder

#: The most memory (bytes) the sets of partial sums may take, and the most sets.
PARTIAL_SUMS_BYTES = 64 * 2**20
MAX_COPIES = 64


# ---- kernels -----------------------------------------------------------------------

def assign_kernel(x, centroids, labels, min_dist, zero, inf):
    n, d = x.shape
    k = centroids.shape[0]
    for i in grid_range(n):
        best = 0
        best_dist = inf
        for c in range(k):
            acc = zero
            for j in range(d):
                e = x[i, j] - centroids[c, j]
                acc += e * e
            if acc < best_dist:  # false for NaN: such a point keeps an infinite distance
                best_dist = acc
                best = c
        labels[i] = best
        min_dist[i] = best_dist


def distances_kernel(x, centroids, out, zero):
    n, d = x.shape
    k = centroids.shape[0]
    for e in grid_range(n * k):
        i = e // k
        c = e - i * k
        acc = zero
        for j in range(d):
            diff = x[i, j] - centroids[c, j]
            acc += diff * diff
        out[i, c] = acc


def centroid_sums_kernel(x, labels, sums, counts, copies):
    n, d = x.shape
    where = cuda.blockIdx.x % copies
    for i in grid_range(n):
        c = labels[i]
        cuda.atomic.add(counts, (where, c), 1)
        for j in range(d):
            cuda.atomic.add(sums, (where, c, j), np.float64(x[i, j]))


def finish_centroids_kernel(sums, counts, old, new, shift):
    copies, k = counts.shape
    d = old.shape[1]
    for c in grid_range(k):
        count = 0
        for r in range(copies):
            count += counts[r, c]
        moved = 0.0
        for j in range(d):
            if count > 0:
                total = 0.0
                for r in range(copies):
                    total += sums[r, c, j]
                new[c, j] = total / count
            else:
                new[c, j] = old[c, j]
            e = np.float64(new[c, j]) - np.float64(old[c, j])
            moved += e * e
        shift[c] = math.sqrt(moved)


# ---- host side -----------------------------------------------------------------------

def _points(x):
    return contiguous(runtime.as_device(x))


def assign_points(x, centroids):
    """``(labels, inertia)``: int64 device labels of the rows of ``x`` and the float sum of
    their squared distances (inf or nan when some distance is not finite)."""
    x, centroids = _points(x), _points(centroids)
    n = x.shape[0]
    labels = empty((n,), np.int64)
    min_dist = empty((n,), np.float64)
    kind = x.dtype.type
    build.kernel(assign_kernel, x.dtype).over(n, x, centroids, labels, min_dist, kind(0),
                                              kind(np.inf))
    return labels, float(to_host(device_sum(min_dist)))


def squared_distances(x, centroids):
    """``(out, finite)``: the (n, k) device matrix of ||x_i - c||^2 in x's dtype, and whether
    every entry is finite."""
    x, centroids = _points(x), _points(centroids)
    n, k = x.shape[0], centroids.shape[0]
    out = empty((n, k), x.dtype)
    build.kernel(distances_kernel, x.dtype).over(n * k, x, centroids, out, x.dtype.type(0))
    total = float(to_host(device_sum(out, None, False, np.float64)))
    return out, bool(np.isfinite(total))


def update_centroids(x, labels, centroids):
    """``(new, shift)``: each cluster's mean (the old centroid for a cluster with no point) as
    a device array in the centroids' dtype, and each centroid's move ||new - old|| as a
    float64 host array (the caller's convergence test reads it)."""
    x, centroids = _points(x), _points(centroids)
    n, d = x.shape
    k = centroids.shape[0]
    sizes = build.sizes()
    blocks = min(sizes["max_blocks"], -(-n // sizes["threads"]))
    copies = max(1, min(blocks, MAX_COPIES, PARTIAL_SUMS_BYTES // (8 * k * d)))
    sums = zeros((copies, k, d), np.float64)
    counts = zeros((copies, k), np.int64)
    build.kernel(centroid_sums_kernel, x.dtype).over(n, x, runtime.as_device(labels), sums,
                                                     counts, copies)
    new = empty((k, d), centroids.dtype)
    shift = empty((k,), np.float64)
    build.kernel(finish_centroids_kernel, centroids.dtype).over(k, sums, counts, centroids,
                                                                new, shift)
    return new, to_host(shift)
