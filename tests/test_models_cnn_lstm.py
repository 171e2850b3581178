"""Tests for course.models.cnn_lstm."""
from __future__ import annotations

import pytest
import torch

from course.models import CNNLSTM, count_parameters

X = torch.rand(2, 3, 8, 32, 32)


@pytest.mark.parametrize("head", ["last", "mean"])
def test_shapes_and_backward(head):
    m = CNNLSTM(5, head=head, hidden_size=32)
    out = m(X)
    assert out.shape == (2, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    assert m.frame_features(X).shape == (2, 8, m.encoder.out_features)


def test_order_matters():
    torch.manual_seed(0)
    m = CNNLSTM(5).eval()
    with torch.no_grad():
        assert not torch.allclose(m(X), m(X.flip(2)), atol=1e-5)


def test_last_state_head_depends_on_every_frame_but_is_causal():
    torch.manual_seed(0)
    m = CNNLSTM(5, head="last").eval()
    x2 = X.clone()
    x2[:, :, 0] += 1.0
    with torch.no_grad():
        assert not torch.allclose(m(X), m(x2))
        states_a, _ = m.lstm(m.frame_features(X))
        x3 = X.clone()
        x3[:, :, -1] += 1.0
        states_b, _ = m.lstm(m.frame_features(x3))
    torch.testing.assert_close(states_a[:, :-1], states_b[:, :-1])  # the future does not change the past


def test_resnet18_encoder_no_download_and_grayscale():
    m = CNNLSTM(3, encoder="resnet18", in_channels=1, hidden_size=16)
    assert m.encoder.out_features == 512
    assert m(torch.rand(1, 1, 4, 32, 32)).shape == (1, 3)
    assert count_parameters(m) > 11_000_000


@pytest.mark.parametrize("kwargs, match", [
    ({"encoder": "vgg"}, "encoder"), ({"head": "max"}, "head"), ({"hidden_size": 0}, "hidden_size"),
    ({"dropout": -0.1}, "dropout"), ({"num_layers": 0}, "num_layers"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CNNLSTM(5, **kwargs)


def test_bad_input():
    with pytest.raises(ValueError, match="channels"):
        CNNLSTM(5)(torch.rand(2, 1, 8, 32, 32))


def test_frame_encoder_keeps_where_things_are_only_with_a_spatial_grid():
    from course.models import FrameEncoder

    torch.manual_seed(0)
    left = torch.zeros(1, 3, 32, 32)
    left[..., 8:14, 2:8] = 1.0
    right = left.flip(-1)                            # same content, mirrored position
    pooled = FrameEncoder(3, (8, 8)).eval()
    gridded = FrameEncoder(3, (8, 8), spatial=4, out_features=16).eval()
    with torch.no_grad():
        assert gridded(left).shape == (1, 16) and pooled(left).shape == (1, 8)
        assert not torch.allclose(gridded(left), gridded(right), atol=1e-4)
    with pytest.raises(ValueError, match="out_features"):
        FrameEncoder(3, (8,), out_features=4)
