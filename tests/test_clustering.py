"""sorix.clustering.Kmeans and its CPU kernels (sorix.kernels.kmeans).

References: a plain-NumPy Lloyd's algorithm in float64 (tests/naive_kmeans.py)
and scikit-learn's KMeans(algorithm='lloyd') started from the same centroids.
"""
import numpy as np
import pytest

import sorix
from sorix import config
from sorix.clustering import KMeans, Kmeans
from sorix.kernels import kmeans as K
from sorix.kernels import variants

import naive_kmeans as ref
from conftest import DTYPES
from naive_kmeans import tol

# (n, d, k): feature counts around the kernel's groups of four, one feature, one cluster,
# fewer points than clusters, and more points than one tile
SHAPES = [(1, 1, 1), (40, 1, 3), (57, 7, 1), (3, 2, 5), (200, 4, 6), (333, 9, 8),
          (700, 16, 32), (50, 3, 4), (64, 5, 2)]


@pytest.fixture(params=["serial", "threaded"])
def build(request, monkeypatch):
    """Run the kernels' serial build, or their threaded build with three chunks (any
    thread count runs them: prange splits three iterations among what it has)."""
    if request.param == "serial":
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 10**18)
    else:
        monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # threads even on a busy machine
        monkeypatch.setattr(K, "_threads", lambda: 3)
    return request.param


def case(shape, dtype, seed=0):
    n, d, k = shape
    rng = np.random.default_rng(seed + n * 1000 + d * 10 + k)
    x = rng.standard_normal((n, d)).astype(dtype)
    start = rng.standard_normal((k, d)).astype(dtype)
    return x, start


# ---- kernels --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_assignment_matches_numpy(shape, dtype, build):
    x, centroids = case(shape, dtype)
    labels, inertia = K.assign_points(x, centroids)
    want_labels, want_inertia = ref.assign(x, centroids)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, want_labels)
    assert inertia == pytest.approx(want_inertia, rel=1e-5 if dtype == np.float32 else 1e-12)
    assert variants._compiled.get((K.assign, build == "threaded")) is not None


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_update_matches_numpy(shape, dtype, build):
    x, centroids = case(shape, dtype)
    labels, _ = ref.assign(x, centroids)
    new, shift = K.update_centroids(x, labels, centroids)
    want = ref.update(x, labels, centroids)
    assert new.dtype == dtype and shift.dtype == np.float64
    np.testing.assert_allclose(new, want, **tol(dtype))
    moved = np.linalg.norm(new.astype(np.float64) - centroids.astype(np.float64), axis=1)
    np.testing.assert_allclose(shift, moved, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES[::2], ids=str)
def test_distances_match_numpy_and_the_labels(shape, dtype, build):
    x, centroids = case(shape, dtype)
    out, finite = K.squared_distances(x, centroids)
    assert out.dtype == dtype and finite
    np.testing.assert_allclose(out, ref.squared_distances(x, centroids), **tol(dtype))
    labels, _ = K.assign_points(x, centroids)
    np.testing.assert_array_equal(out.argmin(axis=1), labels)  # the same sums, bit for bit


@pytest.mark.parametrize("dtype", DTYPES)
def test_ties_go_to_the_first_nearest_centroid(dtype, build):
    x = np.array([[0, 0], [0, 2], [5, 5]], dtype)
    centroids = np.array([[3, 0], [1, 0], [-1, 0], [1, 0]], dtype)
    labels, inertia = K.assign_points(x, centroids)
    # distances: (9, 1, 1, 1), (13, 5, 5, 5), (29, 41, 61, 41)
    np.testing.assert_array_equal(labels, [1, 1, 0])
    assert inertia == 1 + 5 + 29


def test_serial_and_threaded_builds_agree(monkeypatch):
    x, centroids = case((1000, 6, 7), np.float32)
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 10**18)
    serial = K.assign_points(x, centroids)
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)
    monkeypatch.setattr(K, "_threads", lambda: 4)
    threaded = K.assign_points(x, centroids)
    np.testing.assert_array_equal(serial[0], threaded[0])
    assert serial[1] == pytest.approx(threaded[1], rel=1e-12)


def test_busy_cores_make_the_kernels_serial(monkeypatch):
    from sorix.kernels import threads, variants
    x, centroids = case((1000, 6, 7), np.float32)
    monkeypatch.setattr(config, "PARALLEL_THRESHOLD", 1)
    monkeypatch.setattr(threads, "use", lambda n, threshold=None: False)  # cores all busy
    built = []
    real = variants.variant
    monkeypatch.setattr(variants, "variant", lambda fn, par: built.append(par) or real(fn, par))
    labels, _ = K.assign_points(x, centroids)
    K.update_centroids(x, labels, centroids)
    assert built and not any(built)


def test_a_point_with_nan_makes_the_inertia_infinite():
    x, centroids = case((50, 3, 4), np.float32)
    x[7, 1] = np.nan
    labels, inertia = K.assign_points(x, centroids)
    assert not np.isfinite(inertia)
    assert labels[7] == 0
    _, finite = K.squared_distances(x, centroids)
    assert not finite


# ---- one Lloyd iteration and longer fits ------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_one_iteration_from_given_centroids(shape, dtype, build):
    x, start = case(shape, dtype)
    model = Kmeans(shape[2], init=start).fit(sorix.tensor(x), max_iters=1, eps=0.0)
    want_centroids, want_labels, want_inertia = ref.lloyd(x, start, 1)
    assert model.n_iter == 1
    assert model.centroids.dtype == dtype and model.centroids.shape == start.shape
    np.testing.assert_allclose(model.centroids.numpy(), want_centroids, **tol(dtype))
    np.testing.assert_array_equal(model.labels.numpy(), want_labels)
    assert model.get_inertia(sorix.tensor(x)) == pytest.approx(
        want_inertia, rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("iterations", [1, 3, 20])
def test_inertia_and_centroids_match_scikit_learn(iterations, dtype):
    cluster = pytest.importorskip("sklearn.cluster")
    rng = np.random.default_rng(iterations)
    x, start = ref.blobs(rng, 600, 5, 6, dtype, spread=3.0)  # overlapping blobs: labels move
    theirs = cluster.KMeans(n_clusters=6, init=start, n_init=1, max_iter=iterations, tol=0.0,
                            algorithm="lloyd").fit(x)
    ours = Kmeans(6, init=start).fit(x, max_iters=iterations, eps=0.0)
    loose = dict(rtol=1e-4, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.centroids.numpy(), theirs.cluster_centers_, **loose)
    np.testing.assert_array_equal(ours.labels.numpy(), theirs.labels_)
    assert ours.get_inertia(x) == pytest.approx(theirs.inertia_, rel=loose["rtol"])


def test_fit_converges_on_separated_blobs_and_stops_early():
    rng = np.random.default_rng(5)
    x, start = ref.blobs(rng, 300, 2, 3, np.float64, spread=0.3)
    model = Kmeans(3, init=start).fit(x)
    assert model.n_iter < 1000  # the centroids stopped moving
    want_centroids, want_labels, _ = ref.lloyd(x, start, model.n_iter)
    np.testing.assert_allclose(model.centroids.numpy(), want_centroids, rtol=1e-12)
    np.testing.assert_array_equal(model.labels.numpy(), want_labels)
    np.testing.assert_array_equal(model.predict(x).numpy(), model.labels.numpy())
    assert Kmeans(3, init=start).fit(x, eps=1e9).n_iter == 1
    assert Kmeans(3, init=start).fit(x, max_iters=0).n_iter == 0


# ---- empty clusters, more clusters than points -----------------------------------------------

def test_a_cluster_without_points_keeps_its_centroid():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 2)).astype(np.float32)
    start = np.array([[-1, 0], [1, 0], [100, 100]], np.float32)  # nothing is near the third
    model = Kmeans(3, init=start).fit(x, max_iters=5, eps=0.0)
    centroids = model.centroids.numpy()
    np.testing.assert_array_equal(centroids[2], [100, 100])
    assert not (model.labels.numpy() == 2).any()
    want_centroids, want_labels, _ = ref.lloyd(x, start, 5)
    np.testing.assert_allclose(centroids, want_centroids, **tol(np.float32))
    np.testing.assert_array_equal(model.labels.numpy(), want_labels)


def test_more_clusters_than_points():
    x = np.array([[1.0, 1.0], [2.0, 2.0], [4.0, 0.0]])
    sorix.manual_seed(0)
    model = Kmeans(5).fit(x, max_iters=3)
    centroids = model.centroids.numpy()
    assert centroids.shape == (5, 2)
    # every point is its own cluster's centroid; the surplus centroids repeat points
    assert {tuple(r) for r in centroids} == {tuple(r) for r in x}
    labels = model.labels.numpy()
    np.testing.assert_array_equal(centroids[labels], x)
    assert model.get_inertia(x) == 0.0


# ---- initialisation ---------------------------------------------------------------------------

def test_random_init_takes_distinct_rows_and_follows_manual_seed():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((500, 3)).astype(np.float32)
    sorix.manual_seed(42)
    first = Kmeans(8).fit(x, max_iters=0)
    sorix.manual_seed(42)
    again = Kmeans(8).fit(x, max_iters=10)
    sorix.manual_seed(42)
    same = Kmeans(8).fit(x, max_iters=10)
    rows = first.centroids.numpy()
    matches = [np.flatnonzero((x == r).all(axis=1)) for r in rows]
    assert all(len(m) == 1 for m in matches)  # each starting centroid is a row of x
    assert len({int(m[0]) for m in matches}) == 8  # eight different rows
    np.testing.assert_array_equal(again.centroids.numpy(), same.centroids.numpy())
    np.testing.assert_array_equal(again.labels.numpy(), same.labels.numpy())
    want_centroids, _, _ = ref.lloyd(x, rows, 10)
    np.testing.assert_allclose(again.centroids.numpy(), want_centroids, **tol(np.float32))
    np.random.seed(42)  # NumPy's global seed alone repeats the start too (Sorix scripts)
    np.testing.assert_array_equal(Kmeans(8).fit(x, max_iters=0).centroids.numpy(), rows)


# ---- API surface ----------------------------------------------------------------------------

def test_api_types_and_devices():
    rng = np.random.default_rng(2)
    x, start = ref.blobs(rng, 90, 2, 3, np.float32)
    data = sorix.tensor(x, requires_grad=True)
    model = Kmeans(n_clusters=3, init=sorix.tensor(start))
    assert model.fit(data, max_iters=10) is model
    assert isinstance(model.centroids, sorix.Tensor) and model.centroids.shape == (3, 2)
    assert model.centroids.dtype == sorix.float32
    assert isinstance(model.labels, sorix.Tensor) and model.labels.shape == (90,)
    assert model.labels.dtype == sorix.int64
    preds = model.predict(data)
    assert isinstance(preds, sorix.Tensor) and preds.dtype == sorix.int64
    distances = model.get_distances(data)
    assert isinstance(distances, sorix.Tensor) and distances.shape == (90, 3)
    assert distances.dtype == sorix.float32
    np.testing.assert_allclose(distances.numpy(), ref.squared_distances(x, model.centroids.numpy()),
                               **tol(np.float32))
    inertia = model.get_inertia(data)
    assert type(inertia) is float
    assert inertia == pytest.approx(distances.numpy().min(axis=1).astype(np.float64).sum(),
                                    rel=1e-6)
    model.centroids.data[...] = 0  # a copy: the model is unchanged
    assert model.get_inertia(data) == inertia
    assert KMeans is Kmeans and sorix.clustering.Kmeans is Kmeans
    from sorix.clustering.k_means import Kmeans as same
    assert same is Kmeans
    assert repr(Kmeans(4)) == "Kmeans(n_clusters=4)"


def test_inputs_are_not_modified_and_other_dtypes_convert():
    x = np.arange(24, dtype=np.int64).reshape(12, 2)
    start = np.array([[0, 1], [22, 23]])
    kept_x, kept_start = x.copy(), start.copy()
    model = Kmeans(2, init=start).fit(x, max_iters=5)
    np.testing.assert_array_equal(x, kept_x)
    np.testing.assert_array_equal(start, kept_start)
    assert model.centroids.dtype == sorix.float64  # integers are clustered in float64
    np.testing.assert_allclose(model.centroids.numpy(), [[5, 6], [17, 18]])
    halves = Kmeans(2, init=start).fit(x.astype(np.float16), max_iters=5)
    assert halves.centroids.dtype == sorix.float32
    lists = Kmeans(2, init=start.tolist()).fit(x.tolist(), max_iters=5)
    np.testing.assert_allclose(lists.centroids.numpy(), [[5, 6], [17, 18]])
    strided = np.asfortranarray(x.astype(np.float64))
    np.testing.assert_array_equal(model.predict(strided).numpy(), model.labels.numpy())


# ---- errors ------------------------------------------------------------------------------------

def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="at least 1"):
        Kmeans(0)
    with pytest.raises(TypeError, match="int"):
        Kmeans(2.5)
    with pytest.raises(TypeError, match="int"):
        Kmeans(True)
    with pytest.raises(ValueError, match="init must"):
        Kmeans(3, init=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="init must"):
        Kmeans(3, init="k-means++")
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="max_iters"):
        Kmeans(2).fit(x, max_iters=-1)
    with pytest.raises(ValueError, match="eps"):
        Kmeans(2).fit(x, eps=-1.0)
    with pytest.raises(ValueError, match="init has 3 features but X has 2"):
        Kmeans(2, init=np.zeros((2, 3))).fit(x)


def test_bad_data_is_refused_and_leaves_the_model_as_it_was():
    with pytest.raises(ValueError, match=r"reshape\(-1, 1\)"):
        Kmeans(2).fit(np.arange(10.0))
    with pytest.raises(ValueError, match="at least one sample"):
        Kmeans(2).fit(np.zeros((0, 3)))
    with pytest.raises(TypeError, match="numbers"):
        Kmeans(2).fit(np.array([["a", "b"], ["c", "d"]]))
    model = Kmeans(2)
    with pytest.raises(RuntimeError, match="fit"):
        model.predict(np.zeros((3, 2)))
    rng = np.random.default_rng(0)
    x, start = ref.blobs(rng, 40, 2, 2, np.float64)
    model = Kmeans(2, init=start).fit(x)
    before = model.centroids.numpy(), model.labels.numpy()
    for bad in (np.nan, np.inf):
        dirty = x.copy()
        dirty[3, 1] = bad
        with pytest.raises(ValueError, match="NaN or infinity"):
            model.fit(dirty)
        for method in (model.predict, model.get_inertia, model.get_distances):
            with pytest.raises(ValueError, match="NaN or infinity"):
                method(dirty)
    np.testing.assert_array_equal(model.centroids.numpy(), before[0])
    np.testing.assert_array_equal(model.labels.numpy(), before[1])
    with pytest.raises(ValueError, match="NaN or infinity"):
        Kmeans(2, init=np.array([[0.0, np.nan], [1.0, 1.0]])).fit(x)
    with pytest.raises(ValueError, match="3 features but the model was fitted on 2"):
        model.predict(np.zeros((4, 3)))
