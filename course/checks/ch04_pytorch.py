"""Checks for chapter 04 (from NumPy to PyTorch).

References are independent of the learner's code: ``course.train.accuracy`` for accuracy, ``torch`` for training
steps, the NumPy CNN of Part I (``course.numpy_nn.cnn``) for the rebuilt network, and
``course.train.warmup_cosine_factor`` for the schedule.
"""
from __future__ import annotations

import numpy as np

from ..numpy_nn.cnn import load_digits_split, make_digits_cnn
from ..train.metrics import accuracy
from ..train.schedules import warmup_cosine_factor
from .core import Case, CheckResult, check_function, compare, compare_float


# --------------------------------------------------------------------------------------------------------------------
# accuracy from logits
# --------------------------------------------------------------------------------------------------------------------

def accuracy_from_logits(fn) -> CheckResult:
    """Check ``fn(logits (N, K) tensor, labels (N,) int64 tensor) -> float`` in [0, 1]."""
    import torch

    g = torch.Generator().manual_seed(4)
    logits = torch.randn(40, 5, generator=g)
    labels = torch.randint(0, 5, (40,), generator=g)
    eye = torch.eye(4) * 3.0
    cases = [
        Case((logits, labels), name="40 random samples, 5 classes"),
        Case((eye, torch.arange(4)), name="every prediction right", expected=1.0),
        Case((eye, torch.tensor([1, 2, 3, 0])), name="every prediction wrong", expected=0.0),
        Case((torch.tensor([[0.1, 2.0, -1.0]]), torch.tensor([1])), name="a single sample", expected=1.0),
        Case((logits.double() - 100.0, labels), name="negative float64 logits",
             hint="the prediction is the index of the largest logit, whatever its sign: logits.argmax(dim=1)"),
    ]
    return check_function(fn, cases, title="accuracy_from_logits", reference=accuracy, compare_fn=_compare_float,
                          hint="compare logits.argmax(dim=1) with labels, then take the mean of the matches as a float")


def _compare_float(got, expected) -> str | None:
    """The learner must return a Python float (``.item()``), not a tensor or an int, with the expected value."""
    return compare_float(got, expected, rtol=1e-9, atol=1e-8)


# --------------------------------------------------------------------------------------------------------------------
# the Part I CNN in PyTorch
# --------------------------------------------------------------------------------------------------------------------

def _digit_batch(n=24):
    import torch

    x_train, _, _, _ = load_digits_split()
    return torch.from_numpy(x_train[:n])


def _numpy_logits(num_filters: int, seed: int):
    return make_digits_cnn(num_filters, seed=seed).forward(_digit_batch().numpy())


def _rebuilt_logits(fn, num_filters: int, seed: int):
    """Logits of the learner's torch model built from a fresh NumPy CNN, on digits in float64."""
    import torch

    model = fn(make_digits_cnn(num_filters, seed=seed))
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")
    with torch.no_grad():
        return model.double()(_digit_batch()).numpy()


def numpy_cnn_to_torch(fn) -> CheckResult:
    """Check ``fn(np_model) -> nn.Module`` gives the same logits as the NumPy CNN ``np_model`` on (N, 1, 8, 8) digits."""
    cases = [
        Case((16, 0), name="16 filters (the Part I network)"),
        Case((16, 5), name="other random weights", hint="copy the weights from np_model, do not keep torch's own"),
        Case((6, 1), name="6 filters", hint="read the sizes from np_model's arrays instead of typing 16"),
    ]
    return check_function(lambda f, s: _rebuilt_logits(fn, f, s), cases, title="numpy_cnn_to_torch",
                          reference=_numpy_logits, rtol=1e-5, atol=1e-6, time_limit=60,
                          hint="nn.Linear stores its weight as (out, in) = the transpose of the NumPy (D, K) matrix")


# --------------------------------------------------------------------------------------------------------------------
# one training step
# --------------------------------------------------------------------------------------------------------------------

def _reference_train_step(model, inputs, targets, optimizer, loss_fn) -> float:
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def _step_setup(optimizer_name: str, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    if optimizer_name == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(seed + 100)
    inputs = torch.rand(16, 1, 8, 8, generator=g)
    targets = torch.randint(0, 10, (16,), generator=g)
    return model, optimizer, inputs, targets


def _run_steps(step_fn, optimizer_name: str, seed: int, steps: int, stale_grads: bool):
    import torch

    model, optimizer, inputs, targets = _step_setup(optimizer_name, seed)
    if stale_grads:  # gradients left over from an earlier backward pass
        for p in model.parameters():
            p.grad = torch.ones_like(p)
    losses = []
    for _ in range(steps):
        loss = step_fn(model, inputs, targets, optimizer, torch.nn.CrossEntropyLoss())
        if loss is None:
            raise TypeError("train_step returned None: return the loss as a number, loss.item()")
        losses.append(float(loss))
    weights = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy()
    return losses, weights


def train_step(fn) -> CheckResult:
    """Check ``fn(model, inputs, targets, optimizer, loss_fn) -> float``: one update, returning the loss before it."""
    cases = [
        Case(("sgd", 0, 1, False), name="one SGD step: loss and new weights"),
        Case(("adam", 1, 1, False), name="one Adam step"),
        Case(("sgd", 2, 1, True), name="old gradients are lying around",
             hint="call optimizer.zero_grad() before loss.backward(): backward *adds* to .grad"),
        Case(("adam", 3, 3, False), name="three steps in a row",
             hint="zero the gradients every step, otherwise they pile up"),
    ]

    def learner(optimizer_name, seed, steps, stale):
        return _run_steps(fn, optimizer_name, seed, steps, stale)

    def reference(optimizer_name, seed, steps, stale):
        return _run_steps(_reference_train_step, optimizer_name, seed, steps, stale)

    def compare(got, expected):
        (losses, weights), (exp_losses, exp_weights) = got, expected
        if not np.allclose(losses, exp_losses, rtol=1e-5, atol=1e-7):
            return f"returned losses {np.round(losses, 5).tolist()}, expected {np.round(exp_losses, 5).tolist()}"
        if not np.allclose(weights, exp_weights, rtol=1e-5, atol=1e-7):
            return (f"the returned loss is right, but the weights after the update differ by up to "
                    f"{np.abs(weights - exp_weights).max():.3g}")
        return None

    return check_function(learner, cases, title="train_step", reference=reference, compare_fn=compare, time_limit=60,
                          hint="zero_grad -> forward -> loss -> backward -> step, and return loss.item()")


# --------------------------------------------------------------------------------------------------------------------
# an evaluation loop
# --------------------------------------------------------------------------------------------------------------------

def _reference_evaluate_accuracy(model, loader) -> float:
    import torch

    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in loader:
            correct += (model(inputs).argmax(dim=1) == labels).sum().item()
            total += len(labels)
    return correct / total


def _evaluation_setup(n: int, batch_size: int, dropout: float, seed: int):
    """A small classifier (dropout optional, left in training mode) and a loader whose last batch is smaller."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
    x = torch.randn(n, 4, generator=g)
    with torch.no_grad():
        model.eval()
        labels = model(x).argmax(dim=1)
    wrong = torch.rand(n, generator=g) < 0.35       # a third of the labels disagree with the model
    labels = torch.where(wrong, (labels + 1) % 3, labels)
    labels[-(n % batch_size or batch_size):] = (labels[-(n % batch_size or batch_size):] + 1) % 3  # last batch wrong
    model.train()
    return model, DataLoader(TensorDataset(x, labels), batch_size=batch_size)


def evaluate_accuracy(fn) -> CheckResult:
    """Check ``fn(model, loader) -> float``: accuracy over every sample of ``loader``, in eval mode, without gradients."""
    cases = [
        Case((48, 16, 0.0, 0), name="3 equal batches"),
        Case((50, 16, 0.0, 1), name="last batch smaller (16, 16, 16, 2)",
             hint="count correct predictions and samples over all batches; the mean of per-batch accuracies "
                  "gives the 2-sample batch as much weight as a 16-sample one"),
        Case((64, 32, 0.5, 2), name="a model with dropout",
             hint="call model.eval() first: in training mode dropout makes predictions random"),
    ]

    def learner(n, batch_size, dropout, seed):
        import torch

        model, loader = _evaluation_setup(n, batch_size, dropout, seed)
        grad_modes = []  # was autograd recording during each forward pass?
        model.register_forward_hook(lambda module, inputs, output: grad_modes.append(torch.is_grad_enabled()))
        return fn(model, loader), any(grad_modes)

    def reference(n, batch_size, dropout, seed):
        return _reference_evaluate_accuracy(*_evaluation_setup(n, batch_size, dropout, seed)), False

    def compare_result(got, expected):
        (accuracy, recorded), (expected_accuracy, _) = got, expected
        problem = _compare_float(accuracy, expected_accuracy)
        if problem:
            return problem
        if recorded:
            return ("right accuracy, but the model ran with gradients on: wrap the loop in `with torch.no_grad():` "
                    "so autograd does not record (and keep in memory) every batch")
        return None

    return check_function(learner, cases, title="evaluate_accuracy", reference=reference, compare_fn=compare_result,
                          time_limit=60,
                          hint="model.eval(); with torch.no_grad(): loop over (inputs, labels), count, divide")


# --------------------------------------------------------------------------------------------------------------------
# warm-up then cosine
# --------------------------------------------------------------------------------------------------------------------

def _reference_lr(step, base_lr, warmup_steps, total_steps) -> float:
    return base_lr * warmup_cosine_factor(step, warmup_steps, total_steps)


def warmup_cosine_lr(fn) -> CheckResult:
    """Check ``fn(step, base_lr, warmup_steps, total_steps) -> float``: linear warm-up, then cosine down to 0."""
    cases = [
        Case((0, 0.1, 10, 100), name="first step of the warm-up", hint="step s < warmup uses base_lr * (s + 1) / warmup"),
        Case((4, 0.1, 10, 100), name="inside the warm-up"),
        Case((9, 0.1, 10, 100), name="last warm-up step reaches base_lr"),
        Case((10, 0.1, 10, 100), name="cosine starts at base_lr"),
        Case((55, 0.1, 10, 100), name="half way through the cosine gives base_lr / 2",
             hint="progress = (step - warmup) / (total - warmup); lr = base_lr * 0.5 * (1 + cos(pi * progress))"),
        Case((80, 3e-4, 10, 100), name="late in the cosine, another base_lr"),
        Case((100, 0.1, 10, 100), name="step == total_steps ends at 0"),
        Case((150, 0.1, 10, 100), name="after total_steps it stays at 0", hint="clip progress at 1"),
        Case((0, 0.05, 0, 40), name="no warm-up at all", hint="with warmup_steps = 0 the cosine starts at step 0"),
    ]
    return check_function(fn, cases, title="warmup_cosine_lr", reference=_reference_lr, rtol=1e-9, atol=1e-12)
