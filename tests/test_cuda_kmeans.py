"""k-means on CUDA tensors: sorix.kernels.cuda.kmeans and Kmeans on the device.

Checked against the plain-NumPy Lloyd's algorithm (tests/naive_kmeans.py)
and against the CPU kernels. Runs under numba's CUDA simulator
(tests/cuda_setup.py; SORIX_TEST_CUDA=gpu runs on a real GPU), so the
shapes are small; the simulator's launch sizes are tiny too, so several
blocks and the grid-stride loops are exercised all the same.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from sorix.clustering import Kmeans  # noqa: E402
from sorix.kernels import kmeans as K  # noqa: E402
from sorix.kernels.cuda import kmeans as G  # noqa: E402
from conftest import DTYPES  # noqa: E402
from cuda_setup import check, dev, device_api_only, fast_thread_switching, host  # noqa: E402,F401

import naive_kmeans as ref  # noqa: E402
from naive_kmeans import tol  # noqa: E402

# (n, d, k): one point, one feature, one cluster, fewer points than clusters, several blocks
SHAPES = [(1, 1, 1), (30, 1, 3), (19, 5, 1), (3, 2, 5), (61, 6, 4)]


def case(shape, dtype):
    n, d, k = shape
    rng = np.random.default_rng(n * 1000 + d * 10 + k)
    return rng.standard_normal((n, d)).astype(dtype), rng.standard_normal((k, d)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_kernels_match_numpy_and_the_cpu(shape, dtype):
    x, centroids = case(shape, dtype)
    labels, inertia = G.assign_points(dev(x), dev(centroids))
    want_labels, want_inertia = ref.assign(x, centroids)
    check(labels, want_labels, np.int64, exact=True)
    assert inertia == pytest.approx(want_inertia, rel=1e-5 if dtype == np.float32 else 1e-12)

    new, shift = G.update_centroids(dev(x), labels, dev(centroids))
    check(new, ref.update(x, want_labels, centroids), dtype)
    cpu_new, cpu_shift = K.update_centroids(x, want_labels, centroids)
    check(new, cpu_new, dtype)
    assert isinstance(shift, np.ndarray)
    np.testing.assert_allclose(shift, cpu_shift, rtol=1e-12, atol=1e-12)

    out, finite = G.squared_distances(dev(x), dev(centroids))
    assert finite
    check(out, ref.squared_distances(x, centroids), dtype)


def test_ties_and_non_finite_points():
    x = np.array([[0, 0], [0, 2], [5, 5]], np.float32)
    centroids = np.array([[3, 0], [1, 0], [-1, 0], [1, 0]], np.float32)
    labels, inertia = G.assign_points(dev(x), dev(centroids))
    check(labels, [1, 1, 0], np.int64, exact=True)
    assert inertia == 35
    x[1, 0] = np.nan
    _, inertia = G.assign_points(dev(x), dev(centroids))
    assert not np.isfinite(inertia)
    assert not G.squared_distances(dev(x), dev(centroids))[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_one_iteration_on_the_device(shape, dtype):
    x, start = case(shape, dtype)
    data, init = sorix.tensor(x, device="cuda"), sorix.tensor(start, device="cuda")
    before = C.transfer_counts()
    model = Kmeans(shape[2], init=init).fit(data, max_iters=1, eps=0.0)
    assert C.transfer_counts()["to_device"] == before["to_device"]  # nothing re-uploaded
    want_centroids, want_labels, want_inertia = ref.lloyd(x, start, 1)
    for t in (model.centroids, model.labels, model.predict(data), model.get_distances(data)):
        assert t.device == sorix.device("cuda:0")
    np.testing.assert_allclose(host(model.centroids), want_centroids, **tol(dtype))
    np.testing.assert_array_equal(host(model.labels), want_labels)
    np.testing.assert_array_equal(host(model.predict(data)), want_labels)
    assert model.get_inertia(data) == pytest.approx(
        want_inertia, rel=1e-5 if dtype == np.float32 else 1e-12)


def test_device_fit_matches_the_cpu_fit_from_the_same_seed():
    rng = np.random.default_rng(4)
    x, _ = ref.blobs(rng, 45, 3, 3, np.float64, spread=2.0)
    sorix.manual_seed(9)
    on_cpu = Kmeans(3).fit(x, max_iters=4)
    sorix.manual_seed(9)
    on_gpu = Kmeans(3).fit(sorix.tensor(x, device="cuda"), max_iters=4)
    np.testing.assert_allclose(host(on_gpu.centroids), host(on_cpu.centroids), rtol=1e-12)
    np.testing.assert_array_equal(host(on_gpu.labels), host(on_cpu.labels))
    # a model fitted on the GPU predicts host data on the host, and the reverse
    assert on_gpu.predict(x).device == sorix.device("cpu")
    np.testing.assert_array_equal(host(on_gpu.predict(x)), host(on_cpu.labels))
    gpu_preds = on_cpu.predict(sorix.tensor(x, device="cuda"))
    assert gpu_preds.device == sorix.device("cuda:0")


def test_empty_cluster_and_more_clusters_than_points_on_the_device():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((40, 2)).astype(np.float32)
    start = np.array([[-1, 0], [1, 0], [100, 100]], np.float32)
    model = Kmeans(3, init=start).fit(sorix.tensor(x, device="cuda"), max_iters=3, eps=0.0)
    want_centroids, want_labels, _ = ref.lloyd(x, start, 3)
    np.testing.assert_array_equal(host(model.centroids)[2], [100, 100])
    np.testing.assert_allclose(host(model.centroids), want_centroids, **tol(np.float32))
    np.testing.assert_array_equal(host(model.labels), want_labels)

    few = sorix.tensor([[1.0, 1.0], [2.0, 2.0]], device="cuda")
    model = Kmeans(5).fit(few, max_iters=2)
    assert model.centroids.shape == (5, 2)
    assert model.get_inertia(few) == 0.0


def test_nan_on_the_device_is_refused():
    x = np.zeros((6, 2), np.float32)
    x[4, 0] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        Kmeans(2).fit(sorix.tensor(x, device="cuda"))
