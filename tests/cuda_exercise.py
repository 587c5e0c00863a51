"""Call every code path of sorix.kernels.cuda once per dtype, under the simulator,
and print the kernel launches made (recipes and argument types) as JSON.

Used by tests/test_cuda_ptx.py, which compiles each recorded launch for a
real GPU (to PTX, which needs NVVM but no GPU) in a process without the
simulator: the simulator runs kernels as Python, so only a real compile
shows whether numba-cuda accepts them.

Run: NUMBA_ENABLE_CUDASIM=1 python tests/cuda_exercise.py > launches.json
"""
import json
import os
import sys

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
sys.setswitchinterval(1e-4)  # the simulator's thread polling is GIL-bound

import numpy as np  # noqa: E402

import sorix.kernels.cuda as C  # noqa: E402
from sorix.kernels import optim as KO  # noqa: E402
from sorix.kernels.cuda import build  # noqa: E402
from sorix.kernels.defs import BINARY, UNARY  # noqa: E402

from naive import unary_params  # noqa: E402


def elementwise(dtype, rng):
    d = lambda shape: C.to_device(rng.uniform(0.5, 2.0, shape).astype(dtype))  # noqa: E731
    x, g = d((3, 4)), d((3, 4))
    for name, op in UNARY.items():
        y = C.unary(name, x, unary_params(name))
        if op.derivative is not None:
            C.unary_grad(name, g, x, y, unary_params(name))
    pairs = [((3, 4), (3, 4)), ((3, 4), (1,)), ((1,), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4))]
    for name in BINARY:
        for sa, sb in pairs:
            a, b = d(sa), d(sb)
            y = C.binary(name, a, b)
            for need in ((True, True), (True, False), (False, True)):
                C.binary_grad(name, C.zeros(y.shape, dtype), a, b, y, *need)


def arrays(dtype, rng):
    x = C.to_device(rng.standard_normal((2, 3, 4)).astype(dtype))
    for target in (np.int32, np.int64, np.bool_, np.float32, np.float64):
        C.astype(x, target)
    C.astype(C.to_device(np.array([True, False])), dtype)
    for axes in ((1, 0, 2), (2, 1, 0)):
        C.transpose(x, axes)
    C.transpose(C.take(x, 0))
    C.zeros(3, dtype)
    C.full(3, 1, np.int64)
    C.zeros(3, np.bool_)


def reductions(dtype, rng):
    x = C.to_device(rng.standard_normal((3, 70)).astype(dtype))
    for axis in (None, 0, 1):
        C.sum(x, axis), C.mean(x, axis), C.max(x, axis), C.min(x, axis)
        C.argmax(x, axis), C.argmin(x, axis)
    i = C.astype(x, np.int64)
    C.sum(i), C.max(i), C.argmax(i, 1), C.argmin(i, 1)
    b = C.astype(x, np.bool_)
    C.sum(b), C.max(b)


def linalg_index_softmax(dtype, rng):
    a = C.to_device(rng.standard_normal((2, 3, 5)).astype(dtype))
    b = C.to_device(rng.standard_normal((2, 5, 4)).astype(dtype))
    C.matmul(a, b), C.matmul(C.take(a, 0), C.take(b, 0)), C.matmul(a, C.take(b, 0))
    C.matmul(C.astype(a, np.int64), C.astype(b, np.int64))
    C.take(a, (0, slice(None, None, 2))), C.take(a, np.array([1, 1]))
    C.scatter_add((2, 3, 5), (1,), C.take(a, 1))
    C.scatter_add((2, 3, 5), np.array([1, 1]), C.take(a, np.array([1, 1])))
    C.where(C.to_device(np.array([True, False, True, False, True])), C.take(a, 0), C.take(a, 1))
    rows, cols = C.to_device(np.array([1, 0, 1])), C.to_device(np.array([4, 0], np.int32))
    C.scatter_add((2, 3, 5), rows, C.take(a, rows))
    C.scatter_add((2, 3, 5), (slice(None), C.take(rows, slice(0, 2)), cols),
                  C.take(a, (slice(None), C.take(rows, slice(0, 2)), cols)))
    C.matmul(C.take(b, 0), C.matrix_transpose(C.take(b, 1)))
    C.softmax(a, 1), C.log_softmax(a, -1)


def logic_and_writes(dtype, rng):
    x = C.to_device(rng.standard_normal((3, 4)).astype(dtype))
    row = C.take(x, 0)
    for name in ("eq", "ne", "lt", "le", "gt", "ge", "same"):
        C.compare(name, x, row), C.compare(name, x, 0.5)
    m = C.compare("gt", x, 0.0)
    i = C.arange(4)
    for name in ("and", "or", "xor"):
        C.logical(name, m, C.take(m, 1)), C.bitwise(name, i, 3), C.bitwise(name, m, m)
    C.compare("lt", m, True), C.invert(m), C.invert(i), C.any(x), C.all(m)
    C.arange(5, dtype)
    C.assign(x, (0, slice(None)), 1.5), C.assign(x, (slice(None), 1), C.take(x, (slice(None), 0)))
    C.assign(x, (np.array([0, 2]), np.array([1, 1])), C.take(row, slice(0, 2)))
    C.assign(x, Ellipsis, C.astype(x, np.float64))
    for name in ("add", "sub", "mul", "div"):  # the in-place operators: += -= *= /=
        C.inplace(name, x, row)
    C.clip(x, -0.5, 0.5, x)
    C.concatenate([x, x], 1), C.stack([row, row], 0)
    C.where(m, x, 0.0), C.sum(x, 1, False, np.float64)


def optimizers(dtype, rng):
    n = 5
    t = np.dtype(dtype).type
    state = lambda: C.zeros(n, dtype)  # noqa: E731
    p, g, none = state(), state(), C.nothing(dtype)
    C.run(KO.sgd, p, g, state(), t(0.1), t(0.0), t(0.9), t(1.0), False, False, True)
    C.run(KO.rmsprop, p, g, state(), state(), none, t(0.1), t(0.99), t(0.01), t(1e-8), t(0),
          t(0), False)
    C.run(KO.adam, p, g, state(), state(), none, t(0.1), t(0.1), t(0.999), t(0.001), t(1e-8),
          t(0), t(1), t(1), False)


def kmeans(dtype, rng):
    from sorix.kernels.cuda import kmeans as KM
    x = C.to_device(rng.standard_normal((20, 3)).astype(dtype))
    centroids = C.take(x, np.array([0, 5, 9]))
    labels, _ = KM.assign_points(x, centroids)
    KM.update_centroids(x, labels, centroids)
    KM.squared_distances(x, centroids)


def gradient_buckets(dtype, rng):
    from sorix.kernels.cuda import buckets
    grad = C.to_device(rng.standard_normal((2, 3)).astype(dtype))
    bucket = C.zeros(10, dtype)
    buckets.pack(bucket, 4, grad)
    buckets.unpack(bucket, 4, grad)
    buckets.unpack_divided(bucket, 4, grad, 2)
    buckets.divide(bucket, 2)


def conv_and_pooling(dtype, rng):
    from sorix.kernels.conv import Geometry
    x = C.to_device(rng.standard_normal((2, 4, 5, 4)).astype(dtype))
    w = C.to_device(rng.standard_normal((6, 2, 2, 3)).astype(dtype))
    b = C.to_device(rng.standard_normal(6).astype(dtype))
    geometry = Geometry((2, 1), (1, 0, 1, 1), (1, 2), 2)
    y = C.conv2d(x, w, b, geometry)
    C.conv2d(x, w, None, geometry)
    C.conv2d_backward(y, x, w, geometry, tuple(x.shape), tuple(w.shape), True, True, True)
    out, index = C.max_pool2d(x, (2, 2), (2, 2, 2, 2, 0, 0, 1, 1))
    C.max_pool2d_backward(out, index, tuple(x.shape), (2, 2, 2, 2, 0, 0, 1, 1))
    for settings in ((3, 3, 2, 2, 1, 1, False, True, 0), (1, 1, 1, 1, 0, 0, True, False, 0)):
        out = C.avg_pool2d(x, (3, 2), settings)
        C.avg_pool2d_backward(out, tuple(x.shape), settings)


def main():
    rng = np.random.default_rng(0)
    launches = build.record()
    for dtype in (np.float32, np.float64):
        for part in (elementwise, arrays, reductions, linalg_index_softmax, logic_and_writes,
                     optimizers, kmeans, gradient_buckets):
            part(dtype, rng)
    for dtype in (np.float32, np.float64):
        conv_and_pooling(dtype, rng)
    unique = {json.dumps(entry): entry for entry in launches}
    json.dump(sorted(unique.values(), key=json.dumps), sys.stdout)


if __name__ == "__main__":
    main()
