"""Sanity checks before a long training run (Karpathy's cs231n notes, "before learning: sanity checks").

:func:`sanity_checks` runs four cheap tests on a *copy* of the model and returns a :class:`SanityReport` that prints
one line per check:

1. **initial loss**: with small random weights a K-class classifier predicts roughly uniform probabilities, so the
   cross-entropy on the first batch is close to ``ln K`` (2.30 for 10 classes). Far above: the last layer's scale is
   wrong (or the labels are out of range); far below: the labels leak into the inputs.
2. **gradients**: one backward pass; every parameter tensor that requires gradients gets a finite gradient whose norm
   is not vanishingly small. A zero gradient means the layer is cut off (a ``.detach()``, a frozen layer, dead ReLUs).
3. **overfit one batch**: ``steps`` training steps on one small batch must reach (nearly) 100% accuracy on it. A
   model, loss and training step that work can memorise a handful of examples; one that cannot, has a bug (a
   forgotten ``optimizer.zero_grad()``, a wrong loss, a learning rate far off).
4. **learns something general** (when a ``holdout`` batch is given): after memorising the batch, accuracy on other
   examples is clearly above chance (by 3 standard errors and at least 10 points). With labels that are shuffled relative to the inputs, a model still memorises
   the batch (check 3 passes) but learns nothing that carries over.
"""
from __future__ import annotations

import copy
import math
import numbers
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

__all__ = ["SanityCheck", "SanityReport", "sanity_checks", "standard_train_step", "gradient_norms"]


@dataclass
class SanityCheck:
    """One check: its name, whether it passed, the measured value and what was expected, in words."""

    name: str
    passed: bool
    measured: str
    expected: str

    def __str__(self) -> str:
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.name:<22} {self.measured}  (expected {self.expected})"


@dataclass
class SanityReport:
    """What :func:`sanity_checks` found. ``passed`` is True when every check passed; ``str(report)`` is a table.

    Also kept: ``losses`` (one per overfitting step), ``grad_norms`` ({parameter name: gradient norm}).
    """

    checks: list[SanityCheck]
    losses: list[float] = field(default_factory=list)
    grad_norms: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def __getitem__(self, name: str) -> SanityCheck:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(f"SanityReport: no check named {name!r}; checks: {[c.name for c in self.checks]}")

    def __str__(self) -> str:
        n = sum(c.passed for c in self.checks)
        head = f"sanity checks: {n} of {len(self.checks)} passed" + ("" if self.passed else "  <-- look for a bug")
        return "\n".join([head] + [f"  {c}" for c in self.checks])

    __repr__ = __str__


def standard_train_step(model: nn.Module, optimizer: torch.optim.Optimizer, inputs: torch.Tensor,
                        targets: torch.Tensor, loss_fn: Callable) -> float:
    """One correct training step: zero the gradients, forward, loss, backward, step. Returns the loss as a float.

    ``inputs`` (N, ...) for the model, ``targets`` (N,) class indices; the model returns logits (N, K).
    """
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def gradient_norms(model: nn.Module) -> dict[str, float]:
    """{name: L2 norm of ``param.grad``} for every parameter that requires gradients (NaN when it has none).

    Call after ``loss.backward()``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"gradient_norms(model): expected a torch.nn.Module, got {type(model).__name__}")
    return {name: (float(p.grad.detach().float().norm()) if p.grad is not None else float("nan"))
            for name, p in model.named_parameters() if p.requires_grad}


def _check_batch(batch, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(batch, (tuple, list)) and len(batch) >= 2):
        raise TypeError(f"sanity_checks({name}): expected a pair (inputs (N, ...), targets (N,)), "
                        f"got {type(batch).__name__}")
    inputs, targets = batch[0], torch.as_tensor(batch[1])
    if not torch.is_tensor(inputs) or not inputs.is_floating_point():
        raise TypeError(f"sanity_checks({name}): inputs must be a floating-point tensor (N, ...)")
    if targets.ndim != 1 or targets.shape[0] != inputs.shape[0] or targets.dtype.is_floating_point:
        raise ValueError(f"sanity_checks({name}): targets must be integer class indices (N,) with "
                         f"N={inputs.shape[0]}, got shape {tuple(targets.shape)} dtype {targets.dtype}")
    if inputs.shape[0] < 2:
        raise ValueError(f"sanity_checks({name}): expected a batch of at least 2 examples, got {inputs.shape[0]}")
    return inputs, targets.long()


def _accuracy(model, inputs, targets) -> float:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        acc = float((model(inputs).argmax(1) == targets).double().mean())
    model.train(was_training)
    return acc


def sanity_checks(model: nn.Module, batch, *, num_classes: int, holdout=None, train_step: Callable | None = None,
                  optimizer: Callable | None = None, steps: int = 100, loss_fn: Callable | None = None,
                  initial_loss_tolerance: float = 0.25, overfit_accuracy: float = 0.99,
                  min_grad_norm: float = 1e-6) -> SanityReport:
    """Run the four sanity checks on a deep copy of ``model`` (the model itself is not changed).

    Args:
        model: a classifier, inputs (N, ...) -> logits (N, num_classes), freshly initialised.
        batch: ``(inputs (N, ...), targets (N,))`` — a small batch (8 to 64 examples) to memorise.
        num_classes: K, for the expected initial loss ``ln K``.
        holdout: optional ``(inputs (M, ...), targets (M,))`` of *other* examples for check 4.
        train_step: ``step(model, optimizer, inputs, targets, loss_fn) -> float loss``, default
            :func:`standard_train_step`; pass your own to check it.
        optimizer: ``params -> torch.optim.Optimizer``, default Adam with lr 1e-2.
        steps: training steps on the batch for check 3.
        initial_loss_tolerance: check 1 passes when ``|loss - ln K| <= tolerance * ln K``.
        overfit_accuracy: accuracy on the batch that check 3 requires.
        min_grad_norm: smallest gradient norm per parameter tensor that counts as "not vanishing".
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"sanity_checks(model): expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < 2:
        raise ValueError(f"sanity_checks(num_classes={num_classes!r}): expected an int >= 2")
    if not isinstance(steps, numbers.Integral) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"sanity_checks(steps={steps!r}): expected a positive int")
    for name, value in (("initial_loss_tolerance", initial_loss_tolerance), ("overfit_accuracy", overfit_accuracy),
                        ("min_grad_norm", min_grad_norm)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
            raise ValueError(f"sanity_checks({name}={value!r}): expected a non-negative number")
    for name, fn in (("train_step", train_step), ("optimizer", optimizer), ("loss_fn", loss_fn)):
        if fn is not None and not callable(fn):
            raise TypeError(f"sanity_checks({name}): expected a callable, got {type(fn).__name__}")
    inputs, targets = _check_batch(batch, "batch")
    if int(targets.min()) < 0 or int(targets.max()) >= num_classes:
        raise ValueError(f"sanity_checks(batch): targets must be in [0, {num_classes}), "
                         f"got {int(targets.min())}..{int(targets.max())}")
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    train_step = train_step or standard_train_step
    model = copy.deepcopy(model)
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    inputs, targets = inputs.to(device), targets.to(device)
    checks = []

    model.train()
    model.zero_grad(set_to_none=True)
    outputs = model(inputs)
    if not torch.is_tensor(outputs) or tuple(outputs.shape) != (len(targets), num_classes):
        raise ValueError(f"sanity_checks(num_classes={num_classes}): the model must return logits "
                         f"(N, num_classes) = ({len(targets)}, {num_classes}), got "
                         f"{tuple(outputs.shape) if torch.is_tensor(outputs) else type(outputs).__name__}; "
                         "give the number of classes the last layer has (or fix the last layer)")
    loss = loss_fn(outputs, targets)
    expected = math.log(num_classes)
    checks.append(SanityCheck(
        "initial loss", bool(abs(float(loss.detach()) - expected) <= initial_loss_tolerance * expected),
        f"{float(loss.detach()):.3f}", f"ln({num_classes}) = {expected:.3f} +- {initial_loss_tolerance:.0%}"))

    loss.backward()
    norms = gradient_norms(model)
    bad = [n for n, v in norms.items() if not math.isfinite(v) or v < min_grad_norm]
    smallest = min(norms.values(), default=float("nan"))
    checks.append(SanityCheck(
        "gradients", not bad and bool(norms),
        f"{len(norms) - len(bad)} of {len(norms)} tensors ok, smallest norm {smallest:.2e}"
        + (f"; bad: {', '.join(bad[:3])}" + (" ..." if len(bad) > 3 else "") if bad else ""),
        f"every norm finite and >= {min_grad_norm:g}"))
    model.zero_grad(set_to_none=True)

    opt = optimizer(model.parameters()) if optimizer is not None else torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(int(steps)):
        value = float(train_step(model, opt, inputs, targets, loss_fn))
        losses.append(value)
        if not math.isfinite(value):
            break
    acc = _accuracy(model, inputs, targets)
    checks.append(SanityCheck(
        "overfit one batch", bool(acc >= overfit_accuracy),
        f"accuracy {acc:.2f} on {len(targets)} examples after {len(losses)} steps, loss {losses[-1]:.3g}",
        f">= {overfit_accuracy:.2f}"))

    if holdout is not None:
        h_inputs, h_targets = _check_batch(holdout, "holdout")
        h_acc = _accuracy(model, h_inputs.to(device), h_targets.to(device))
        chance = 1.0 / num_classes
        # "clearly above": 3 standard errors of a chance-level score, and at least 10 points (memorised random
        # labels scatter more than a binomial around chance)
        margin = max(3 * math.sqrt(chance * (1 - chance) / len(h_targets)), 0.1)
        checks.append(SanityCheck("learns something general", bool(h_acc > chance + margin),
                                  f"holdout accuracy {h_acc:.2f} on {len(h_targets)} examples",
                                  f"> chance {chance:.2f} + {margin:.2f}"))
    return SanityReport(checks, losses=losses, grad_norms=norms)
