"""course.train.lr_range_test: the sweep, divergence where theory says, state restored, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course.train import LRRangeTest, lr_range_test


def _scalar_problem():
    """loss = mean((w - y)^2) with y = +-1 alternating, w = 0 optimal. Plain SGD settles to an expected loss of
    1 + lr / (1 - lr) for lr < 1 and blows up for lr > 1, so a 4x rise over the minimum (1) comes at lr = 0.75."""
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    y = torch.tensor([[1.0], [-1.0]] * 8)
    loader = DataLoader(TensorDataset(torch.ones(16, 1), y), batch_size=1, shuffle=False)
    return model, loader


def test_divergence_happens_above_the_theoretical_limit_and_state_is_restored():
    model, loader = _scalar_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.123)
    result = lr_range_test(model, loader, optimizer=opt, loss_fn=nn.MSELoss(), start_lr=1e-3, end_lr=100.0,
                           num_steps=200, progress=False)
    assert isinstance(result, LRRangeTest)
    assert result.diverged
    assert 0.75 < result.lrs[-1] < 3.0                # not before 1 + lr / (1 - lr) = 4, and soon after lr = 1
    assert result.min_loss_lr < 0.75
    assert result.suggested_lr <= result.min_loss_lr
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) < 200
    ratios = result.lrs[1:] / result.lrs[:-1]
    assert np.allclose(ratios, ratios[0])             # exponential sweep
    assert model.weight.item() == 0.0                 # model restored
    assert opt.param_groups[0]["lr"] == 0.123         # optimizer restored


def test_cycles_a_short_loader_and_restores_momentum_and_mode():
    torch.manual_seed(0)
    x = torch.randn(64, 5)
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=16)   # 4 batches, 30 steps
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2)).eval()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    model(x).sum().backward()
    opt.step()
    state_before = {k: v.clone() for k, v in model.state_dict().items()}
    buffers_before = [opt.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    result = lr_range_test(model, loader, optimizer=opt, start_lr=1e-4, end_lr=1e-1, num_steps=30, progress=False)
    assert len(result.losses) == 30 and not result.diverged
    assert result.smoothed[-1] < result.smoothed[0]            # lr up to 0.1 learns this easy task
    assert all(torch.equal(state_before[k], v) for k, v in model.state_dict().items())
    assert all(torch.equal(b, opt.state[p]["momentum_buffer"]) for b, p in zip(buffers_before, model.parameters()))
    assert not model.training


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(start_lr=0), ValueError, "start_lr"),
    (dict(start_lr=1.0, end_lr=0.1), ValueError, "end_lr"),
    (dict(num_steps=2), ValueError, "num_steps"),
    (dict(smoothing=0), ValueError, "smoothing"),
    (dict(diverge=0.5), ValueError, "diverge"),
    (dict(optimizer="sgd"), TypeError, "optimizer"),
    (dict(loss_fn=1), TypeError, "loss_fn"),
])
def test_bad_arguments(kwargs, error, match):
    model, loader = _scalar_problem()
    with pytest.raises(error, match=match):
        lr_range_test(model, loader, progress=False, **kwargs)


def test_bad_model_and_loader():
    model, loader = _scalar_problem()
    with pytest.raises(TypeError, match="model"):
        lr_range_test("model", loader)
    with pytest.raises(TypeError, match="loader"):
        lr_range_test(model, 3)
    with pytest.raises(ValueError, match="no batches"):
        lr_range_test(model, [], loss_fn=nn.MSELoss(), progress=False)
    assert model.weight.item() == 0.0
