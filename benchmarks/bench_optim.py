"""One optimizer step on one flat float32 parameter whose gradient is already set."""
from . import cases
from . import references as ref
from .prepare import once_per_params


class OptimizerStep:
    params = (list(cases.OPTIMIZERS), ref.OPTIMIZER_SIZES)
    param_names = ["optimizer", "n"]
    timeout = 300
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self, optimizer, n):
        p, g = cases.optimizer_arrays(n)
        # two steps from the same start as the NumPy reference: the second uses the state
        param, opt = cases.sorix_optimizer(optimizer, p, g)
        opt.step()
        opt.step()
        ref.assert_close(param.data, cases.numpy_after_two_steps(optimizer, p, g),
                         f"{optimizer} parameter after two steps")
        self.opt = opt  # keeps stepping from here: warm, with state allocated

    def time_step(self, optimizer, n):
        self.opt.step()
