"""Time the published Sorix (the ``sorix`` package on PyPI) beside this sorix.

Both packages are named ``sorix``, so the published one cannot be imported
in the process that imports this one. It lives in a folder outside the
project, and a worker process with that folder first on its path runs it;
the benchmark process sends the worker one line per timed step and waits
for its answer, so the IPC costs microseconds against steps of seconds.

    python benchmarks/published_sorix.py install [FOLDER]

downloads the wheel with pip (Sorix 1.0.7 is pure Python; its metadata asks
for Python 3.12, its code runs on 3.11 too) and unpacks it into FOLDER
(default: ``SORIX_PUBLISHED_DIR``, else ~/.cache/sorix-benchmarks/sorix-VERSION).

asv imports every module here; this one defines no benchmark and imports
nothing heavy at import time.
"""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

VERSION = "1.0.7"


def folder():
    """Where the published package is (or is to be) unpacked."""
    default = os.path.join(os.path.expanduser("~"), ".cache", "sorix-benchmarks",
                           f"sorix-{VERSION}")
    return os.environ.get("SORIX_PUBLISHED_DIR", default)


def installed(path=None):
    path = path or folder()
    return os.path.isfile(os.path.join(path, "sorix", "clustering", "k_means.py"))


def install(path=None):
    """Download Sorix VERSION's wheel from PyPI with pip and unpack it into ``path``."""
    path = path or folder()
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "--only-binary=:all:", "--python-version", "3.12", "-d", download,
                        f"sorix=={VERSION}"], check=True)
        (wheel,) = [f for f in os.listdir(download) if f.endswith(".whl")]
        os.makedirs(path, exist_ok=True)
        with zipfile.ZipFile(os.path.join(download, wheel)) as archive:
            archive.extractall(path)
    return path


class Worker:
    """A process running the published Sorix's k-means on fixed data.

    ``step()`` runs one Lloyd iteration of its ``Kmeans.fit`` from the given
    centroids; ``result()`` returns (centroids, labels) of the last step.
    """

    def __init__(self, x, c0, path=None):
        import numpy as np
        path = path or folder()
        if not installed(path):
            raise FileNotFoundError(
                f"published Sorix {VERSION} is not in {path}: run `python "
                "benchmarks/published_sorix.py install` (pip downloads its wheel) or set "
                "SORIX_PUBLISHED_DIR to a folder holding its `sorix` package")
        self._scratch = tempfile.mkdtemp(prefix="sorix-published-")
        np.save(os.path.join(self._scratch, "x.npy"), x)
        np.save(os.path.join(self._scratch, "c0.npy"), c0)
        # the published package first on the path, and nothing of this project's
        env = dict(os.environ, PYTHONPATH=path)
        self._process = subprocess.Popen([sys.executable, "-u", os.path.abspath(__file__),
                                          "worker", self._scratch], env=env, cwd=path,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
        atexit.register(self.close)
        self.origin = self._ask(None, "ready")

    def _ask(self, command, expect):
        if command is not None:
            self._process.stdin.write(command + "\n")
            self._process.stdin.flush()
        line = self._process.stdout.readline().strip()
        word, _, rest = line.partition(" ")
        if word != expect:
            self.close()
            raise RuntimeError(f"published Sorix worker answered {line!r} to {command!r}")
        return rest

    def step(self):
        self._ask("step", "done")

    def result(self):
        import numpy as np
        self._ask("save", "saved")
        saved = np.load(os.path.join(self._scratch, "result.npz"))
        return saved["centroids"], saved["labels"]

    def close(self):
        if self._process.poll() is None:
            self._process.stdin.close()
            self._process.wait(timeout=60)
        shutil.rmtree(self._scratch, ignore_errors=True)


def _serve(scratch):
    """The worker: runs the published Sorix on the data in ``scratch``, one step per line."""
    import numpy as np
    import sorix
    from sorix.clustering import Kmeans
    if os.path.isdir(os.path.join(os.path.dirname(sorix.__file__), "kernels")):
        print(f"error this is not the published Sorix but {sorix.__file__}", flush=True)
        return
    x = sorix.tensor(np.load(os.path.join(scratch, "x.npy")))
    c0 = np.load(os.path.join(scratch, "c0.npy"))
    model = Kmeans(n_clusters=len(c0))
    # Its fit starts from random rows; start it from c0 instead, through the hook it uses.
    model._data_preprocessing_train = lambda features: _start_at(model, features, c0)
    print(f"ready {sorix.__file__}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "step":
            # max_iters=0: its loop runs one assignment and one update, then stops
            model.fit(x, max_iters=0)
            print("done", flush=True)
        elif command == "save":
            np.savez(os.path.join(scratch, "result.npz"), centroids=np.asarray(model._centroids),
                     labels=np.asarray(model.labels))
            print("saved", flush=True)
        else:
            print(f"error unknown command {command!r}", flush=True)


def _start_at(model, features, c0):
    model._centroids = c0.copy()
    return features


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _serve(sys.argv[2])
    elif sys.argv[1:2] == ["install"]:
        print(install(sys.argv[2] if len(sys.argv) > 2 else None))
    else:
        sys.exit(__doc__)
