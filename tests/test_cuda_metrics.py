"""Metrics, train_test_split and WalkForwardSplit read CUDA tensors (simulator by default;
SORIX_TEST_CUDA=gpu runs on a real GPU): the data is copied to the host once, and the
results equal those of the same data on the CPU."""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sorix  # noqa: E402
from cuda_setup import device_api_only, fast_thread_switching  # noqa: E402,F401
from sorix import metrics  # noqa: E402
from sorix.model_selection import train_test_split  # noqa: E402
from sorix.utils.data import WalkForwardSplit  # noqa: E402


def test_metrics_of_cuda_tensors_equal_the_cpu_results():
    rng = np.random.default_rng(0)
    labels, guesses = rng.integers(0, 3, 40), rng.integers(0, 3, 40)
    values = rng.normal(size=40).astype(np.float32)
    predictions = values + rng.normal(0, 0.3, 40).astype(np.float32)
    probs = rng.random(40).astype(np.float32)
    on_gpu = {name: sorix.tensor(a, device="cuda") for name, a in
              dict(labels=labels, guesses=guesses, values=values, predictions=predictions,
                   probs=probs, binary=labels % 2).items()}
    assert on_gpu["labels"].device.type == "cuda"
    for fn in (metrics.mean_squared_error, metrics.root_mean_squared_error,
               metrics.mean_absolute_error, metrics.mean_absolute_percentage_error,
               metrics.r2_score):
        assert fn(on_gpu["values"], on_gpu["predictions"]) == fn(values, predictions)
    for fn in (metrics.precision_score, metrics.recall_score, metrics.f1_score):
        assert fn(on_gpu["labels"], on_gpu["guesses"], average="macro") == \
            fn(labels, guesses, average="macro")
    np.testing.assert_array_equal(metrics.confusion_matrix(on_gpu["labels"], on_gpu["guesses"]),
                                  metrics.confusion_matrix(labels, guesses))
    assert metrics.accuracy_score(on_gpu["labels"], guesses) == \
        metrics.accuracy_score(labels, guesses)
    assert metrics.classification_report(on_gpu["labels"], on_gpu["guesses"]) == \
        metrics.classification_report(labels, guesses)
    assert metrics.find_optimal_threshold(on_gpu["binary"], on_gpu["probs"]) == \
        metrics.find_optimal_threshold(labels % 2, probs)


def test_splitters_keep_cuda_tensors_on_the_device():
    X = np.arange(24, dtype=np.float32).reshape(12, 2)
    gpu_X = sorix.tensor(X, device="cuda")
    train, test = train_test_split(gpu_X, test_size=0.25, random_state=3)
    assert train.device.type == "cuda" and test.device.type == "cuda"
    order = np.random.RandomState(3).permutation(12)
    np.testing.assert_array_equal(train.cpu().numpy(), X[order[:9]])
    folds = list(WalkForwardSplit(n_splits=2, val_size=3).split(gpu_X))
    train_X, val_X = folds[1]
    assert val_X.device.type == "cuda"
    np.testing.assert_array_equal(val_X.cpu().numpy(), X[9:])
    np.testing.assert_array_equal(train_X.cpu().numpy(), X[:9])
