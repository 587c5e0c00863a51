"""examples/digits_cnn.py runs as a user runs it: it reaches 97% test accuracy and the
reloaded model predicts identically."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, python_env


def test_digits_cnn_example():
    pytest.importorskip("sklearn")
    done = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "digits_cnn.py")],
                          capture_output=True, text=True, env=python_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    accuracies = [float(a) for a in re.findall(r"test accuracy (\d\.\d+)", done.stdout)]
    assert len(accuracies) == 12 and accuracies[-1] >= 0.97, done.stdout
    assert "identical predictions: True" in done.stdout
