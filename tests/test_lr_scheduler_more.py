"""MultiStepLR, LambdaLR, MultiplicativeLR, LinearLR, ConstantLR, OneCycleLR, SequentialLR and
ChainedScheduler against torch.optim.lr_scheduler, stepped side by side."""
import math
import warnings

import numpy as np
import pytest

import sorix
import sorix.optim as sorix_optim
import sorix.optim.lr_scheduler as sorix_sched
from sorix.optim import SGD, Optimizer
from sorix.optim.lr_scheduler import (ChainedScheduler, ConstantLR, ExponentialLR, LambdaLR,
                                      LinearLR, MultiplicativeLR, MultiStepLR, OneCycleLR,
                                      ReduceLROnPlateau, SequentialLR, StepLR)
from sorix.serialization import load, save

RTOL = 1e-12
GROUP_LRS = {"one_group": (0.1,), "two_groups": (0.1, 0.03)}


# ---- helpers ---------------------------------------------------------------------------------
def _sorix_optimizer(name="SGD", lrs=(0.1, 0.03), **kwargs):
    groups = [{"params": [sorix.tensor(np.array([1.0, -2.0]), requires_grad=True)], "lr": lr}
              for lr in lrs]
    return getattr(sorix_optim, name)(groups, lr=lrs[0], **kwargs)


def _torch_optimizer(torch, name="SGD", lrs=(0.1, 0.03), **kwargs):
    groups = [{"params": [torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)],
               "lr": lr} for lr in lrs]
    return getattr(torch.optim, name)(groups, lr=lrs[0], **kwargs)


def _momenta(optimizer):
    """What OneCycleLR cycles: each group's momentum, or its betas."""
    return [tuple(g["betas"]) if "betas" in g else (g.get("momentum"),)
            for g in optimizer.param_groups]


def _assert_close(ours, theirs):
    assert len(ours) == len(theirs)
    np.testing.assert_allclose(np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float),
                               rtol=RTOL, atol=0)


def _trace(optimizer, scheduler, steps):
    """lrs (from get_last_lr and from the groups) and momenta after construction and after
    each of ``steps`` optimizer.step() + scheduler.step() pairs."""
    rows = []

    def record():
        last = list(scheduler.get_last_lr())
        assert last == [g["lr"] for g in optimizer.param_groups]
        rows.append((last, _momenta(optimizer)))

    record()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation notes
        for _ in range(steps):
            optimizer.step()
            scheduler.step()
            record()
    return rows


def _assert_same_trace(ours, theirs):
    assert len(ours) == len(theirs)
    for step, ((lr_a, mom_a), (lr_b, mom_b)) in enumerate(zip(ours, theirs)):
        try:
            _assert_close(lr_a, lr_b)
            if mom_b[0][0] is not None:
                _assert_close(mom_a, mom_b)
        except AssertionError as error:
            raise AssertionError(f"differs from torch after {step} steps") from error


class Halving:
    """A callable object: its attributes are what LambdaLR's state_dict keeps."""

    def __init__(self, rate=0.5):
        self.rate = rate

    def __call__(self, epoch):
        return self.rate ** (epoch // 4)


def _seq(m, o):
    return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.2, total_iters=4),
                              m.CosineAnnealingLR(o, T_max=9, eta_min=0.001),
                              m.ExponentialLR(o, gamma=0.9)], milestones=[4, 20])


SCHEDULES = {
    "multistep": lambda m, o: m.MultiStepLR(o, milestones=[3, 8, 15], gamma=0.5),
    "multistep_repeated_unsorted": lambda m, o: m.MultiStepLR(o, [12, 5, 5, 30, 12, 40]),
    "multistep_at_zero": lambda m, o: m.MultiStepLR(o, [0, 6], gamma=0.3),
    "lambda": lambda m, o: m.LambdaLR(o, lambda epoch: 0.95 ** epoch),
    "lambda_object": lambda m, o: m.LambdaLR(o, Halving(0.7)),
    "lambda_per_group": lambda m, o: m.LambdaLR(
        o, [lambda e: 1 / (e + 1), lambda e: 0.9 ** e][:len(o.param_groups)]),
    "multiplicative": lambda m, o: m.MultiplicativeLR(o, lambda epoch: 0.93),
    "multiplicative_per_group": lambda m, o: m.MultiplicativeLR(
        o, [lambda e: 0.9 if e % 3 else 1.1, lambda e: 0.97][:len(o.param_groups)]),
    "linear_default": lambda m, o: m.LinearLR(o),
    "linear_decay": lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.05,
                                            total_iters=17),
    "linear_one_iter": lambda m, o: m.LinearLR(o, start_factor=0.5, total_iters=1),
    "constant_default": lambda m, o: m.ConstantLR(o),
    "constant": lambda m, o: m.ConstantLR(o, factor=0.3, total_iters=11),
    "constant_one": lambda m, o: m.ConstantLR(o, factor=1.0, total_iters=2),
    "sequential": _seq,
    "sequential_one": lambda m, o: m.SequentialLR(o, [m.StepLR(o, 3, gamma=0.7)], []),
    "sequential_multistep": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.1, total_iters=10), m.MultiStepLR(o, [4, 9]),
            m.LambdaLR(o, lambda e: 1 / (1 + e))], milestones=[3, 25]),
    "chained": lambda m, o: m.ChainedScheduler([m.ConstantLR(o, factor=0.1, total_iters=3),
                                                m.ExponentialLR(o, gamma=0.9)]),
    "chained_three": lambda m, o: m.ChainedScheduler(
        [m.LinearLR(o, start_factor=0.25, total_iters=6), m.MultiStepLR(o, [10, 20]),
         m.CosineAnnealingLR(o, T_max=15)], optimizer=o),
    "chained_with_sequential": lambda m, o: m.ChainedScheduler(
        [_seq(m, o), m.MultiplicativeLR(o, lambda e: 0.99)]),
}


@pytest.mark.parametrize("groups", GROUP_LRS)
@pytest.mark.parametrize("name", SCHEDULES)
def test_schedules_match_torch(name, groups):
    torch = pytest.importorskip("torch")
    make, lrs = SCHEDULES[name], GROUP_LRS[groups]
    opt = _sorix_optimizer(lrs=lrs)
    ours = _trace(opt, make(sorix_sched, opt), 60)
    topt = _torch_optimizer(torch, lrs=lrs)
    theirs = _trace(topt, make(torch.optim.lr_scheduler, topt), 60)
    _assert_same_trace(ours, theirs)


# ---- OneCycleLR ------------------------------------------------------------------------------
OPTIMIZERS = {
    "sgd": ("SGD", {}),
    "sgd_momentum": ("SGD", {"momentum": 0.9}),
    "sgd_nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {"betas": (0.8, 0.99)}),
    "rmsprop": ("RMSprop", {}),
    "rmsprop_momentum": ("RMSprop", {"momentum": 0.5, "centered": True}),
}

ONE_CYCLE = {
    "default": dict(max_lr=0.5, total_steps=50),
    "linear": dict(max_lr=0.5, total_steps=47, anneal_strategy="linear", pct_start=0.25),
    "three_phase": dict(max_lr=0.5, total_steps=60, three_phase=True),
    "three_phase_linear": dict(max_lr=0.2, epochs=6, steps_per_epoch=7, three_phase=True,
                               anneal_strategy="linear", pct_start=0.4),
    "epochs": dict(max_lr=0.3, epochs=5, steps_per_epoch=9, div_factor=10.0,
                   final_div_factor=100.0),
    "momenta": dict(max_lr=0.4, total_steps=33, base_momentum=0.7, max_momentum=0.98),
    "no_momentum_cycle": dict(max_lr=0.4, total_steps=30, cycle_momentum=False),
    "short": dict(max_lr=0.1, total_steps=3),
}


def _one_cycle_kwargs(config, groups):
    kwargs = dict(ONE_CYCLE[config])
    if groups == 2 and config in ("default", "momenta", "three_phase"):
        kwargs["max_lr"] = [0.5, 0.05]
        if config == "momenta":
            kwargs["base_momentum"] = (0.7, 0.8)
            kwargs["max_momentum"] = [0.98, 0.9]
    return kwargs


def _total_steps(kwargs):
    return kwargs.get("total_steps") or kwargs["epochs"] * kwargs["steps_per_epoch"]


@pytest.mark.parametrize("groups", [1, 2])
@pytest.mark.parametrize("config", ONE_CYCLE)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_one_cycle_matches_torch_including_momentum(optimizer, config, groups):
    """lr and momentum (or beta1) at every step, the last allowed step, then the step past
    the end raising ValueError in both."""
    torch = pytest.importorskip("torch")
    name, opt_kwargs = OPTIMIZERS[optimizer]
    lrs = GROUP_LRS["two_groups" if groups == 2 else "one_group"]
    kwargs = _one_cycle_kwargs(config, groups)
    total = _total_steps(kwargs)

    opt = _sorix_optimizer(name, lrs, **opt_kwargs)
    sched = OneCycleLR(opt, **kwargs)
    topt = _torch_optimizer(torch, name, lrs, **opt_kwargs)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, **kwargs)
    _assert_same_trace(_trace(opt, sched, total), _trace(topt, tsched, total))
    if kwargs.get("cycle_momentum", True) and "betas" not in opt.param_groups[0]:
        assert [g["momentum"] for g in opt.param_groups] == \
            [g["momentum"] for g in topt.param_groups]
    for scheduler in (sched, tsched):
        with pytest.raises(ValueError, match=str(total)):
            scheduler.step()


def test_one_cycle_starts_at_max_lr_over_div_factor_and_peaks_at_max_lr():
    opt = _sorix_optimizer("SGD", (0.1,), momentum=0.9)
    sched = OneCycleLR(opt, max_lr=1.0, total_steps=100, pct_start=0.2)
    group = opt.param_groups[0]
    assert sched.get_last_lr() == [pytest.approx(1.0 / 25.0, rel=1e-12)]
    assert group["momentum"] == pytest.approx(0.95, rel=1e-12)
    assert group["initial_lr"] == 0.04 and group["max_lr"] == 1.0
    assert group["min_lr"] == pytest.approx(0.04 / 1e4)
    seen, momenta = [sched.get_last_lr()[0]], [group["momentum"]]
    for _ in range(99):
        opt.step()
        sched.step()
        seen.append(sched.get_last_lr()[0])
        momenta.append(opt.param_groups[0]["momentum"])
    peak = int(np.argmax(seen))
    assert peak == 19 and seen[peak] == pytest.approx(1.0)  # at step pct_start * 100 - 1
    assert momenta[peak] == pytest.approx(0.85) and min(momenta) == momenta[peak]
    assert seen[-1] == pytest.approx(0.04 / 1e4) and momenta[-1] == pytest.approx(0.95)


def _quadratic_training(lib, opt_name, opt_kwargs, steps=40, torch=None):
    targets = np.array([[0.5, -1.0, 2.0], [-0.3, 0.8, 0.1]])
    weights = np.array([[1.0, 3.0, 0.5], [2.0, 0.7, 1.5]])
    if lib == "torch":
        params = [torch.tensor([1.0, 2.0, -1.0], dtype=torch.float64, requires_grad=True),
                  torch.tensor([0.5, -0.5, 0.25], dtype=torch.float64, requires_grad=True)]
        as_tensor = (lambda a: torch.tensor(a, dtype=torch.float64))
        opt = getattr(torch.optim, opt_name)(
            [{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 0.05}],
            **opt_kwargs)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.2, 0.1], total_steps=steps)
    else:
        params = [sorix.tensor(np.array([1.0, 2.0, -1.0]), requires_grad=True),
                  sorix.tensor(np.array([0.5, -0.5, 0.25]), requires_grad=True)]
        as_tensor = sorix.tensor
        opt = getattr(sorix_optim, opt_name)(
            [{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 0.05}],
            **opt_kwargs)
        sched = OneCycleLR(opt, max_lr=[0.2, 0.1], total_steps=steps)
    for _ in range(steps):
        loss = sum(((p - as_tensor(t)) * (p - as_tensor(t)) * as_tensor(w)).sum()
                   for p, t, w in zip(params, targets, weights))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return [np.array(p.detach().numpy() if lib == "torch" else p.data) for p in params]


@pytest.mark.parametrize("optimizer", ["sgd_momentum", "sgd_nesterov", "adam", "adamw",
                                       "rmsprop_momentum"])
def test_one_cycle_momentum_reaches_the_updates(optimizer):
    """Training under the cycled lr and momentum/beta1 ends where torch's does."""
    torch = pytest.importorskip("torch")
    name, opt_kwargs = OPTIMIZERS[optimizer]
    ours = _quadratic_training("sorix", name, opt_kwargs)
    theirs = _quadratic_training("torch", name, opt_kwargs, torch=torch)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_one_cycle_needs_momentum_or_betas_to_cycle():
    class Plain(Optimizer):  # Sorix's protocol for custom optimizers: only lr
        def __init__(self, params, lr=0.1):
            super().__init__(params, lr)

        def _perform_step(self):
            pass

    opt = Plain([sorix.tensor([1.0], requires_grad=True)])
    with pytest.raises(ValueError, match="cycle_momentum"):
        OneCycleLR(opt, max_lr=0.1, total_steps=10)
    sched = OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)
    assert sched.get_last_lr() == [pytest.approx(0.1 / 25.0, rel=1e-12)]


# ---- step(epoch): closed forms ---------------------------------------------------------------
CLOSED_FORMS = {
    "multistep": lambda m, o: m.MultiStepLR(o, [7, 2, 2, 11], gamma=0.5),
    "linear": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=8),
    "constant": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6),
    "lambda": lambda m, o: m.LambdaLR(o, lambda e: 0.9 ** e),
}


@pytest.mark.parametrize("name", CLOSED_FORMS)
def test_step_with_epoch_matches_torch(name):
    torch = pytest.importorskip("torch")
    results = []
    for lib, module in ((None, sorix_sched), (torch, torch.optim.lr_scheduler)):
        opt = _sorix_optimizer() if lib is None else _torch_optimizer(torch)
        sched = CLOSED_FORMS[name](module, opt)
        seen = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in (5, 0, 13, 2, 7, 6, 1, 30, 11):
                opt.step()
                sched.step(epoch)
                seen.append(sched.get_last_lr())
        results.append(seen)
    for ours, theirs in zip(*results):
        _assert_close(ours, theirs)


@pytest.mark.parametrize("name", ["multistep", "linear", "constant", "lambda"])
def test_resuming_with_last_epoch_matches_torch(name):
    torch = pytest.importorskip("torch")
    make = {
        "multistep": lambda m, o, e: m.MultiStepLR(o, [3, 9, 9], gamma=0.5, last_epoch=e),
        "linear": lambda m, o, e: m.LinearLR(o, start_factor=0.5, total_iters=12, last_epoch=e),
        "constant": lambda m, o, e: m.ConstantLR(o, factor=0.5, total_iters=9, last_epoch=e),
        "lambda": lambda m, o, e: m.LambdaLR(o, lambda k: 1 / (k + 1), last_epoch=e),
    }[name]
    traces = []
    for lib, module in ((None, sorix_sched), (torch, torch.optim.lr_scheduler)):
        opt = _sorix_optimizer() if lib is None else _torch_optimizer(torch)
        make(module, opt, -1)  # records initial_lr in the groups
        traces.append(_trace(opt, make(module, opt, 5), 20))
    _assert_same_trace(*traces)


def test_constant_factor_zero_restores_the_initial_lr():
    """PyTorch divides by the factor at total_iters (ZeroDivisionError for 0); Sorix restarts
    from the initial lrs, which is what the closed form gives."""
    opt = _sorix_optimizer()
    lrs = [row[0] for row in _trace(opt, ConstantLR(opt, factor=0.0, total_iters=3), 6)]
    assert lrs == [[0.0, 0.0]] * 3 + [[0.1, 0.03]] * 4


def test_multistep_keeps_a_counter_of_milestones():
    opt = _sorix_optimizer()
    sched = MultiStepLR(opt, [5, 2, 5])
    assert sched.milestones == {2: 1, 5: 2}
    lrs = [row[0][0] for row in _trace(opt, sched, 7)]
    assert lrs == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.01, 1e-4, 1e-4, 1e-4], rel=1e-12)


# ---- state_dict / load_state_dict ------------------------------------------------------------
STATEFUL = {
    "multistep": lambda o: MultiStepLR(o, [4, 12, 12, 20], gamma=0.5),
    "lambda": lambda o: LambdaLR(o, [lambda e: 0.95 ** e, Halving(0.8)]),
    "multiplicative": lambda o: MultiplicativeLR(o, lambda e: 0.9 if e % 2 else 1.05),
    "linear": lambda o: LinearLR(o, start_factor=0.1, total_iters=15),
    "constant": lambda o: ConstantLR(o, factor=0.2, total_iters=13),
    "one_cycle": lambda o: OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=40, three_phase=True),
    "sequential": lambda o: _seq(sorix_sched, o),
    "chained": lambda o: ChainedScheduler([LinearLR(o, 0.3, total_iters=14),
                                           StepLR(o, 5, gamma=0.5)]),
}


@pytest.mark.parametrize("through_file", [False, True])
@pytest.mark.parametrize("name", STATEFUL)
def test_state_dict_round_trip_continues_identically(name, through_file, tmp_path):
    make = STATEFUL[name]
    opt_a = _sorix_optimizer("Adam")
    sched_a = make(opt_a)
    _trace(opt_a, sched_a, 10)
    state = sched_a.state_dict()
    assert "optimizer" not in state and state["_last_lr"] == sched_a.get_last_lr()
    checkpoint = {"opt": opt_a.state_dict(), "sched": state}
    if through_file:  # sorix.save refuses nothing here: weights_only load works
        save(checkpoint, tmp_path / "ckpt.sorix")
        checkpoint = load(tmp_path / "ckpt.sorix")

    opt_b = _sorix_optimizer("Adam", lrs=(9.0, 7.0))
    sched_b = make(opt_b)
    opt_b.load_state_dict(checkpoint["opt"])
    sched_b.load_state_dict(checkpoint["sched"])
    assert sched_b.get_last_lr() == sched_a.get_last_lr()
    assert getattr(sched_b, "last_epoch", None) == getattr(sched_a, "last_epoch", None)
    _assert_same_trace(_trace(opt_b, sched_b, 30), _trace(opt_a, sched_a, 30))


def test_state_dict_is_a_snapshot():
    opt = _sorix_optimizer()
    sched = MultiStepLR(opt, [2])
    state = sched.state_dict()
    _trace(opt, sched, 5)
    assert state["last_epoch"] == 0 and state["_last_lr"] == [0.1, 0.03]
    assert state["milestones"] == {2: 1} and type(state["milestones"]) is dict


def test_lambda_state_dict_keeps_callable_objects_not_functions():
    torch = pytest.importorskip("torch")
    opt = _sorix_optimizer()
    sched = LambdaLR(opt, [lambda e: 1.0, Halving(0.25)])
    topt = _torch_optimizer(torch)
    tsched = torch.optim.lr_scheduler.LambdaLR(topt, [lambda e: 1.0, Halving(0.25)])
    assert sched.state_dict()["lr_lambdas"] == tsched.state_dict()["lr_lambdas"] \
        == [None, {"rate": 0.25}]

    _trace(opt, sched, 6)
    fresh = LambdaLR(_sorix_optimizer(), [lambda e: 1.0, Halving(0.9)])
    fresh.load_state_dict(sched.state_dict())
    assert fresh.lr_lambdas[1].rate == 0.25 and fresh.last_epoch == 6
    assert fresh.get_last_lr() == sched.get_last_lr()
    # the state given to load_state_dict is left as it was
    state = sched.state_dict()
    fresh.load_state_dict(state)
    assert state["lr_lambdas"] == [None, {"rate": 0.25}]


def test_sequential_load_puts_back_its_own_lr_not_an_idle_schedulers():
    """Sorix's load_state_dict restores the lrs into the optimizer: for SequentialLR those of
    the scheduler that was active, even though the idle ones load their (stale) lrs too."""
    opt_a = _sorix_optimizer()
    sched_a = SequentialLR(opt_a, [ConstantLR(opt_a, 0.5, total_iters=10),
                                   ExponentialLR(opt_a, 0.9)], milestones=[8])
    _trace(opt_a, sched_a, 3)
    opt_b = _sorix_optimizer(lrs=(1.0, 2.0))
    sched_b = SequentialLR(opt_b, [ConstantLR(opt_b, 0.5, total_iters=10),
                                   ExponentialLR(opt_b, 0.9)], milestones=[8])
    sched_b.load_state_dict(sched_a.state_dict())
    assert [g["lr"] for g in opt_b.param_groups] == sched_a.get_last_lr() == [0.05, 0.015]


def test_sequential_state_matches_torch_layout():
    torch = pytest.importorskip("torch")
    opt = _sorix_optimizer()
    topt = _torch_optimizer(torch)
    ours = _trace(opt, _seq(sorix_sched, opt), 7)
    theirs = _trace(topt, _seq(torch.optim.lr_scheduler, topt), 7)
    _assert_same_trace(ours, theirs)
    state = _seq(sorix_sched, opt).state_dict()
    tstate = _seq(torch.optim.lr_scheduler, topt).state_dict()
    assert state["_milestones"] == tstate["_milestones"] and state["last_epoch"] == 0
    assert len(state["_schedulers"]) == 3


# ---- bad arguments ---------------------------------------------------------------------------
def _other_optimizer():
    return _sorix_optimizer()


BAD = [
    (lambda o: MultiStepLR(o, [2, 4], gamma=0), "gamma"),
    (lambda o: MultiStepLR(o, [2, 4.5]), "milestones.*4.5"),
    (lambda o: LambdaLR(o, [lambda e: 1.0] * 3), "expected 2 lr_lambdas.*got 3"),
    (lambda o: LambdaLR(o, [lambda e: 1.0]), "expected 2 lr_lambdas.*got 1"),
    (lambda o: MultiplicativeLR(o, (lambda e: 1.0,) * 3), "expected 2 lr_lambdas.*got 3"),
    (lambda o: LinearLR(o, start_factor=0), "start_factor.*0"),
    (lambda o: LinearLR(o, start_factor=1.5), "start_factor.*1.5"),
    (lambda o: LinearLR(o, end_factor=-0.1), "end_factor.*-0.1"),
    (lambda o: LinearLR(o, end_factor=2.0), "end_factor.*2.0"),
    (lambda o: LinearLR(o, total_iters=0), "total_iters.*0"),
    (lambda o: ConstantLR(o, factor=1.5), "factor.*1.5"),
    (lambda o: ConstantLR(o, factor=-0.5), "factor.*-0.5"),
    (lambda o: ConstantLR(o, total_iters=2.5), "total_iters.*2.5"),
    (lambda o: OneCycleLR(o, max_lr=0.1), "total_steps"),
    (lambda o: OneCycleLR(o, max_lr=0.1, epochs=3), "total_steps"),
    (lambda o: OneCycleLR(o, max_lr=0.1, total_steps=0), "total_steps.*0"),
    (lambda o: OneCycleLR(o, max_lr=0.1, total_steps=5.0), "total_steps.*5.0"),
    (lambda o: OneCycleLR(o, max_lr=0.1, epochs=0, steps_per_epoch=3), "epochs.*0"),
    (lambda o: OneCycleLR(o, max_lr=0.1, epochs=2, steps_per_epoch=-1), "steps_per_epoch.*-1"),
    (lambda o: OneCycleLR(o, max_lr=0.1, total_steps=9, pct_start=1.5), "pct_start.*1.5"),
    (lambda o: OneCycleLR(o, max_lr=0.1, total_steps=9, anneal_strategy="exp"), "exp"),
    (lambda o: OneCycleLR(o, max_lr=[0.1], total_steps=9), "max_lr.*1 values.*2 param groups"),
    (lambda o: OneCycleLR(o, max_lr=0.1, total_steps=9, base_momentum=[0.8] * 3),
     "base_momentum.*3 values"),
    (lambda o: OneCycleLR(o, max_lr=0.1, total_steps=9, max_momentum=(0.9,)), "max_momentum"),
    (lambda o: OneCycleLR(o, max_lr=0.1, total_steps=9, div_factor=0), "div_factor.*0"),
    (lambda o: SequentialLR(o, [], []), "at least one"),
    (lambda o: SequentialLR(o, [ConstantLR(o), StepLR(o, 2)], []), "2 schedulers and 0"),
    (lambda o: SequentialLR(o, [ConstantLR(o), StepLR(o, 2), StepLR(o, 3)], [9, 4]),
     r"increasing.*\[9, 4\]"),
    (lambda o: SequentialLR(o, [ConstantLR(o), StepLR(_other_optimizer(), 2)], [3]),
     "index 1.*another optimizer"),
    (lambda o: SequentialLR(o, [ConstantLR(o), ReduceLROnPlateau(o)], [3]), "ReduceLROnPlateau"),
    (lambda o: ChainedScheduler([]), "at least one"),
    (lambda o: ChainedScheduler([ConstantLR(o), StepLR(_other_optimizer(), 2)]),
     "index 1.*another optimizer"),
    (lambda o: ChainedScheduler([StepLR(o, 2)], optimizer=_other_optimizer()),
     "index 0.*another optimizer"),
    (lambda o: ChainedScheduler([ReduceLROnPlateau(o)]), "ReduceLROnPlateau"),
]


@pytest.mark.parametrize("make, message", BAD)
def test_invalid_arguments_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make(_sorix_optimizer())


def test_non_callable_lambda_is_a_type_error():
    for cls in (LambdaLR, MultiplicativeLR):
        with pytest.raises(TypeError, match="callable"):
            cls(_sorix_optimizer(), [lambda e: 1.0, 0.5])
    with pytest.raises(TypeError, match="not an Optimizer"):
        OneCycleLR(np.zeros(2), max_lr=0.1, total_steps=5)


def test_new_names_are_exported():
    for name in ("MultiStepLR", "LambdaLR", "MultiplicativeLR", "LinearLR", "ConstantLR",
                 "OneCycleLR", "SequentialLR", "ChainedScheduler"):
        assert name in sorix_sched.__all__
        assert issubclass(getattr(sorix_sched, name), sorix_sched.LRScheduler)
    assert sorix.optim.lr_scheduler.OneCycleLR is OneCycleLR


def test_warmup_then_cosine_drives_training():
    """The common recipe: LinearLR warm-up, then cosine decay, through SequentialLR."""
    x = sorix.tensor(np.array([3.0, -4.0]), requires_grad=True)
    opt = SGD([x], lr=0.2, momentum=0.5)
    sched = SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=5),
                               sorix_sched.CosineAnnealingLR(opt, T_max=45)], milestones=[5])
    seen = []
    for _ in range(50):
        loss = (x * x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        seen.append(opt.param_groups[0]["lr"])
    assert seen[3] == pytest.approx(0.2 * (0.1 + 0.9 * 4 / 5))
    assert seen[4] == pytest.approx(0.2) and seen[-1] == pytest.approx(0.0, abs=1e-12)
    assert seen[26] == pytest.approx(0.1 * (1 + math.cos(math.pi * 22 / 45)))
    assert float(np.abs(x.data).max()) < 1e-3
