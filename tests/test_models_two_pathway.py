"""Tests for course.models.two_pathway and feature_fusion: shapes, which parts see what, bad input."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course.models import MultiLevelFusion, SlowFast, TwoStream, count_parameters, frame_differences, video_resnet_trunk
from course.models.video_resnet import r3d_small

X = torch.rand(2, 3, 16, 32, 32, generator=torch.Generator().manual_seed(0))


def test_frame_differences():
    d = frame_differences(X)
    assert d.shape == (2, 3, 15, 32, 32)
    torch.testing.assert_close(d[:, :, 4], X[:, :, 5] - X[:, :, 4])
    still = X[:, :, :1].expand(-1, -1, 16, -1, -1)
    assert torch.count_nonzero(frame_differences(still)) == 0


@pytest.mark.parametrize("streams", [("appearance", "motion"), ("appearance",), ("motion",)])
def test_two_stream_shapes_and_backward(streams):
    torch.manual_seed(0)
    m = TwoStream(10, streams=streams)
    out = m(X)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert set(m.stream_features(X)) == set(streams)


def test_two_stream_parts_add_up():
    both, a, mo = TwoStream(10), TwoStream(10, streams=("appearance",)), TwoStream(10, streams=("motion",))
    heads = sum(count_parameters(m.head) for m in (both, a, mo))
    assert count_parameters(both) - count_parameters(both.head) == (count_parameters(a) + count_parameters(mo)
                                                                      - heads + count_parameters(both.head))


def test_appearance_stream_is_order_blind_and_motion_stream_is_not():
    torch.manual_seed(0)
    a, mo = TwoStream(10, streams=("appearance",)).eval(), TwoStream(10, streams=("motion",)).eval()
    with torch.no_grad():
        torch.testing.assert_close(a(X), a(X.flip(2)), rtol=1e-5, atol=1e-5)
        assert not torch.allclose(mo(X), mo(X.flip(2)), atol=1e-4)


@pytest.mark.parametrize("pathways", ["both", "slow", "fast"])
def test_slowfast_shapes_and_backward(pathways):
    torch.manual_seed(0)
    m = SlowFast(10, pathways=pathways)
    out = m(X)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert (m.laterals is not None) == (pathways == "both")


def test_slowfast_slow_pathway_sees_every_alpha_th_frame_only():
    torch.manual_seed(0)
    m = SlowFast(10, pathways="slow").eval()
    y = X.clone()
    y[:, :, 1::4] = 0.0                                         # frames the slow pathway skips
    with torch.no_grad():
        assert torch.equal(m(X), m(y))
        full = SlowFast(10).eval()
        assert not torch.equal(full(X), full(y))                # the fast pathway (and laterals) do see them


def test_slowfast_fast_pathway_is_the_thin_one():
    assert count_parameters(SlowFast(10, pathways="fast")) < count_parameters(SlowFast(10, pathways="slow")) / 5


def test_multilevel_fusion_concatenates_pooled_stages():
    torch.manual_seed(0)
    model = r3d_small(10)
    fused = MultiLevelFusion(video_resnet_trunk(model), 10, fuse=("layer2", "layer3", "layer4"))
    assert fused.feature_channels == dict(zip(("layer2", "layer3", "layer4"), model.widths[1:]))
    assert fused(X).shape == (2, 10)
    assert fused.fused_features(X).shape == (2, sum(model.widths[1:]))
    single = MultiLevelFusion(video_resnet_trunk(model), 10, fuse=("layer4",)).eval()
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(single.fused_features(X), model.features(X))
    early = MultiLevelFusion(video_resnet_trunk(model), 10, fuse=("layer1",))
    assert early.stages == ["stem", "layer1"]


@pytest.mark.parametrize("make,err,match", [
    (lambda: TwoStream(0), ValueError, "num_classes"), (lambda: TwoStream(10, num_frames=1), ValueError, "num_frames"),
    (lambda: TwoStream(10, streams=("flow",)), ValueError, "streams"),
    (lambda: TwoStream(10, streams="motion"), ValueError, "streams"),
    (lambda: SlowFast(10, alpha=0), ValueError, "alpha"), (lambda: SlowFast(10, pathways="medium"), ValueError,
                                                          "pathways"),
    (lambda: SlowFast(10, slow_widths=(8, 16), fast_widths=(2,)), ValueError, "one entry per stage"),
    (lambda: MultiLevelFusion(nn.Conv3d(3, 4, 1), 10, fuse=("0",)), TypeError, "nn.Sequential"),
    (lambda: MultiLevelFusion(nn.Sequential(nn.Conv3d(3, 4, 1)), 10, fuse=("layer9",)), ValueError, "fuse"),
    (lambda: video_resnet_trunk(nn.Conv3d(3, 4, 1)), ValueError, "VideoResNet"),
])
def test_bad_arguments(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_bad_input():
    with pytest.raises(ValueError, match="T=16"):
        TwoStream(10)(X[:, :, :8])
    with pytest.raises(ValueError, match="divisible"):
        SlowFast(10)(X[:, :, :10])
    with pytest.raises(ValueError, match="5 dims"):
        SlowFast(10)(X[0])
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_differences(X[:, :, :1])
    with pytest.raises(TypeError, match="floating"):
        TwoStream(10)(X.to(torch.uint8))
