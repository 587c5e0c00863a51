"""sorix.optim.lr_scheduler against torch.optim.lr_scheduler and against closed forms."""
import math

import numpy as np
import pytest

import sorix
from sorix.optim import SGD, RMSprop
from sorix.optim.lr_scheduler import (CosineAnnealingLR, ExponentialLR, LRScheduler,
                                      ReduceLROnPlateau, StepLR)
from sorix.serialization import load, save

LRS = (0.1, 0.03)  # two parameter groups with different learning rates


def _sorix_optimizer(lrs=LRS):
    groups = [{"params": [sorix.tensor([1.0], requires_grad=True)], "lr": lr} for lr in lrs]
    return SGD(groups, lr=lrs[0])


def _torch_optimizer(torch, lrs=LRS):
    groups = [{"params": [torch.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def _run(optimizer, scheduler, epochs, metrics=None):
    lrs = [list(scheduler.get_last_lr())]
    for epoch in range(epochs):
        optimizer.step()
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[epoch])
        lrs.append([g["lr"] for g in optimizer.param_groups])
        assert lrs[-1] == list(scheduler.get_last_lr())
    return lrs


SCHEDULES = {
    "step": (lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    "step_default_gamma": (lambda m, o: m.StepLR(o, 4)),
    "exponential": (lambda m, o: m.ExponentialLR(o, gamma=0.9)),
    "cosine": (lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    "cosine_zero_min": (lambda m, o: m.CosineAnnealingLR(o, T_max=10)),
    "cosine_t1": (lambda m, o: m.CosineAnnealingLR(o, T_max=1, eta_min=0.002)),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_epoch_schedules_match_torch_exactly(name):
    torch = pytest.importorskip("torch")
    import sorix.optim.lr_scheduler as sorix_sched
    make = SCHEDULES[name]
    opt = _sorix_optimizer()
    ours = _run(opt, make(sorix_sched, opt), 45)
    topt = _torch_optimizer(torch)
    theirs = _run(topt, make(torch.optim.lr_scheduler, topt), 45)
    assert ours == theirs  # bit-for-bit, through several cosine periods


PLATEAU_METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 3.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.5, 2.5,
                   2.5, 2.5, 2.5, 2.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize("kwargs", [
    {}, {"patience": 2}, {"patience": 0, "factor": 0.5}, {"patience": 1, "cooldown": 2},
    {"patience": 1, "threshold": 0.1, "threshold_mode": "abs"},
    {"patience": 1, "min_lr": 0.004, "factor": 0.3},
    {"patience": 1, "min_lr": [0.05, 0.0]},
    {"mode": "max", "patience": 1},
    {"mode": "max", "patience": 1, "threshold_mode": "abs", "threshold": 0.5},
    {"patience": 0, "factor": 0.9, "eps": 0.005},
])
def test_reduce_on_plateau_matches_torch_exactly(kwargs):
    """Sorix's rule reduces once ``patience`` bad epochs have passed, PyTorch's after one
    more, and Sorix's threshold is absolute by default: so ours with patience p is PyTorch's
    with patience max(p - 1, 0) and threshold_mode='abs' unless one is given."""
    torch = pytest.importorskip("torch")
    opt = _sorix_optimizer()
    ours = _run(opt, ReduceLROnPlateau(opt, **kwargs), len(PLATEAU_METRICS), PLATEAU_METRICS)
    theirs_kwargs = dict(kwargs, patience=max(kwargs.get("patience", 10) - 1, 0),
                         threshold_mode=kwargs.get("threshold_mode", "abs"))
    topt = _torch_optimizer(torch)
    theirs = _run(topt, torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **theirs_kwargs),
                  len(PLATEAU_METRICS), PLATEAU_METRICS)
    assert ours == theirs


# ---- closed forms, no torch needed -----------------------------------------------------------
def test_construction_records_initial_lr_and_takes_the_initial_step():
    opt = _sorix_optimizer()
    sched = StepLR(opt, step_size=2)
    assert sched.last_epoch == 0 and sched.base_lrs == list(LRS)
    assert [g["initial_lr"] for g in opt.param_groups] == list(LRS)
    assert sched.get_last_lr() == list(LRS)
    assert isinstance(sched, LRScheduler)


def test_step_lr_closed_form():
    opt = _sorix_optimizer()
    lrs = _run(opt, StepLR(opt, step_size=3, gamma=0.5), 20)
    for epoch, values in enumerate(lrs):
        for base, lr in zip(LRS, values):
            assert lr == pytest.approx(base * 0.5 ** (epoch // 3), rel=1e-12)


def test_exponential_closed_form():
    opt = _sorix_optimizer()
    lrs = _run(opt, ExponentialLR(opt, gamma=0.8), 30)
    for epoch, values in enumerate(lrs):
        for base, lr in zip(LRS, values):
            assert lr == pytest.approx(base * 0.8 ** epoch, rel=1e-12)


def test_cosine_closed_form_including_past_t_max():
    opt = _sorix_optimizer()
    T, eta_min = 6, 0.001
    lrs = _run(opt, CosineAnnealingLR(opt, T_max=T, eta_min=eta_min), 40)
    for epoch, values in enumerate(lrs):
        for base, lr in zip(LRS, values):
            closed = eta_min + (base - eta_min) * (1 + math.cos(math.pi * epoch / T)) / 2
            assert lr == pytest.approx(closed, rel=1e-9, abs=1e-15)
    assert lrs[T][0] == pytest.approx(eta_min) and lrs[2 * T][0] == pytest.approx(LRS[0])


def test_reduce_on_plateau_by_hand():
    opt = _sorix_optimizer(lrs=(1.0,))
    sched = ReduceLROnPlateau(opt, patience=2, factor=0.5)
    assert sched.get_last_lr() == [1.0]
    seen = []
    for metric in [10.0, 9.0, 9.0, 9.0, 9.0, 8.0, 8.0, 8.0, 8.0]:
        sched.step(metric)
        seen.append(opt.param_groups[0]["lr"])
    # Bad epochs: 3rd, 4th -> the second one (= patience, Sorix's rule) halves the lr;
    # the 5th is bad again, 8.0 improves, and two more bad epochs halve it again.
    assert seen == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert sched.best == 8.0 and sched.last_epoch == 9


def test_reduce_on_plateau_accepts_tensor_metric_and_respects_min_lr():
    opt = _sorix_optimizer(lrs=(1.0,))
    sched = ReduceLROnPlateau(opt, patience=0, factor=0.1, min_lr=0.05)
    for _ in range(5):
        sched.step(sorix.tensor(3.0))
    assert opt.param_groups[0]["lr"] == 0.05


def test_state_dict_round_trip_through_save_and_load(tmp_path):
    for make in (lambda o: CosineAnnealingLR(o, T_max=5, eta_min=0.01),
                 lambda o: StepLR(o, 2, gamma=0.3), lambda o: ExponentialLR(o, 0.7)):
        opt_a = _sorix_optimizer()
        sched_a = make(opt_a)
        _run(opt_a, sched_a, 8)
        state = sched_a.state_dict()
        assert "optimizer" not in state and state["last_epoch"] == 8
        save({"opt": opt_a.state_dict(), "sched": state}, tmp_path / "ckpt.sorix")

        ckpt = load(tmp_path / "ckpt.sorix")
        opt_b = _sorix_optimizer(lrs=(9.0, 9.0))
        sched_b = make(opt_b)
        opt_b.load_state_dict(ckpt["opt"])
        sched_b.load_state_dict(ckpt["sched"])
        assert sched_b.last_epoch == 8 and sched_b.get_last_lr() == sched_a.get_last_lr()
        assert _run(opt_b, sched_b, 12) == _run(opt_a, sched_a, 12)


def test_reduce_on_plateau_state_round_trip(tmp_path):
    opt_a = _sorix_optimizer()
    sched_a = ReduceLROnPlateau(opt_a, patience=1, mode="max")
    _run(opt_a, sched_a, 6, PLATEAU_METRICS)
    save({"opt": opt_a.state_dict(), "sched": sched_a.state_dict()}, tmp_path / "p.sorix")
    ckpt = load(tmp_path / "p.sorix")
    opt_b = _sorix_optimizer()
    sched_b = ReduceLROnPlateau(opt_b)
    opt_b.load_state_dict(ckpt["opt"])
    sched_b.load_state_dict(ckpt["sched"])
    assert sched_b.mode == "max" and sched_b.mode_worse == -math.inf
    rest = PLATEAU_METRICS[6:]
    assert _run(opt_b, sched_b, len(rest), rest) == _run(opt_a, sched_a, len(rest), rest)


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        StepLR(_sorix_optimizer(), 2, last_epoch=4)
    opt = _sorix_optimizer()
    StepLR(opt, 2)
    resumed = StepLR(opt, 2, last_epoch=4)
    assert resumed.last_epoch == 5


def test_step_with_epoch_uses_closed_form():
    opt = _sorix_optimizer()
    sched = ExponentialLR(opt, gamma=0.5)
    sched.step(3)
    assert sched.get_last_lr() == pytest.approx([0.1 * 0.125, 0.03 * 0.125])


def test_schedules_drive_real_training():
    x = sorix.tensor([5.0], requires_grad=True)
    opt = RMSprop([x], lr=0.5)
    sched = StepLR(opt, step_size=5, gamma=0.1)
    for _ in range(20):
        loss = (x * x).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5e-4)
    assert abs(float(x.data[0])) < 1.0


@pytest.mark.parametrize("make, message", [
    (lambda o: StepLR(o, 0), "step_size"), (lambda o: StepLR(o, 2.5), "step_size"),
    (lambda o: StepLR(o, 2, gamma=0), "gamma"), (lambda o: ExponentialLR(o, -1.0), "gamma"),
    (lambda o: CosineAnnealingLR(o, 0), "T_max"),
    (lambda o: ReduceLROnPlateau(o, factor=1.0), "factor"),
    (lambda o: ReduceLROnPlateau(o, mode="up"), "mode"),
    (lambda o: ReduceLROnPlateau(o, threshold_mode="pct"), "threshold_mode"),
    (lambda o: ReduceLROnPlateau(o, min_lr=[0.1]), "min_lrs"),
])
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make(_sorix_optimizer())


def test_needs_an_optimizer():
    with pytest.raises(TypeError, match="not an Optimizer"):
        StepLR(np.zeros(3), 2)
