"""The chapter 04 exercise checks accept right answers, reject typical wrong ones, and never crash."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from course.checks import ch04_pytorch as check


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def right_accuracy(logits, labels):
    return (logits.argmax(dim=1) == labels).float().mean().item()


def right_step(model, inputs, targets, optimizer, loss_fn):
    optimizer.zero_grad()
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def right_lr(step, base_lr, warmup_steps, total_steps):
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return base_lr * 0.5 * (1 + math.cos(math.pi * progress))


def right_rebuild(np_model):
    conv, linear = np_model.layers[0], np_model.layers[4]
    f, c, k, _ = conv.params["w"].shape
    model = nn.Sequential(nn.Conv2d(c, f, k, padding=k // 2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(*linear.params["w"].shape))
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(conv.params["w"]))
        model[0].bias.copy_(torch.from_numpy(conv.params["b"]))
        model[4].weight.copy_(torch.from_numpy(linear.params["w"].T))
        model[4].bias.copy_(torch.from_numpy(linear.params["b"]))
    return model


def untransposed_rebuild(np_model):
    model = right_rebuild(np_model)
    with torch.no_grad():
        model[4].weight.copy_(torch.from_numpy(np_model.layers[4].params["w"].reshape(model[4].weight.shape)))
    return model


def step_without_zero_grad(model, inputs, targets, optimizer, loss_fn):
    loss = loss_fn(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


def step_without_return(model, inputs, targets, optimizer, loss_fn):
    right_step(model, inputs, targets, optimizer, loss_fn)


def step_returning_loss_after(model, inputs, targets, optimizer, loss_fn):
    right_step(model, inputs, targets, optimizer, loss_fn)
    return loss_fn(model(inputs), targets).item()


def not_implemented(*args):
    raise NotImplementedError


def right_evaluate(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in loader:
            correct += (model(inputs).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / total


def evaluate_mean_of_batches(model, loader):
    model.eval()
    with torch.no_grad():
        accs = [(model(x).argmax(1) == y).float().mean().item() for x, y in loader]
    return sum(accs) / len(accs)


def evaluate_in_train_mode(model, loader):
    correct = total = 0
    with torch.no_grad():
        for inputs, labels in loader:
            correct += (model(inputs).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / total



CHECKS = {
    "accuracy_from_logits": (check.accuracy_from_logits, right_accuracy,
                             [lambda l, y: (l.argmax(dim=0)[: len(y)] == y).float().mean().item(),
                              lambda l, y: (l.argmax(dim=1) == y).sum().item()]),
    "train_step": (check.train_step, right_step,
                   [step_without_zero_grad, step_without_return, step_returning_loss_after]),
    "warmup_cosine_lr": (check.warmup_cosine_lr, right_lr,
                         [lambda s, b, w, t: b * s / w if s < w else b,
                          lambda s, b, w, t: right_lr(s, b, w, t) if s <= t else b]),
    "numpy_cnn_to_torch": (check.numpy_cnn_to_torch, right_rebuild,
                           [untransposed_rebuild, lambda np_model: nn.Sequential(nn.Flatten(), nn.Linear(64, 10)),
                            lambda np_model: "a model"]),
    "evaluate_accuracy": (check.evaluate_accuracy, right_evaluate, [evaluate_mean_of_batches, evaluate_in_train_mode]),
}


@pytest.mark.parametrize("name", CHECKS)
def test_right_answer_passes(name, capsys):
    run, right, _ = CHECKS[name]
    result = run(right)
    assert result.passed, capsys.readouterr().out
    assert "well done" in capsys.readouterr().out


@pytest.mark.parametrize("name, index", [(n, i) for n, (_, _, wrongs) in CHECKS.items() for i in range(len(wrongs))])
def test_wrong_answer_fails_without_crashing(name, index, capsys):
    run, _, wrongs = CHECKS[name]
    result = run(wrongs[index])
    assert not result.passed
    assert "❌" in capsys.readouterr().out


@pytest.mark.parametrize("name", CHECKS)
def test_not_implemented_is_reported_kindly(name, capsys):
    run, _, _ = CHECKS[name]
    result = run(not_implemented)
    assert result.not_implemented and not result.passed
    assert "not implemented yet" in capsys.readouterr().out


def test_strict_mode_raises_on_failure(monkeypatch):
    from course.checks import CheckFailed

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        check.warmup_cosine_lr(lambda s, b, w, t: 0.0)


def test_each_wrong_evaluation_fails_its_own_case(capsys):
    by_batches = check.evaluate_accuracy(evaluate_mean_of_batches)
    assert [c.passed for c in by_batches.cases] == [True, False, True]
    train_mode = check.evaluate_accuracy(evaluate_in_train_mode)
    assert [c.passed for c in train_mode.cases] == [True, True, False]
