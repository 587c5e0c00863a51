"""GPU cases (gpu_cases.py): sorix's step time on CUDA, and its ratios to PyTorch on the
same GPU and to the device memory floor. Every benchmark here is skipped without a
real CUDA GPU (numba's simulator does not count: its times mean nothing).

Each timed call ends with a device synchronisation, so the kernels it queued are
inside the time.
"""
from . import gpu_cases, gpu_table
from .prepare import once_per_params

CASES = list(gpu_cases.case_table())
ROUNDS = 7
SAMPLE_S = 0.1


def _require_gpu():
    if not gpu_cases.real_gpu():
        raise NotImplementedError("no CUDA GPU: numba-cuda sees none (or runs its simulator)")


def _build(case, impl):
    try:
        return gpu_cases.build(case, impl)
    except gpu_cases.Unavailable as why:
        raise NotImplementedError(str(why)) from None


class GpuStep:
    """One step of each GPU case (sorix on CUDA), synchronised."""
    params = [CASES]
    param_names = ["case"]
    timeout = 600  # 1e8-element cases: drawing and validating the data takes seconds
    repeat = (5, 20, 20.0)

    @once_per_params
    def setup(self, case):
        _require_gpu()
        self.step = _build(case, "sorix")

    def time_step(self, case):
        self.step.run()
        gpu_cases.synchronize()


class _Versus:
    """sorix's time over a reference's, interleaved in one process (below 1: sorix faster)."""
    param_names = ["case"]
    timeout = 600
    reference = None

    @once_per_params
    def setup(self, case):
        _require_gpu()
        self.steps = {"sorix": _build(case, "sorix"), "reference": _build(case, self.reference)}

    def track_ratio(self, case):
        samples = gpu_table.samples(self.steps, ROUNDS, SAMPLE_S)
        return gpu_table.cases.paired_ratio(samples, "sorix", "reference")


class GpuVersusTorch(_Versus):
    """sorix on CUDA / PyTorch on CUDA. Skipped without PyTorch's CUDA build."""
    params = [[c for c in CASES if "tiled" not in c]]
    unit = "sorix/torch"
    reference = "torch"


class GpuVersusFloor(_Versus):
    """sorix on CUDA / a numba-cuda kernel moving the same bytes (bandwidth-bound cases)."""
    params = [[c for c in CASES if "step 1e" in c or "chain" in c]]
    unit = "sorix/floor"
    reference = "floor"
