"""sorix.kernels.cuda optimizer updates against the CPU kernels of sorix.kernels.optim.

The CUDA updates compile the CPU functions themselves, so the two must
agree to rounding, step after step, for every option.

Runs under numba's CUDA simulator (tests/cuda_setup.py sets it up;
SORIX_TEST_CUDA=gpu runs on a real GPU). The simulator runs every CUDA
thread as a Python thread, so the arrays are small.
"""
import cuda_setup

cuda = cuda_setup.load()  # before anything imports numba.cuda: see tests/cuda_setup.py

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from sorix.kernels import optim as KO  # noqa: E402
import sorix.kernels.cuda as C  # noqa: E402
from conftest import DTYPES, dtype_scalars, rand  # noqa: E402
from cuda_setup import SIZES, check, dev, fast_thread_switching  # noqa: E402,F401


# ---- optimizer updates: the CPU kernels' formulas, compiled for the device --------------------

def _compare_update(name, dtype, size, rng, state_sizes, scalars, flags, steps=3):
    """Run the CPU update and the CUDA update side by side for a few steps."""
    empty = KO.EMPTY[np.dtype(dtype)]
    p = rand(rng, size, dtype)
    cpu = [p.copy()] + [np.zeros(size, dtype) if used else empty for used in state_sizes]
    gpu = [dev(p)] + [dev(np.zeros(size, dtype)) if used else C.nothing(dtype)
                      for used in state_sizes]
    for step in range(steps):
        g = rand(rng, size, dtype)
        step_flags = flags(step) if callable(flags) else flags
        KO.run(getattr(KO, name), cpu[0], g, *cpu[1:], *dtype_scalars(dtype, *scalars), *step_flags)
        C.run(name, gpu[0], dev(g), *gpu[1:], *dtype_scalars(dtype, *scalars), *step_flags)
        for host, device in zip(cpu, gpu):
            check(device, host, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", [dict(), dict(weight_decay=0.1, maximize=True),
                                 dict(momentum=0.9, dampening=0.3), dict(momentum=0.8, nesterov=True)],
                         ids=str)
def test_sgd_matches_the_cpu_kernel(cfg, dtype, rng):
    momentum = cfg.get("momentum", 0.0)
    for size in SIZES:
        _compare_update("sgd", dtype, size, rng, [bool(momentum)],
                        (0.1, cfg.get("weight_decay", 0.0), momentum, 1 - cfg.get("dampening", 0.0)),
                        lambda step: (cfg.get("nesterov", False), cfg.get("maximize", False),
                                      step == 0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", [dict(), dict(weight_decay=0.1, alpha=0.9), dict(momentum=0.9),
                                 dict(centered=True),
                                 dict(centered=True, momentum=0.5, maximize=True)], ids=str)
def test_rmsprop_matches_the_cpu_kernel(cfg, dtype, rng):
    alpha = cfg.get("alpha", 0.99)
    for size in SIZES:
        _compare_update("rmsprop", dtype, size, rng,
                        [True, cfg.get("centered", False), bool(cfg.get("momentum", 0.0))],
                        (0.01, alpha, 1 - alpha, 1e-8, cfg.get("weight_decay", 0.0),
                         cfg.get("momentum", 0.0)), (cfg.get("maximize", False),))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("cfg", [dict(), dict(weight_decay=0.1, decoupled=True),
                                 dict(amsgrad=True, maximize=True, weight_decay=0.01)], ids=str)
def test_adam_matches_the_cpu_kernel(cfg, dtype, rng):
    lr, beta1, beta2, wd = 0.01, 0.9, 0.999, cfg.get("weight_decay", 0.0)
    decoupled = cfg.get("decoupled", False)
    for size in SIZES:
        _compare_update("adam", dtype, size, rng, [True, True, cfg.get("amsgrad", False)],
                        (lr / (1 - beta1), 1 - beta1, beta2, 1 - beta2, 1e-8,
                         0.0 if decoupled else wd, 1 - lr * wd if decoupled else 1.0,
                         np.sqrt(1 - beta2)), (cfg.get("maximize", False),))


def test_run_casts_scalars_and_refuses_strided_state():
    p = dev(np.ones(3, np.float32))
    C.run(KO.sgd, p, dev(np.ones(3, np.float32)), C.nothing(np.float32), 0.5, 0.0, 0.0, 1.0,
          False, False, True)  # Python floats are cast to the parameter's dtype
    check(p, [0.5, 0.5, 0.5], np.float32)
    with pytest.raises(ValueError, match="contiguous"):  # an update must write in place
        C.run("sgd", C.broadcast_to(dev(np.ones(1)), (3,)), dev(np.ones(3)),
              C.nothing(np.float64), 0.5, 0.0, 0.0, 1.0, False, False, True)
