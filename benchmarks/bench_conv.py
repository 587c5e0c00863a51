"""Convolutional networks: a Conv2d forward+backward, a LeNet-style training step (see
conv_cases.py) and a BatchNorm2d forward+backward (batch_norm_case.py), timed, and as
ratios to PyTorch measured in the same minute."""
from . import cases
from .bench_ratios import _pair, _ratio
from .prepare import once_per_params

CASES = ["Conv2d 64x1x28x28 -> 32, 3x3 fwd+bwd",
         "Conv2d 64x1x28x28 -> 32, 3x3 fwd+bwd, input grad too",
         "LeNet training step (batch 64)",
         "BatchNorm2d 64x32x28x28 fwd+bwd"]


class ConvVersusTorch:
    """sorix time / PyTorch CPU time (same thread count). Skipped without PyTorch."""
    params = [CASES]
    param_names = ["case"]
    unit = "sorix/torch"
    timeout = 300

    @once_per_params
    def setup(self, case):
        self.steps = _pair(case, "torch")

    def track_ratio(self, case):
        return _ratio(self.steps)


class ConvTime:
    """The cases' sorix step alone (validated against NumPy, then warmed up)."""
    params = [CASES]
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
