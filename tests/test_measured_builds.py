"""The optimizer updates' choice between their serial and threaded builds, made by timing
both at each size (sorix.kernels.variants.run_measured): which build runs when, with a
fake clock and fake builds, and that the real updates give the same parameters either way."""
import numpy as np
import pytest

import sorix
from sorix import config
from sorix.kernels import threads, variants


class FakeBuilds:
    """Stand-ins for a kernel's two builds: each call records which build ran and moves a
    fake clock on by that build's cost."""

    def __init__(self, serial_cost, threaded_cost):
        self.cost = {False: serial_cost, True: threaded_cost}
        self.now = 0.0
        self.ran = []

    def variant(self, fn, parallel, dtype=None):
        def build(*args):
            self.ran.append("T" if parallel else "S")
            self.now += self.cost[parallel]
        return build

    def clock(self):
        return self.now


def update(p):  # the kernel: its identity (and name) is all run_measured keys on
    pass


@pytest.fixture
def fake(monkeypatch):
    def make(serial_cost, threaded_cost, threads_allowed=True):
        builds = FakeBuilds(serial_cost, threaded_cost)
        monkeypatch.setattr(variants, "variant", builds.variant)
        monkeypatch.setattr(variants, "_clock", builds.clock)
        monkeypatch.setattr(variants, "_measured", {})
        monkeypatch.setattr(variants, "_trials", {})
        monkeypatch.setattr(threads, "use", lambda n, threshold=None: threads_allowed)
        monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0.5)
        return builds
    return make


def calls(builds, count, size=1000):
    x = np.zeros(size, np.float32)
    for _ in range(count):
        variants.run_measured(update, x.size, x)
    return "".join(builds.ran)


def test_the_faster_threaded_build_is_kept_after_both_are_timed(fake):
    builds = fake(serial_cost=5.0, threaded_cost=2.0)
    # one untimed call of each (it may compile), then MEASURED_CALLS timed calls each
    trial = "ST" * (variants.MEASURED_CALLS + 1)
    assert calls(builds, len(trial) + 5) == trial + "TTTTT"
    assert variants.measured_choices() == {("update", 10): "threaded"}


def test_the_faster_serial_build_is_kept(fake):
    builds = fake(serial_cost=1.0, threaded_cost=3.0)
    trial = "ST" * (variants.MEASURED_CALLS + 1)
    assert calls(builds, len(trial) + 4) == trial + "SSSS"
    assert variants.measured_choices() == {("update", 10): "serial"}


def test_the_first_call_of_each_build_is_not_counted(fake):
    builds = fake(serial_cost=1.0, threaded_cost=3.0)
    builds.cost[True] = 100.0  # the threaded build's first call compiles: slow
    calls(builds, 2)
    builds.cost[True] = 0.5  # from then on it is the faster
    assert calls(builds, 2 * variants.MEASURED_CALLS + 3).endswith("TTT")


def test_the_choice_is_measured_again_after_a_while(fake, monkeypatch):
    monkeypatch.setattr(variants, "REMEASURE_AFTER", 4)
    builds = fake(serial_cost=1.0, threaded_cost=3.0)
    trial = "ST" * (variants.MEASURED_CALLS + 1)
    assert calls(builds, len(trial) + 4) == trial + "SSSS"
    builds.ran.clear()
    builds.cost[False] = 9.0  # the cores got slower for the serial build: measured anew
    assert calls(builds, len(trial) + 2) == trial + "TT"
    assert variants.measured_choices() == {("update", 10): "threaded"}


def test_each_size_class_is_measured_on_its_own(fake):
    builds = fake(serial_cost=1.0, threaded_cost=2.0)
    calls(builds, 2 * variants.MEASURED_CALLS + 2, size=100_000)
    builds.ran.clear()
    calls(builds, 2, size=120_000)  # same class (2**16 to 2**17 - 1): already settled
    assert builds.ran == ["S", "S"]
    builds.ran.clear()
    calls(builds, 2, size=300_000)  # a new class: measured afresh
    assert builds.ran == ["S", "T"]


def test_serial_below_the_threshold_and_threaded_when_threads_are_forced(fake, monkeypatch):
    builds = fake(serial_cost=1.0, threaded_cost=2.0, threads_allowed=False)
    assert calls(builds, 3) == "SSS"
    builds = fake(serial_cost=1.0, threaded_cost=2.0)
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0)  # as tests force threads
    assert calls(builds, 3) == "TTT"
    assert variants.measured_choices() == {}


@pytest.mark.parametrize("cls, kwargs", [(sorix.optim.Adam, dict(lr=0.01)),
                                         (sorix.optim.RMSprop, dict(lr=0.01, momentum=0.9)),
                                         (sorix.optim.SGD, dict(lr=0.1, momentum=0.9))])
def test_updates_while_measuring_match_serial_updates(cls, kwargs, monkeypatch):
    """Steps that alternate builds while timing them give the parameters that serial
    steps give, bit for bit: every element is updated by the same arithmetic."""
    monkeypatch.setattr(variants, "_measured", {})
    monkeypatch.setattr(variants, "_trials", {})
    monkeypatch.setattr(config, "OPTIMIZER_PARALLEL_THRESHOLDS",
                        dict.fromkeys(config.OPTIMIZER_PARALLEL_THRESHOLDS, 1024))
    monkeypatch.setattr(config, "LOAD_CHECK_INTERVAL", 0.5)  # (0 would force threads)
    rng = np.random.default_rng(4)
    start = rng.standard_normal(5000).astype(np.float32)
    grads = [rng.standard_normal(5000).astype(np.float32) for _ in range(12)]

    def train(allow_threads):
        monkeypatch.setattr(threads, "use", lambda n, threshold=None: allow_threads)
        p = sorix.tensor(start.copy(), requires_grad=True)
        opt = cls([p], **kwargs)
        for g in grads:
            p.grad = sorix.tensor(g)
            opt.step()
        return p.data

    measured = train(True)  # 8 steps alternate the builds, the last 4 use the faster
    assert variants._measured  # a choice was made
    np.testing.assert_array_equal(measured, train(False))
