"""LayerNorm forward + backward at (4096, 1024) float32: sorix's time, and its ratio to
PyTorch's and to the memory floor measured in the same run (below 1: sorix is faster)."""
from . import cases
from .prepare import once_per_params

CASE = "LayerNorm 4096x1024 fwd+bwd"


class LayerNorm:
    timeout = 300
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self):
        self.step = cases.build(CASE, "sorix")  # validated against NumPy, warmed

    def time_forward_backward(self):
        self.step()


class LayerNormRatios:
    """sorix / PyTorch CPU and sorix / memory floor (each skipped when unavailable)."""
    params = [["torch", "floor"]]
    param_names = ["reference"]
    unit = "ratio"
    timeout = 300

    @once_per_params
    def setup(self, reference):
        try:
            self.steps = {"sorix": cases.build(CASE, "sorix"),
                          "reference": cases.build(CASE, reference)}
        except cases.Unavailable as why:
            raise NotImplementedError(str(why)) from None

    def track_ratio(self, reference):
        samples = cases.interleaved_samples(self.steps, 7, 0.05)
        return cases.paired_ratio(samples, "sorix", "reference")
