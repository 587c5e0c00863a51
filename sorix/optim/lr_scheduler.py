"""Learning-rate schedulers with PyTorch's semantics.

A scheduler rewrites ``optimizer.param_groups[i]['lr']``; call
``scheduler.step()`` once per epoch after ``optimizer.step()``
(``ReduceLROnPlateau.step(metric)`` after validation). Constructing one
records ``initial_lr`` in every group and performs the initial step, so
``last_epoch`` is 0 right away. Schedules are computed the way PyTorch
computes them -- recursively from the current lr -- so values agree with
``torch.optim.lr_scheduler`` to the last bit, and changes made to the lr
from outside (e.g. by another scheduler) compose as they do there.

Two points follow Sorix rather than PyTorch: ``load_state_dict`` also puts
the saved learning rates back into the optimizer (a restored scheduler
resumes at the lr it had), and ``ReduceLROnPlateau`` reduces once
``patience`` bad epochs have passed (PyTorch waits for one more), with an
absolute ``threshold`` by default.

Besides PyTorch's epoch schedules (``StepLR``, ``MultiStepLR``,
``ExponentialLR``, ``CosineAnnealingLR``, ``LambdaLR``,
``MultiplicativeLR``, ``LinearLR``, ``ConstantLR``) there is the per-batch
``OneCycleLR`` (which also cycles momentum, or Adam's ``beta1``), and the
combinators ``SequentialLR`` (one scheduler after another, switching at
milestones) and ``ChainedScheduler`` (several stepped together).
"""
import bisect
import copy
import math
import numbers
import types
from collections import Counter

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LambdaLR", "MultiplicativeLR", "LinearLR", "ConstantLR", "OneCycleLR",
           "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"]


def _check_optimizer(optimizer):
    if not hasattr(optimizer, "param_groups"):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be >= 1 (an integer), got {value!r}")


def _per_group(name, optimizer, value):
    """``value`` for every param group: one value for all, or a list/tuple with one each."""
    count = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"{name} needs one value per param group: got {len(value)} "
                             f"values for {count} param groups")
        return list(value)
    return [value] * count


def _check_gamma(gamma):
    if gamma <= 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")


class LRScheduler:
    """Base class: subclasses give ``get_lr()`` (the lrs for the new ``last_epoch``)
    and may give ``_get_closed_form_lr()`` for ``step(epoch)``."""

    _is_initial = False  # True only during the step the constructor performs

    def __init__(self, optimizer, last_epoch=-1):
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:  # resuming: the groups must come from a checkpoint that has initial_lr
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming a scheduler with last_epoch >= 0; load the "
                                   "optimizer's state_dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        """Reset the step count and take the step that construction performs."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def step(self, epoch=None):
        """Advance one epoch (or, deprecated as in PyTorch, jump to ``epoch``)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        """Set the lrs for the next epoch, or for ``epoch`` (closed form where there is one)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lrs the last ``step`` set, one per parameter group."""
        return list(self._last_lr)

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """A copy of everything but the optimizer (save that with the optimizer's own
        state_dict); later steps do not change it."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                if key != "optimizer"}

    def load_state_dict(self, state_dict):
        """Restore a :meth:`state_dict`, and the learning rates it recorded into the optimizer."""
        self.__dict__.update({k: copy.deepcopy(v) for k, v in state_dict.items()
                              if k != "optimizer"})
        last = state_dict.get("_last_lr")
        if last is not None and len(last) == len(self.optimizer.param_groups):
            for group, lr in zip(self.optimizer.param_groups, last):
                group["lr"] = lr


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _positive_int("step_size", step_size)
        _check_gamma(gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        factor = self.gamma ** (self.last_epoch // self.step_size)
        return [base * factor for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones``.

    A milestone listed twice multiplies by ``gamma ** 2``; the list need not be
    sorted. ``milestones`` is kept as a :class:`collections.Counter`, as in PyTorch.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, numbers.Integral):
                raise ValueError(f"milestones must be integer epochs, got {m!r}")
        _check_gamma(gamma)
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        times = self.milestones.get(self.last_epoch, 0)
        if times == 0:
            return self._current_lrs()
        return [lr * self.gamma ** times for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        passed = bisect.bisect_right(sorted(self.milestones.elements()), self.last_epoch)
        return [base * self.gamma ** passed for base in self.base_lrs]

    def state_dict(self):
        state = super().state_dict()
        state["milestones"] = dict(self.milestones)  # a plain dict saves without pickle
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.milestones = Counter(self.milestones)


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        _check_gamma(gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:  # resuming must not advance the lr a second time
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Anneal from the initial lr to ``eta_min`` along a half cosine of ``T_max`` epochs.

    Past ``T_max`` the lr rises again (period ``2 * T_max``), as in PyTorch,
    whose recursive update this follows step for step.
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _positive_int("T_max", T_max)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def _closed(self, base, epoch):
        return self.eta_min + (base - self.eta_min) * (1 + math.cos(math.pi * epoch / self.T_max)) / 2

    def get_lr(self):
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # first step of a resumed scheduler
            return [self._closed(base, t) for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:
            # At the trough the ratio below would divide by zero; step up instead.
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current_lrs())]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        return [self._closed(base, self.last_epoch) for base in self.base_lrs]


class _LambdaScheduler(LRScheduler):
    """Shared by LambdaLR and MultiplicativeLR: one function of the epoch per group."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer)
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"expected {groups} lr_lambdas (one per param group), "
                                 f"got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda must be callable, got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        """As :meth:`LRScheduler.state_dict`, with ``lr_lambdas`` holding, for each group,
        the attributes of a callable object, or None for a plain function or lambda
        (those cannot be saved; the new scheduler brings its own)."""
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(fn, types.FunctionType) or not hasattr(fn, "__dict__")
            else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", None) or []
        super().load_state_dict(state)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(copy.deepcopy(attributes))


class LambdaLR(_LambdaScheduler):
    """lr = initial lr * ``lr_lambda(epoch)``; ``lr_lambda`` is a function of the epoch
    or a list of them, one per param group."""

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaScheduler):
    """Multiply the lr by ``lr_lambda(epoch)`` every epoch (a function or one per group)."""

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._current_lrs())]


class LinearLR(LRScheduler):
    """Scale the initial lr by a factor moving linearly from ``start_factor`` to
    ``end_factor`` over ``total_iters`` epochs, then keep it (a warm-up by default)."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5,
                 last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"end_factor must be in [0, 1], got {end_factor}")
        _positive_int("total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, start, end = self.last_epoch, self.start_factor, self.end_factor
        if t == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or t > self.total_iters:
            return self._current_lrs()
        # factor(t) / factor(t - 1), with factor(t) = start + (end - start) * t / total_iters
        ratio = 1.0 + (end - start) / (self.total_iters * start + (t - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        done = min(self.total_iters, self.last_epoch)
        factor = self.start_factor + (self.end_factor - self.start_factor) * done / self.total_iters
        return [base * factor for base in self.base_lrs]


class ConstantLR(LRScheduler):
    """Scale the lr by ``factor`` for the first ``total_iters`` epochs, then restore it."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if not 0 <= factor <= 1:
            raise ValueError(f"factor must be in [0, 1], got {factor}")
        _positive_int("total_iters", total_iters)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        if self.factor == 0:  # nothing to divide back: restart from the initial lrs
            return list(self.base_lrs)
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self):
        factor = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [base * factor for base in self.base_lrs]


class ReduceLROnPlateau(LRScheduler):
    """Multiply the lr by ``factor`` once ``metric`` has not improved for ``patience`` epochs.

    ``step(metric)`` after each validation. An improvement must beat the
    best value by ``threshold`` (absolute by default, as in Sorix; relative
    with ``threshold_mode='rel'``, PyTorch's default); after a reduction,
    ``cooldown`` epochs pass before bad epochs count again. Reductions
    smaller than ``eps`` are skipped.
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, min_lr=0.0,
                 threshold=1e-4, threshold_mode="abs", cooldown=0, eps=1e-8):
        _check_optimizer(optimizer)
        if factor >= 1.0:
            raise ValueError(f"factor must be < 1.0, got {factor}")
        if patience < 0 or cooldown < 0:
            raise ValueError(f"patience and cooldown must be >= 0, got {patience} and {cooldown}")
        self.optimizer = optimizer
        self.factor = factor
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"expected {len(optimizer.param_groups)} min_lrs, "
                                 f"got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._set_mode(mode, threshold, threshold_mode)
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _set_mode(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf

    def _is_better(self, value):
        if self.mode == "min":
            bar = self.best * (1 - self.threshold) if self.threshold_mode == "rel" \
                else self.best - self.threshold
            return value < bar
        bar = self.best * (1 + self.threshold) if self.threshold_mode == "rel" \
            else self.best + self.threshold
        return value > bar

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def step(self, metrics, epoch=None):
        current = float(metrics)  # accepts one-element tensors too
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs during cooldown do not count
        if self.num_bad_epochs >= max(self.patience, 1):  # (patience 0: every bad epoch)
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"the optimizer has {len(groups)} param groups but min_lr "
                                   f"lists {len(self.min_lrs)}; update scheduler.min_lrs")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._set_mode(self.mode, self.threshold, self.threshold_mode)


class _Combined(LRScheduler):
    """Shared by SequentialLR and ChainedScheduler: checks the schedulers they drive and
    saves their states inside its own."""

    def _set_schedulers(self, optimizer, schedulers):
        schedulers = list(schedulers)
        name = type(self).__name__
        if not schedulers:
            raise ValueError(f"{name} needs at least one scheduler, got none")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"{name}: the scheduler at index {i} "
                                f"({type(scheduler).__name__}) has no optimizer")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"{name} cannot drive ReduceLROnPlateau (index {i}): "
                                 "its step needs a metric")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"{name}: the scheduler at index {i} "
                                 f"({type(scheduler).__name__}) belongs to another optimizer")
        self.optimizer = optimizer
        self._schedulers = schedulers

    def state_dict(self):
        """This scheduler's state, with each driven scheduler's state_dict under
        ``_schedulers``."""
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict):
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        if len(saved) != len(self._schedulers):
            raise ValueError(f"the state holds {len(saved)} schedulers, "
                             f"this {type(self).__name__} has {len(self._schedulers)}")
        for scheduler, sub_state in zip(self._schedulers, saved):
            scheduler.load_state_dict(sub_state)
        # last, so the lrs the combination had (not an idle scheduler's) go back
        super().load_state_dict(state)


class SequentialLR(_Combined):
    """Run ``schedulers`` one after another: the i-th takes over at epoch
    ``milestones[i - 1]``, starting from the initial lrs (its epoch 0)."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        _check_optimizer(optimizer)
        self._set_schedulers(optimizer, schedulers)
        milestones = list(milestones)
        if len(milestones) != len(self._schedulers) - 1:
            raise ValueError(f"SequentialLR needs one milestone fewer than schedulers: got "
                             f"{len(self._schedulers)} schedulers and {len(milestones)} "
                             "milestones")
        if milestones != sorted(milestones):
            raise ValueError(f"milestones must be in increasing order, got {milestones}")
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)  # building the schedulers stepped them once each
        first = self._schedulers[bisect.bisect_right(milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @classmethod
    def _undo_initial_steps(cls, scheduler):
        for inner in getattr(scheduler, "_schedulers", ()):
            if hasattr(inner, "_schedulers"):
                cls._undo_initial_steps(inner)
            elif hasattr(inner, "last_epoch"):
                inner.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)  # its first epoch: the closed form at 0
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Combined):
    """Step every scheduler in ``schedulers`` on each ``step()``, so their changes to
    the lr compose (e.g. a warm-up on top of a decay)."""

    def __init__(self, schedulers, optimizer=None):
        schedulers = list(schedulers)
        if optimizer is None:
            if not schedulers:
                raise ValueError("ChainedScheduler needs at least one scheduler, got none")
            optimizer = getattr(schedulers[0], "optimizer", None)
        self._set_schedulers(optimizer, schedulers)
        self._last_lr = self._current_lrs()

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()


# OneCycleLR lives in its own module (it builds on the helpers above) and is re-exported here.
from .cyclic_lr import OneCycleLR  # noqa: E402
