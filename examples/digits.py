"""Train an MLP on scikit-learn's handwritten digits with RMSprop.

The 1,797 8x8 images ship inside scikit-learn (no download). The script
prints each epoch's loss and test accuracy, saves the trained model,
reloads it into a fresh network and checks that the predictions are
identical. With matplotlib installed it also writes digits_loss.png.

    pip install ".[examples]" && python examples/digits.py
"""
import os
import sys
import tempfile
import time

import numpy as np

import sorix
from sorix import nn
from sorix.optim import RMSprop
from sorix.utils.data import DataLoader, Dataset


def load_digits_split(test_fraction=0.25, seed=0):
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)  # pixel values 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(len(X) * test_fraction)
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]


def make_model():
    return nn.Sequential(
        nn.Linear(64, 128),
        nn.ReLU(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )


def accuracy(model, X, y):
    model.eval()
    with sorix.no_grad():
        predicted = model(sorix.tensor(X)).argmax(dim=1).numpy()
    model.train()
    return float((predicted == y).mean())


def progress(done, total, width=30):
    filled = int(width * done / total)
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def main(epochs=15):
    sorix.manual_seed(0)
    X_train, y_train, X_test, y_test = load_digits_split()
    loader = DataLoader(Dataset(X_train, y_train), batch_size=32, shuffle=True)
    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = RMSprop(model.parameters(), lr=1e-3)

    losses = []
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
        losses.append(total / batches)
        print(f"\repoch {epoch:2d} {progress(batches, batches)} loss {losses[-1]:.4f} "
              f"test accuracy {accuracy(model, X_test, y_test):.4f}")
    print(f"trained in {time.perf_counter() - start:.1f} s")

    # Save, reload into a fresh network, and check the predictions are identical.
    path = os.path.join(tempfile.mkdtemp(), "digits_mlp.sorix")
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

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.plot(range(1, epochs + 1), losses, marker="o")
    plt.xlabel("epoch")
    plt.ylabel("training loss")
    plt.title("MLP on scikit-learn digits (RMSprop)")
    plt.savefig("digits_loss.png", dpi=100)
    print("loss curve written to digits_loss.png")


if __name__ == "__main__":
    main()
