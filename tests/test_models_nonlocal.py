"""Tests for course.models.nonlocal_block: identity at init, the attention it computes, insertion, bad input."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course.models import NonLocalBlock, add_nonlocal
from course.models.nonlocal_block import NONLOCAL_MODES

X = torch.randn(2, 8, 4, 5, 6, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("mode", NONLOCAL_MODES)
@pytest.mark.parametrize("training", [True, False])
def test_zero_init_block_is_exactly_the_identity(mode, training):
    torch.manual_seed(0)
    block = NonLocalBlock(8, mode=mode).train(training)
    out = block(X)
    assert out.shape == X.shape
    assert torch.equal(out, X)          # bit for bit, not approximately


@pytest.mark.parametrize("mode", NONLOCAL_MODES)
def test_without_zero_init_the_block_changes_its_input_and_trains(mode):
    torch.manual_seed(0)
    block = NonLocalBlock(8, mode=mode, zero_init=False)
    out = block(X)
    assert not torch.allclose(out, X)
    out.square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_zero_init_block_still_gets_gradients_at_its_output_layer():
    block = NonLocalBlock(8)
    block(X).square().sum().backward()
    assert block.out[1].weight.grad.abs().sum() > 0           # so training can move it away from zero


def test_embedded_gaussian_matches_a_hand_written_softmax_attention():
    torch.manual_seed(0)
    block = NonLocalBlock(8, inner_channels=3, zero_init=False).eval()
    n, c, t, h, w = X.shape
    q = block.theta(X).flatten(2).transpose(1, 2)                         # (N, L, C')
    k = block.phi(X).flatten(2).transpose(1, 2)
    v = block.g(X).flatten(2).transpose(1, 2)
    attn = torch.softmax(q @ k.transpose(1, 2), dim=-1)                   # (N, L, L)
    y = (attn @ v).transpose(1, 2).reshape(n, 3, t, h, w)
    expected = X + block.out(y)
    torch.testing.assert_close(block(X), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(block.attention(X), attn, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode,rows_sum_to_one", [("embedded_gaussian", True), ("gaussian", True),
                                                  ("dot_product", False)])
def test_attention_shape_and_normalisation(mode, rows_sum_to_one):
    a = NonLocalBlock(8, mode=mode).attention(X)
    length = 4 * 5 * 6
    assert a.shape == (2, length, length)
    sums = a.sum(-1)
    assert torch.allclose(sums, torch.ones_like(sums), atol=1e-5) == rows_sum_to_one


def test_attention_reaches_other_frames():
    a = NonLocalBlock(8, zero_init=False).attention(X).reshape(2, 4 * 5 * 6, 4, 5, 6)
    assert a[:, 0, 1:].sum() > 0                # the first position attends to frames 1..3, not only its own


def test_add_nonlocal_keeps_the_outputs_of_a_network():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv3d(3, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU(),
                          nn.Conv3d(8, 4, 1)).eval()
    x = torch.randn(2, 3, 4, 6, 6)
    before = model(x)
    add_nonlocal(model, ["1"])
    assert isinstance(model[1][1], NonLocalBlock) and model[1][1].channels == 8
    assert torch.equal(model.eval()(x), before)


@pytest.mark.parametrize("kwargs,match", [
    ({"channels": 0}, "channels"), ({"channels": 8, "inner_channels": 0}, "inner_channels"),
    ({"channels": 8, "mode": "cosine"}, "mode"), ({"channels": 8, "zero_init": 1}, "zero_init"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        NonLocalBlock(**kwargs)


@pytest.mark.parametrize("x,err,match", [
    (torch.zeros(2, 8, 4, 5), ValueError, "5 dims"), (torch.zeros(2, 7, 4, 5, 5), ValueError, "8 channels"),
    (torch.zeros(2, 8, 4, 5, 5, dtype=torch.int64), TypeError, "floating"), ([1, 2], TypeError, "Tensor"),
])
def test_bad_input(x, err, match):
    block = NonLocalBlock(8)
    with pytest.raises(err, match=match):
        block(x)
    with pytest.raises(err, match=match):
        block.attention(x)


def test_add_nonlocal_bad_names():
    model = nn.Sequential(nn.Conv3d(3, 8, 1))
    with pytest.raises(ValueError, match="no submodule"):
        add_nonlocal(model, ["layer9"])
    with pytest.raises(ValueError, match="after"):
        add_nonlocal(model, "0")
