"""Train a small convolutional network on scikit-learn's handwritten digits.

The 1,797 8x8 images ship inside scikit-learn (no download). The network is
conv-relu-pool twice, then a linear layer:

    (N, 1, 8, 8) -> Conv2d(1, 16, 3, padding=1) -> ReLU -> MaxPool2d(2)   -> (N, 16, 4, 4)
                 -> Conv2d(16, 32, 3, padding=1) -> ReLU -> MaxPool2d(2)  -> (N, 32, 2, 2)
                 -> Flatten -> Linear(128, 10)

The script prints each epoch's loss and test accuracy, saves the trained
model's state_dict, reloads it into a fresh network and checks that the
predictions are identical.

    pip install ".[examples]" && python examples/digits_cnn.py
"""
import os
import sys
import tempfile
import time

import numpy as np

import sorix
from sorix import nn
from sorix.optim import Adam
from sorix.utils.data import DataLoader, Dataset


def load_digits_split(test_fraction=0.25, seed=0):
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8), pixels in 0..1
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(len(X) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    )


def accuracy(model, X, y):
    model.eval()
    with sorix.no_grad():
        predicted = model(sorix.tensor(X)).argmax(dim=1).numpy().reshape(-1)
    model.train()
    return float((predicted == y).mean())


def progress(done, total, width=30):
    filled = int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def main(epochs=12):
    sorix.manual_seed(0)
    X_train, y_train, X_test, y_test = load_digits_split()
    loader = DataLoader(Dataset(X_train, y_train), batch_size=32, shuffle=True)
    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = Adam(model.parameters(), lr=3e-3)

    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        total, batches = 0.0, len(loader)
        for i, (xb, yb) in enumerate(loader, 1):
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            if sys.stdout.isatty():
                print(f"\repoch {epoch:2d} {progress(i, batches)}", end="", flush=True)
        print(f"\repoch {epoch:2d} {progress(batches, batches)} loss {total / batches:.4f} "
              f"test accuracy {accuracy(model, X_test, y_test):.4f}")
    print(f"trained in {time.perf_counter() - start:.1f} s")
    final = accuracy(model, X_test, y_test)
    if final < 0.97:
        raise SystemExit(f"test accuracy {final:.4f} is below the 0.97 this example reaches")

    # Save, reload into a fresh network, and check the predictions are identical.
    path = os.path.join(tempfile.mkdtemp(), "digits_cnn.sorix")
    sorix.save(model.state_dict(), path)
    restored = make_model()
    restored.load_state_dict(sorix.load(path))
    model.eval()
    restored.eval()
    with sorix.no_grad():
        same = np.array_equal(model(sorix.tensor(X_test)).numpy(),
                              restored(sorix.tensor(X_test)).numpy())
    print(f"saved to {path}; reloaded model gives identical predictions: {same}")
    if not same:
        raise SystemExit("reloaded model disagrees with the trained one")


if __name__ == "__main__":
    main()
