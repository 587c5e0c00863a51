"""Whole training loops: the reference example and the MNIST benchmark network."""
from . import cases
from . import references as ref
from .prepare import once_per_params


class ExampleLoop:
    """API.md's RMSprop example, 10 epochs per timing (divide by 10 for one iteration).

    Each call builds x, y and the optimizer afresh, so every timing runs the
    same 10 epochs the example prints.
    """
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self):
        ref.check_example(cases.sorix_example(), "sorix")
        cases.sorix_example()

    def time_ten_epochs(self):
        cases.sorix_example()


class MnistNet:
    """One training step of the Sorix MNIST benchmark network, batch 128, on synthetic
    batches of MNIST's shape (32 of them, in turn, so the loss stays realistic).

    Linear(784,128,bias=False) BatchNorm1d ReLU Linear(128,64) ReLU
    Dropout(0.2) Linear(64,10), CrossEntropyLoss, RMSprop(lr=1e-3).
    Skipped while sorix.nn is not available.
    """
    timeout = 120
    # asv times one call per sample when a benchmark has a setup: take many samples
    repeat = (10, 40, 10.0)

    @once_per_params
    def setup(self):
        try:
            # validates loss and gradients against NumPy (dropout off), then warms up
            self.step = cases.sorix_mnist_step()
        except cases.Unavailable as why:
            raise NotImplementedError(str(why)) from None

    def time_train_step(self):
        self.step()

    def peakmem_train_step(self):
        self.step()
