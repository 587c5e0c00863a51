"""k-means clustering (Lloyd's algorithm) on the CPU or a CUDA GPU.

Each iteration assigns every point to its nearest centroid (squared
Euclidean distance) and moves each centroid to the mean of its points:

    label_i = argmin_c ||x_i - c||^2,   c = mean of {x_i : label_i = c}

The two steps are kernels (:mod:`sorix.kernels.kmeans` on the CPU,
:mod:`sorix.kernels.cuda.kmeans` on a GPU); a CUDA tensor's data stays on
its device. The fit stops after ``max_iters`` updates, or earlier when the
centroids' mean move ||new - old|| falls below ``eps``; the labels then
refer to the final centroids.

A cluster that loses all its points keeps its previous centroid (it may
win points back later). With more clusters than distinct points some
clusters necessarily stay empty; nothing fails.
"""
import numbers

import numpy as np

from ..kernels import backend
from ..ops.transfer import move_array
from ..tensor import Tensor

_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _kernels(array):
    """The k-means kernel module for ``array``'s device."""
    if backend.is_cpu(array):
        from ..kernels import kmeans
        return kmeans
    from ..kernels.cuda import kmeans
    return kmeans


def _points(features, what="X"):
    """``features`` as a C-contiguous (n, d) float32/float64 array on its device.

    Tensors keep their device; NumPy arrays, lists and DataFrames are read on
    the host. Integers and bools become float64, float16 becomes float32.
    The caller's array is never changed (a converted copy is made when needed).
    """
    if isinstance(features, Tensor):
        data = features.data
    else:
        try:
            data = np.asarray(features)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{what} must be a tensor or an array-like of numbers: {exc}") from None
    namespace = backend.of(data)
    shape = tuple(data.shape)
    if len(shape) != 2:
        hint = "; for one feature use X.reshape(-1, 1)" if len(shape) == 1 else ""
        raise ValueError(f"{what} must have shape (n_samples, n_features), got shape {shape}{hint}")
    if shape[0] == 0 or shape[1] == 0:
        raise ValueError(f"{what} has shape {shape}: k-means needs at least one sample and "
                         "one feature")
    dtype = np.dtype(data.dtype)
    if dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold numbers, got dtype {dtype}")
    if dtype not in _KERNEL_DTYPES:  # also float data in the other byte order
        target = np.float32 if dtype.kind == "f" and dtype.itemsize <= 4 else np.float64
        data = namespace.astype(data, target)
    return namespace.contiguous(data)


def _device(namespace):
    """The ``sorix.device`` of a kernel namespace (sorix.kernels.cpu or .cuda)."""
    from ..device import device
    return device(namespace.DEVICE)


def _check_finite(total, what):
    if not np.isfinite(total):
        raise ValueError(f"{what} contains NaN or infinity, or values so large that squared "
                         "distances overflow: k-means needs finite data; drop or impute "
                         "those rows first")


class Kmeans:
    """k-means clustering with ``n_clusters`` clusters.

    ``init`` chooses the starting centroids: ``'random'`` (the default)
    takes ``n_clusters`` distinct rows of the data at random (``sorix.manual_seed``
    or ``np.random.seed`` makes fits repeatable);
    an array or tensor of shape (n_clusters, n_features) gives them
    directly. With more clusters than rows, every row is taken and the
    remaining centroids repeat rows.

    After ``fit``: ``centroids`` (a (n_clusters, n_features) tensor),
    ``labels`` (an int64 tensor of each training row's cluster) and
    ``n_iter`` (the number of centroid updates run), on the data's device.
    """

    def __init__(self, n_clusters, init="random"):
        if isinstance(n_clusters, bool) or not isinstance(n_clusters, numbers.Integral):
            raise TypeError(f"n_clusters must be an int, got {type(n_clusters).__name__}")
        if n_clusters < 1:
            raise ValueError(f"n_clusters must be at least 1, got {n_clusters}")
        if isinstance(init, str):
            if init != "random":
                raise ValueError(f"init must be 'random' or an array of starting centroids, "
                                 f"got {init!r}")
        else:
            rows = tuple(init.shape) if isinstance(init, Tensor) else np.shape(init)
            if len(rows) != 2 or rows[0] != n_clusters:
                raise ValueError(f"init must have shape (n_clusters, n_features) = "
                                 f"({n_clusters}, n_features), got shape {rows}")
        self.n_clusters = int(n_clusters)
        self.init = init
        self._centroids = None
        self.features_names = None
        self.labels = None
        self.n_iter = 0

    # ---- fitting ---------------------------------------------------------------------

    def _initial_centroids(self, x):
        namespace = backend.of(x)
        n, d = x.shape
        if not isinstance(self.init, str):
            start = _points(self.init, "init")
            if start.shape[1] != d:
                raise ValueError(f"init has {start.shape[1]} features but X has {d}")
            start = move_array(start, _device(namespace))
            if start.dtype != x.dtype:
                start = namespace.astype(start, x.dtype)
            else:
                start = namespace.copy(start)  # the fit never writes into the caller's array
            _check_finite(float(namespace.to_host(namespace.sum(start, None, False,
                                                                np.float64))), "init")
            return start
        from .. import random
        generator = random.generator()
        k = self.n_clusters
        if k <= n:
            rows = generator.choice(n, size=k, replace=False)
        else:
            rows = np.concatenate([generator.permutation(n), generator.integers(0, n, k - n)])
        return namespace.take(x, np.asarray(rows, np.int64))

    def fit(self, features, eps=0.001, max_iters=1000):
        """Cluster the rows of ``features`` (a tensor or array of shape (n, d)); returns self.

        Stops after ``max_iters`` centroid updates, or once the centroids'
        mean move is below ``eps``.
        """
        if isinstance(max_iters, bool) or not isinstance(max_iters, numbers.Integral) \
                or max_iters < 0:
            raise ValueError(f"max_iters must be an int >= 0, got {max_iters!r}")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not eps >= 0:
            raise ValueError(f"eps must be a number >= 0, got {eps!r}")
        x = _points(features)
        kernels = _kernels(x)
        centroids = self._initial_centroids(x)
        labels, inertia = kernels.assign_points(x, centroids)
        _check_finite(inertia, "X")
        updates = 0
        while updates < max_iters:
            centroids, shift = kernels.update_centroids(x, labels, centroids)
            labels, _ = kernels.assign_points(x, centroids)
            updates += 1
            if float(np.mean(shift)) < eps:
                break
        self._centroids = centroids
        self.labels = Tensor._wrap(labels)
        self.n_iter = updates
        return self

    # ---- using a fitted model ----------------------------------------------------------

    def _ready(self, features):
        """The points as an array and the centroids on their device, in their dtype."""
        if self._centroids is None:
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet: call fit(X) first")
        x = _points(features)
        d = self._centroids.shape[1]
        if x.shape[1] != d:
            raise ValueError(f"X has {x.shape[1]} features but the model was fitted on {d}")
        namespace = backend.of(x)
        centroids = move_array(self._centroids, _device(namespace))
        if centroids.dtype != x.dtype:
            centroids = namespace.astype(centroids, x.dtype)
        return x, centroids

    def predict(self, features):
        """The index of each row's nearest centroid, as an int64 tensor on the data's device."""
        x, centroids = self._ready(features)
        labels, inertia = _kernels(x).assign_points(x, centroids)
        _check_finite(inertia, "X")
        return Tensor._wrap(labels)

    def get_distances(self, features):
        """The (n, n_clusters) tensor of squared Euclidean distances ||x_i - c||^2."""
        x, centroids = self._ready(features)
        out, finite = _kernels(x).squared_distances(x, centroids)
        _check_finite(0.0 if finite else np.inf, "X")
        return Tensor._wrap(out)

    def get_inertia(self, features):
        """sum_i min_c ||x_i - c||^2, a Python float."""
        x, centroids = self._ready(features)
        _, inertia = _kernels(x).assign_points(x, centroids)
        _check_finite(inertia, "X")
        return inertia

    @property
    def centroids(self):
        """The centroids, a (n_clusters, n_features) tensor (a copy: editing it leaves the
        model as it is); None before ``fit``."""
        if self._centroids is None:
            return None
        return Tensor._wrap(backend.of(self._centroids).copy(self._centroids))

    def __repr__(self):
        init = "" if isinstance(self.init, str) else ", init=<array>"
        return f"{type(self).__name__}(n_clusters={self.n_clusters}{init})"


#: scikit-learn's and PyTorch users' spelling of the same class.
KMeans = Kmeans
