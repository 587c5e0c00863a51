"""OneCycleLR: the 1cycle learning-rate (and momentum) policy, with PyTorch's semantics.

Re-exported by :mod:`sorix.optim.lr_scheduler`, where it is documented with the others.
"""
import math
import numbers

from .lr_scheduler import LRScheduler, _check_optimizer, _per_group, _positive_int

__all__ = ["OneCycleLR"]


class OneCycleLR(LRScheduler):
    """The 1cycle policy, stepped once per batch: the lr rises from ``max_lr / div_factor``
    to ``max_lr`` over the first ``pct_start`` of ``total_steps``, then anneals to
    ``initial_lr / final_div_factor`` (``three_phase``: back down to the initial lr
    first, then to the minimum). Momentum -- ``momentum`` in the param groups, or
    ``betas[0]`` for Adam-style optimizers -- moves the opposite way between
    ``max_momentum`` and ``base_momentum`` unless ``cycle_momentum=False``.

    Give ``total_steps``, or ``epochs`` and ``steps_per_epoch``. Stepping more than
    ``total_steps`` times raises ValueError, as in PyTorch.
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None,
                 pct_start=0.3, anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85,
                 max_momentum=0.95, div_factor=25.0, final_div_factor=1e4, three_phase=False,
                 last_epoch=-1):
        _check_optimizer(optimizer)
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("OneCycleLR needs total_steps, or both epochs and "
                                 "steps_per_epoch")
            _positive_int("epochs", epochs)
            _positive_int("steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        _positive_int("total_steps", total_steps)
        if isinstance(pct_start, bool) or not isinstance(pct_start, numbers.Real) \
                or not 0 <= pct_start <= 1:
            raise ValueError(f"pct_start must be a number in [0, 1], got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be 'cos' or 'linear', "
                             f"got {anneal_strategy!r}")
        for name, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.optimizer = optimizer
        self.total_steps = total_steps
        self._anneal_func_type = anneal_strategy
        self._schedule_phases = self._phases(float(pct_start * total_steps), total_steps,
                                             three_phase)

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            defaults = getattr(optimizer, "defaults", {})
            if "momentum" not in defaults and "betas" not in defaults:
                raise ValueError(f"cycle_momentum=True needs an optimizer with momentum or "
                                 f"betas; {type(optimizer).__name__} has neither (pass "
                                 "cycle_momentum=False)")
            self.use_beta1 = "betas" in defaults
            highs = _per_group("max_momentum", optimizer, max_momentum)
            lows = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, high, low in zip(optimizer.param_groups, highs, lows):
                    self._set_momentum(group, high)
                    group["max_momentum"] = high
                    group["base_momentum"] = low
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _phases(warmup, total_steps, three_phase):
        """Each phase ends at step ``end_step`` and names the group keys it moves between."""
        def phase(end_step, lrs, momenta):
            return {"end_step": end_step, "start_lr": lrs[0], "end_lr": lrs[1],
                    "start_momentum": momenta[0], "end_momentum": momenta[1]}
        rise = ("initial_lr", "max_lr"), ("max_momentum", "base_momentum")
        if not three_phase:
            return [phase(warmup - 1, *rise),
                    phase(total_steps - 1, ("max_lr", "min_lr"), ("base_momentum", "max_momentum"))]
        return [phase(warmup - 1, *rise),
                phase(2 * warmup - 2, ("max_lr", "initial_lr"), ("base_momentum", "max_momentum")),
                phase(total_steps - 1, ("initial_lr", "min_lr"), ("max_momentum", "max_momentum"))]

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        """The lrs at step ``last_epoch``; sets the momenta too, when they cycle."""
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR was stepped {step} times, more than its "
                             f"total_steps ({self.total_steps})")
        start = 0.0
        for phase in self._schedule_phases:  # the phase this step falls in
            end = phase["end_step"]
            if step <= end or phase is self._schedule_phases[-1]:
                break
            start = end
        pct = (step - start) / (end - start)
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                self._set_momentum(group, self._anneal(group[phase["start_momentum"]],
                                                       group[phase["end_momentum"]], pct))
        return lrs
