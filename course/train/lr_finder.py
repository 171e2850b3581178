"""The learning-rate range test (Smith 2017, "Cyclical Learning Rates"; the fast.ai "LR finder").

Train for a few hundred steps while the learning rate grows exponentially from tiny to huge, and record the loss.
Too small: the loss does not move. Good: it falls fastest. Too large: it shoots up. A good maximum learning rate for
a one-cycle or cosine schedule sits where the loss falls fastest, somewhat below the minimum of the curve.
"""
from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from .metrics import model_device, split_batch

__all__ = ["LRRangeTest", "lr_range_test"]


@dataclass
class LRRangeTest:
    """The curve of a range test: ``lrs`` (S,), raw ``losses`` (S,) and exponentially ``smoothed`` losses (S,), one
    per step (S <= num_steps: the test stops when the loss diverges). ``suggested_lr``: where the smoothed loss falls
    fastest per decade of learning rate; ``min_loss_lr``: where it is lowest."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested_lr: float
    min_loss_lr: float
    diverged: bool

    def __repr__(self) -> str:
        return (f"LRRangeTest({len(self.lrs)} steps, lr {self.lrs[0]:.1e}..{self.lrs[-1]:.1e}, "
                f"suggested_lr={self.suggested_lr:.2e}, min_loss_lr={self.min_loss_lr:.2e}, diverged={self.diverged})")


def _positive(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not value > 0 or not math.isfinite(value):
        raise ValueError(f"lr_range_test({name}={value!r}): expected a positive number")
    return float(value)


def _suggest(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[float, float]:
    best = int(np.argmin(smoothed))
    if best < 2:
        return float(lrs[best]), float(lrs[best])
    slope = np.gradient(smoothed[: best + 1], np.log10(lrs[: best + 1]))
    return float(lrs[int(np.argmin(slope))]), float(lrs[best])


def lr_range_test(model: nn.Module, loader, *, optimizer: torch.optim.Optimizer | None = None,
                  loss_fn: Callable | None = None, start_lr: float = 1e-6, end_lr: float = 1.0,
                  num_steps: int = 100, smoothing: float = 0.05, diverge: float = 4.0, device=None,
                  progress: bool = True) -> LRRangeTest:
    """Run a learning-rate range test and return the loss-vs-LR curve; the model and optimizer are restored after.

    Args:
        model: inputs (N, ...) -> outputs for ``loss_fn`` (logits (N, K) for the default cross-entropy).
        loader: yields ``(inputs (N, ...), targets (N, ...))``; restarted when it runs out before ``num_steps``.
        optimizer: over ``model``'s parameters (default SGD with momentum 0.9); its learning rate is overwritten at
            every step, and its state (momentum buffers, lr) is put back afterwards.
        start_lr, end_lr: the exponential sweep ``start_lr * (end_lr / start_lr) ** (i / (num_steps - 1))``.
        smoothing: weight of the newest loss in the exponential moving average (bias-corrected).
        diverge: stop when the smoothed loss exceeds ``diverge`` times its minimum so far.
        device: default the model's own device.

    Returns an :class:`LRRangeTest`. Raises ``FloatingPointError`` when not even the first loss is finite.
    """
    from tqdm.auto import tqdm

    if not isinstance(model, nn.Module):
        raise TypeError(f"lr_range_test(model): expected a torch.nn.Module, got {type(model).__name__}")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"lr_range_test(loader): expected an iterable of (inputs, targets) batches, "
                        f"got {type(loader).__name__}")
    start_lr, end_lr = _positive(start_lr, "start_lr"), _positive(end_lr, "end_lr")
    if end_lr <= start_lr:
        raise ValueError(f"lr_range_test(end_lr={end_lr!r}): must be larger than start_lr={start_lr!r}")
    if not isinstance(num_steps, numbers.Integral) or isinstance(num_steps, bool) or num_steps < 5:
        raise ValueError(f"lr_range_test(num_steps={num_steps!r}): expected an int >= 5")
    if not isinstance(smoothing, numbers.Real) or not 0 < smoothing <= 1:
        raise ValueError(f"lr_range_test(smoothing={smoothing!r}): expected a number in (0, 1]")
    if _positive(diverge, "diverge") <= 1:
        raise ValueError(f"lr_range_test(diverge={diverge!r}): expected a number > 1")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"lr_range_test(optimizer): expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"lr_range_test(loss_fn): expected a callable, got {type(loss_fn).__name__}")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    device = model_device(model) if device is None else torch.device(device)
    model.to(device)
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=start_lr, momentum=0.9)
    saved_model = copy.deepcopy(model.state_dict())
    saved_opt = copy.deepcopy(optimizer.state_dict())
    was_training = model.training

    lrs = start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / (num_steps - 1))
    losses, smoothed = [], []
    average, diverged = 0.0, False
    batches = iter(loader)
    model.train()
    try:
        for step in tqdm(range(num_steps), disable=not progress, desc="LR range test", unit="step", leave=False):
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(loader)
                batch = next(batches, None)
                if batch is None:
                    raise ValueError("lr_range_test(loader): the loader yielded no batches") from None
            inputs, targets = split_batch(batch, "lr_range_test(loader)")
            for group in optimizer.param_groups:
                group["lr"] = float(lrs[step])
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs.to(device)), targets.to(device))
            loss.backward()
            optimizer.step()
            value = float(loss.detach())
            losses.append(value)
            average = smoothing * value + (1 - smoothing) * average
            smoothed.append(average / (1 - (1 - smoothing) ** (step + 1)))
            if not math.isfinite(value) or smoothed[-1] > diverge * min(smoothed):
                diverged = True
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_opt)
        model.train(was_training)
        optimizer.zero_grad(set_to_none=True)
    lrs = lrs[: len(losses)]
    smoothed_arr = np.asarray(smoothed)
    finite = np.isfinite(smoothed_arr)
    if not finite.any():
        raise FloatingPointError(
            f"lr_range_test: the loss was {losses[0]} on the first batch, before any update, so the curve says "
            "nothing about the learning rate; check the inputs and targets for NaN or infinity and that the model's "
            "outputs are finite")
    suggested, at_min = _suggest(lrs[finite], smoothed_arr[finite])
    return LRRangeTest(lrs=lrs, losses=np.asarray(losses), smoothed=smoothed_arr, suggested_lr=suggested,
                       min_loss_lr=at_min, diverged=diverged)
