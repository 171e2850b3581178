"""Learning-rate schedules: a linear warm-up followed by cosine or step decay.

Each schedule is a plain function of the step number (``warmup_cosine_factor``, ``warmup_step_decay_factor``) that
returns the multiplier applied to the optimizer's base learning rate, wrapped in ``torch.optim.lr_scheduler.LambdaLR``
by :func:`warmup_cosine` and :func:`warmup_step_decay`. A "step" is whatever you call ``scheduler.step()`` after: one
batch (``fit(..., scheduler_step="batch")``) or one epoch (the default).

Warm-up: step ``s < warmup_steps`` uses ``(s + 1) / warmup_steps`` of the base rate, so the first update is small but
not zero and step ``warmup_steps - 1`` reaches the full rate.
"""
from __future__ import annotations

import math
import numbers


def _int_arg(fn: str, name: str, value, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{fn}({name}={value!r}): expected an int")
    if value < minimum:
        raise ValueError(f"{fn}({name}={value!r}): expected an int >= {minimum}")
    return int(value)


def _ratio_arg(fn: str, name: str, value, *, low: float, high: float) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not low <= float(value) <= high:
        raise ValueError(f"{fn}({name}={value!r}): expected a number in [{low}, {high}]")
    return float(value)


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, min_factor: float = 0.0) -> float:
    """Multiplier of the base LR at ``step``: linear warm-up, then a half cosine from 1 down to ``min_factor``.

    The cosine reaches ``min_factor`` at ``step == total_steps`` and stays there afterwards.

    >>> [round(warmup_cosine_factor(s, 2, 6), 3) for s in range(7)]
    [0.5, 1.0, 1.0, 0.854, 0.5, 0.146, 0.0]
    """
    fn = "warmup_cosine_factor"
    step = _int_arg(fn, "step", step, 0)
    warmup_steps = _int_arg(fn, "warmup_steps", warmup_steps, 0)
    total_steps = _int_arg(fn, "total_steps", total_steps, 1)
    min_factor = _ratio_arg(fn, "min_factor", min_factor, low=0.0, high=1.0)
    if warmup_steps > total_steps:
        raise ValueError(f"{fn}: warmup_steps={warmup_steps} must not exceed total_steps={total_steps}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if total_steps == warmup_steps:
        return 1.0
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_step_decay_factor(step: int, warmup_steps: int, step_size: int, gamma: float = 0.1) -> float:
    """Multiplier of the base LR at ``step``: linear warm-up, then multiplied by ``gamma`` every ``step_size`` steps.

    >>> [warmup_step_decay_factor(s, 2, 3, 0.5) for s in range(8)]
    [0.5, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
    """
    fn = "warmup_step_decay_factor"
    step = _int_arg(fn, "step", step, 0)
    warmup_steps = _int_arg(fn, "warmup_steps", warmup_steps, 0)
    step_size = _int_arg(fn, "step_size", step_size, 1)
    gamma = _ratio_arg(fn, "gamma", gamma, low=0.0, high=1.0)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return gamma ** ((step - warmup_steps) // step_size)


class _Factor:
    """A picklable LR multiplier (LambdaLR saves the attributes of callable objects in its state_dict)."""

    def __init__(self, kind: str, **params):
        self.kind = kind
        self.params = params

    def __call__(self, step: int) -> float:
        if self.kind == "cosine":
            return warmup_cosine_factor(step, **self.params)
        return warmup_step_decay_factor(step, **self.params)


def _check_optimizer(fn: str, optimizer):
    import torch

    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"{fn}(optimizer): expected a torch.optim.Optimizer, got {type(optimizer).__name__}")


def warmup_cosine(optimizer, warmup_steps: int, total_steps: int, *, min_factor: float = 0.0):
    """A ``LambdaLR`` scheduler: linear warm-up over ``warmup_steps``, then cosine decay until ``total_steps``.

    With ``fit(..., scheduler_step="batch")`` count steps in batches: ``total_steps = epochs * len(train_loader)``.
    """
    import torch

    _check_optimizer("warmup_cosine", optimizer)
    warmup_cosine_factor(0, warmup_steps, total_steps, min_factor)  # validates the arguments
    factor = _Factor("cosine", warmup_steps=int(warmup_steps), total_steps=int(total_steps), min_factor=float(min_factor))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def warmup_step_decay(optimizer, warmup_steps: int, step_size: int, gamma: float = 0.1):
    """A ``LambdaLR`` scheduler: linear warm-up over ``warmup_steps``, then LR times ``gamma`` every ``step_size`` steps."""
    import torch

    _check_optimizer("warmup_step_decay", optimizer)
    warmup_step_decay_factor(0, warmup_steps, step_size, gamma)
    factor = _Factor("step", warmup_steps=int(warmup_steps), step_size=int(step_size), gamma=float(gamma))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def lr_trace(make_scheduler, steps: int, base_lr: float = 1.0) -> list[float]:
    """The learning rate a scheduler gives at each of ``steps`` steps (for plotting), using a throwaway optimizer.

    ``make_scheduler(optimizer)`` builds the scheduler, e.g. ``lambda opt: warmup_cosine(opt, 5, 50)``.
    Returns a list of ``steps`` floats: the LR used by step 0, 1, ...
    """
    import warnings

    import torch

    steps = _int_arg("lr_trace", "steps", steps, 1)
    if not callable(make_scheduler):
        raise TypeError(f"lr_trace(make_scheduler): expected a function optimizer -> scheduler, got {make_scheduler!r}")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=base_lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    with warnings.catch_warnings():  # stepping the scheduler without optimizer.step() warns; there is nothing to train
        warnings.simplefilter("ignore", UserWarning)
        for _ in range(steps):
            lrs.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    return lrs
