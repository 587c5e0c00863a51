"""Ratios against references measured in the same process and minute.

Absolute times drift on shared machines; a ratio of two interleaved
measurements does not (much). asv treats track_ values as lower-is-better,
so each is sorix's time divided by the reference's: below 1, sorix is faster.
"""
from . import cases
from .prepare import once_per_params

ROUNDS = 7
SAMPLE_S = 0.05


def _ratio(steps):
    samples = cases.interleaved_samples(steps, ROUNDS, SAMPLE_S)
    return cases.paired_ratio(samples, "sorix", "reference")


def _pair(case, reference):
    """Validated, warmed sorix and reference steps for a case; skips if unavailable."""
    try:
        return {"sorix": cases.build(case, "sorix"), "reference": cases.build(case, reference)}
    except cases.Unavailable as why:
        raise NotImplementedError(str(why)) from None


class _CasesVersusTorch:
    """sorix time / PyTorch CPU time (same thread count) for the cases a subclass lists in
    ``params``. Skipped without PyTorch. (A leading underscore: asv skips this base.)"""
    param_names = ["case"]
    unit = "sorix/torch"
    timeout = 300

    @once_per_params
    def setup(self, case):
        self.steps = _pair(case, "torch")

    def track_ratio(self, case):
        return _ratio(self.steps)


class _CaseSteps:
    """The sorix step alone (validated against NumPy, then warmed up) of the cases a
    subclass lists in ``params``."""
    param_names = ["case"]
    timeout = 300
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self, case):
        self.step = cases.build(case, "sorix")

    def time_step(self, case):
        self.step()

    def peakmem_step(self, case):
        self.step()


class VersusTorch(_CasesVersusTorch):
    params = [["example loop (per iteration)", "elementwise chain 1e6"]]


class VersusMemoryFloor:
    """sorix RMSprop step / one threaded pass reading p, g, square_avg and writing p,
    square_avg: how far the fused update is from the memory bandwidth limit."""
    params = [["RMSprop step 1e6", "RMSprop step 1e7"]]
    param_names = ["case"]
    unit = "sorix/floor"
    timeout = 300

    @once_per_params
    def setup(self, case):
        self.steps = _pair(case, "floor")

    def track_ratio(self, case):
        return _ratio(self.steps)
