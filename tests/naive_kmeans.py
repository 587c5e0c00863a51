"""A plain-NumPy k-means (Lloyd's algorithm), written from the definition, in float64.

Nothing here imports sorix. An (n, k, d) broadcast is fine at test sizes.
"""
import numpy as np


def tol(dtype):
    """How close sorix's k-means (float32 or float64) comes to this float64 reference."""
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-5, atol=2e-5)
    return dict(rtol=1e-12, atol=1e-12)


def squared_distances(x, centroids):
    """(n, k) matrix of ||x_i - c||^2, in float64."""
    diff = x.astype(np.float64)[:, None, :] - centroids.astype(np.float64)[None, :, :]
    return (diff * diff).sum(axis=-1)


def assign(x, centroids):
    """(labels, inertia): nearest centroid (first on ties) and the sum of the minima."""
    dist = squared_distances(x, centroids)
    labels = dist.argmin(axis=1)
    return labels, float(dist[np.arange(len(x)), labels].sum())


def update(x, labels, centroids):
    """Each cluster's mean; a cluster with no point keeps its centroid. In float64."""
    new = centroids.astype(np.float64).copy()
    for c in range(len(centroids)):
        members = x[labels == c]
        if len(members):
            new[c] = members.astype(np.float64).mean(axis=0)
    return new


def lloyd(x, centroids, iterations):
    """(centroids, labels, inertia) after ``iterations`` updates from ``centroids``; the
    labels and inertia are those of the final centroids. The centroids are rounded to
    x's dtype after each update, as a fit in that dtype stores them."""
    centroids = centroids.astype(x.dtype)
    labels, _ = assign(x, centroids)
    for _ in range(iterations):
        centroids = update(x, labels, centroids).astype(x.dtype)
        labels, _ = assign(x, centroids)
    labels, inertia = assign(x, centroids)
    return centroids, labels, inertia


def blobs(rng, n, d, k, dtype, spread=0.6):
    """``n`` points around ``k`` random centres, and ``k`` starting centroids picked among
    the points (one per centre, so no cluster starts empty)."""
    centres = rng.uniform(-10, 10, (k, d))
    member = np.arange(n) % k
    x = (centres[member] + spread * rng.standard_normal((n, d))).astype(dtype)
    first = np.array([np.flatnonzero(member == c)[0] for c in range(min(k, n))], dtype=np.int64)
    return x, x[first].copy()
