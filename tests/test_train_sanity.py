"""course.train.sanity: each broken model fails the check meant to catch it; a correct one passes all four."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from course.train import SanityReport, gradient_norms, sanity_checks, standard_train_step


def _data(n=40, m=200, k=10, seed=0):
    """Linearly separable blobs: K classes, 16 features; a batch of n and a holdout of m."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, 16, generator=g)
    labels = torch.arange(n + m) % k
    x = centres[labels] + 0.3 * torch.randn(n + m, 16, generator=g)
    return (x[:n], labels[:n]), (x[n:], labels[n:])


def _mlp(k=10):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, k))


def test_a_correct_model_passes_everything_and_is_not_modified():
    batch, holdout = _data()
    model = _mlp()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = sanity_checks(model, batch, num_classes=10, holdout=holdout, steps=60)
    assert isinstance(report, SanityReport)
    assert report.passed, str(report)
    assert [c.name for c in report.checks] == ["initial loss", "gradients", "overfit one batch",
                                               "learns something general"]
    assert report.losses[-1] < report.losses[0]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    text = str(report)
    assert "4 of 4 passed" in text and "[PASS] initial loss" in text


def test_wrong_output_scale_fails_initial_loss():
    batch, _ = _data()
    model = _mlp()
    with torch.no_grad():
        model[2].weight.mul_(50)
    report = sanity_checks(model, batch, num_classes=10, steps=5)
    assert not report["initial loss"].passed
    assert not report.passed and "FAIL" in str(report)


class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(16, 32), nn.Linear(32, 10)

    def forward(self, x):
        return self.b(torch.relu(self.a(x)).detach())


def test_detached_layer_fails_gradients():
    batch, _ = _data()
    report = sanity_checks(Detached(), batch, num_classes=10, steps=5)
    assert not report["gradients"].passed
    assert "a.weight" in report["gradients"].measured
    assert math.isnan(report.grad_norms["a.weight"]) and report.grad_norms["b.weight"] > 0


def test_forgotten_zero_grad_fails_overfitting():
    batch, _ = _data()

    def no_zero_grad(model, optimizer, inputs, targets, loss_fn):
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    sgd = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)  # noqa: E731
    good = sanity_checks(_mlp(), batch, num_classes=10, optimizer=sgd, steps=60)
    bad = sanity_checks(_mlp(), batch, num_classes=10, optimizer=sgd, steps=60, train_step=no_zero_grad)
    assert good["overfit one batch"].passed, str(good)
    assert not bad["overfit one batch"].passed, str(bad)


def test_shuffled_labels_fail_generalisation():
    (x, y), holdout = _data()
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))]
    report = sanity_checks(_mlp(), (x, shuffled), num_classes=10, holdout=holdout, steps=150)
    assert not report["learns something general"].passed, str(report)


def test_gradient_norms_known_value():
    lin = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, 1.0]]))
    lin(torch.tensor([[3.0, 4.0]])).sum().backward()
    assert gradient_norms(lin)["weight"] == pytest.approx(5.0)
    with pytest.raises(TypeError, match="model"):
        gradient_norms("not a model")


def test_standard_train_step_lowers_the_loss():
    (x, y), _ = _data()
    model = _mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    first = standard_train_step(model, opt, x, y, nn.CrossEntropyLoss())
    for _ in range(10):
        last = standard_train_step(model, opt, x, y, nn.CrossEntropyLoss())
    assert last < first


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(model="x"), TypeError, "model"),
    (dict(num_classes=1), ValueError, "num_classes"),
    (dict(steps=0), ValueError, "steps"),
    (dict(batch=(torch.zeros(4, 16),)), TypeError, "batch"),
    (dict(batch=(torch.zeros(4, 16), torch.zeros(4))), ValueError, "targets"),
    (dict(batch=(torch.zeros(4, 16), torch.tensor([0, 1, 2, 19]))), ValueError, r"\[0, 10\)"),
    (dict(batch=(torch.zeros(1, 16), torch.tensor([0]))), ValueError, "at least 2"),
    (dict(train_step=3), TypeError, "train_step"),
    (dict(overfit_accuracy=-1), ValueError, "overfit_accuracy"),
])
def test_bad_input(kwargs, error, match):
    batch, _ = _data()
    args = dict(model=_mlp(), batch=batch, num_classes=10, steps=2) | kwargs
    with pytest.raises(error, match=match):
        sanity_checks(args.pop("model"), args.pop("batch"), **args)
