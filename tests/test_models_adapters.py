"""Tests for course.models.adapters: identity at insertion, freezing (weights and BN statistics), bad input."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course.models import Adapter, FrozenBatchNorm, add_adapters, count_parameters, linear_probe
from course.models.video_resnet import r3d_small
from course.models.adapters import adapters_of, out_channels

X = torch.randn(4, 3, 8, 16, 16, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("temporal_kernel", [1, 3])
def test_adapter_is_exactly_the_identity_when_inserted(temporal_kernel):
    a = Adapter(16, 4, temporal_kernel=temporal_kernel)
    x = torch.randn(2, 16, 4, 3, 3)
    assert torch.equal(a(x), x)
    assert a.hidden_channels == 4


def test_adapter_learns_after_one_step():
    a = Adapter(8, 2)
    x = torch.randn(2, 8, 4, 3, 3)
    (a(x) - 1).square().mean().backward()
    assert a.up.weight.grad.abs().sum() > 0
    torch.optim.SGD(a.parameters(), lr=0.1).step()
    assert not torch.equal(a(x), x)


def _pretrained_like(num_classes=5):
    torch.manual_seed(0)
    model = r3d_small(num_classes)
    model.train()
    with torch.no_grad():                        # move the BN statistics away from their defaults
        model(X)
    return model.eval()


def test_add_adapters_changes_nothing_at_first_and_freezes_the_backbone():
    model = _pretrained_like()
    before = model(X)
    backbone = {k: v.clone() for k, v in model.state_dict().items()}
    add_adapters(model, reduction=4)
    adapters = adapters_of(model)
    assert len(adapters) == 4                                  # one after each block of layer1..layer4
    assert [a.channels for a in adapters] == list(model.widths)
    model.eval()
    assert torch.equal(model(X), before)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".1." in n or n.startswith("fc.") for n in trainable), trainable
    assert {"fc.weight", "fc.bias"} <= trainable
    assert count_parameters(model, trainable_only=True) < 0.1 * count_parameters(model)

    model.train()                                              # training mode: frozen BN statistics must not move
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), torch.tensor([0, 1, 2, 3])).backward()
        opt.step()
    after = model.state_dict()
    for name, value in backbone.items():
        if name.startswith("fc.") or name.endswith("num_batches_tracked"):
            continue
        key = name.replace(".0.", ".0.0.", 1) if name.startswith("layer") else name   # block -> Sequential(block, adapter)
        assert torch.equal(after[key], value), name
    assert not torch.equal(after["fc.weight"], backbone["fc.weight"])
    assert any(a.up.weight.abs().sum() > 0 for a in adapters)


def test_frozen_batchnorm_equals_eval_batchnorm():
    bn = nn.BatchNorm3d(6).train()
    bn(torch.randn(4, 6, 3, 4, 4) * 3 + 1)
    x = torch.randn(2, 6, 3, 4, 4)
    frozen = FrozenBatchNorm.from_batchnorm(bn).train()
    assert torch.equal(frozen(x), bn.eval()(x))
    assert list(frozen.parameters()) == []


def test_linear_probe_trains_only_the_head():
    model = _pretrained_like()
    linear_probe(model, head="fc")
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"fc.weight", "fc.bias"}


def test_out_channels_reads_the_last_norm_or_conv():
    assert out_channels(nn.Sequential(nn.Conv3d(3, 5, 1), nn.BatchNorm3d(5), nn.Conv3d(5, 7, 1))) == 5
    assert out_channels(nn.Sequential(nn.Conv3d(3, 7, 1))) == 7
    with pytest.raises(ValueError, match="no BatchNorm or convolution"):
        out_channels(nn.ReLU())


@pytest.mark.parametrize("kwargs,match", [
    ({"channels": 0}, "channels"), ({"channels": 8, "reduction": 0}, "reduction"),
    ({"channels": 8, "temporal_kernel": 2}, "odd"),
])
def test_adapter_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adapter(**kwargs)


def test_adapter_bad_input():
    with pytest.raises(ValueError, match="8 channels"):
        Adapter(8)(torch.zeros(1, 4, 2, 2, 2))
    with pytest.raises(ValueError, match="5 dims"):
        Adapter(8)(torch.zeros(1, 8, 2, 2))


def test_add_adapters_bad_input():
    with pytest.raises(TypeError, match="nn.Module"):
        add_adapters("resnet")
    with pytest.raises(ValueError, match="no submodule"):
        add_adapters(r3d_small(3), after=["layer9"])
    with pytest.raises(ValueError, match="head"):
        add_adapters(r3d_small(3), head="classifier")
    with pytest.raises(ValueError, match="layer1..layer4"):
        add_adapters(nn.Sequential(nn.Conv3d(3, 4, 1)))
    with pytest.raises(ValueError, match="reduction"):
        add_adapters(r3d_small(3), reduction=0)
