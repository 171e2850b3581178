"""Tests for course.models.frame_baselines: shapes, and which models are blind to frame order."""
from __future__ import annotations

import pytest
import torch

from course.models import EarlyFusion, LateFusion, SingleFrameCNN, SlowFusion

X = torch.rand(3, 3, 16, 32, 32)
REVERSED = X.flip(2)


def _models():
    return {
        "single_avg": SingleFrameCNN(10, frame="average"), "single_random": SingleFrameCNN(10),
        "late_mean": LateFusion(10), "late_max": LateFusion(10, pool="max"),
        "early": EarlyFusion(10, num_frames=16), "slow": SlowFusion(10),
    }


@pytest.mark.parametrize("name", list(_models()))
def test_output_shape_and_backward(name):
    torch.manual_seed(0)
    m = _models()[name].train()
    out = m(X)
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("name", ["single_avg", "single_random", "late_mean", "late_max"])
def test_order_blind_models_cannot_tell_a_clip_from_its_reverse(name):
    torch.manual_seed(0)
    m = _models()[name].eval()
    with torch.no_grad():
        torch.testing.assert_close(m(X), m(REVERSED), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["early", "slow"])
def test_order_aware_models_can(name):
    torch.manual_seed(0)
    m = _models()[name].eval()
    with torch.no_grad():
        assert not torch.allclose(m(X), m(REVERSED), atol=1e-4)


def test_single_frame_modes():
    torch.manual_seed(0)
    m = SingleFrameCNN(4, frame="middle").eval()
    with torch.no_grad():
        a = m(X)
        b = m.head(m.encoder(X[:, :, 8]))
        torch.testing.assert_close(a, b)
        m.frame = 0
        torch.testing.assert_close(m(X), m.head(m.encoder(X[:, :, 0])))
        assert m.frame_logits(X).shape == (3, 16, 4)
        m.frame = 99
        with pytest.raises(ValueError, match="frame"):
            m(X)


def test_slow_fusion_merges_time_gradually():
    m = SlowFusion(10)
    t = 16
    sizes = []
    x = X
    for stage in m.features:
        x = stage(x)
        sizes.append(x.shape[2])
    assert sizes == sorted(sizes, reverse=True) and sizes[0] < t and sizes[-1] == 1


@pytest.mark.parametrize("make, match", [
    (lambda: SingleFrameCNN(10, frame="first"), "frame"),
    (lambda: LateFusion(10, pool="sum"), "pool"),
    (lambda: EarlyFusion(10, num_frames=0), "num_frames"),
    (lambda: SlowFusion(10, temporal_kernels=(3, 3)), "one entry per stage"),
    (lambda: SingleFrameCNN(0), "num_classes"),
    (lambda: LateFusion(10, widths=()), "widths"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="T=16"):
        EarlyFusion(10, num_frames=16)(torch.rand(1, 3, 8, 32, 32))
    with pytest.raises(ValueError, match="5 dims"):
        LateFusion(10)(torch.rand(3, 16, 32, 32))
    with pytest.raises(TypeError, match="torch.Tensor"):
        SlowFusion(10)(X.numpy())
