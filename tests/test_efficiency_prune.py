"""course.efficiency.prune: unstructured zeros keep the shapes; channel pruning rebuilds thinner Conv3d layers."""
from __future__ import annotations

import pytest
import torch

from course.efficiency import filter_l1_norms, keep_channels, magnitude_prune, prune_channels, sparsity
from course.models import C3D, c3d_small


def _model(seed=0):
    torch.manual_seed(seed)
    model = c3d_small(num_classes=3, input_size=(16, 16, 16))
    for m in model.modules():                        # non-trivial BatchNorm statistics, as after training
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.1, 0.1)
    return model.eval()


def test_magnitude_pruning_zeroes_weights_without_changing_shapes():
    model = _model()
    pruned = magnitude_prune(model, 0.6)
    assert sparsity(model) == 0.0
    assert sparsity(pruned) == pytest.approx(0.6, abs=0.01)
    shapes = {name: p.shape for name, p in model.named_parameters()}
    assert {name: p.shape for name, p in pruned.named_parameters()} == shapes
    assert not any(name.endswith("_orig") for name, _ in pruned.named_parameters())   # prune.remove made it final


def test_filter_l1_norm_is_the_sum_of_absolute_weights_per_filter():
    conv = torch.nn.Conv3d(2, 3, 3)
    expected = torch.stack([conv.weight[o].abs().sum() for o in range(3)])
    assert torch.allclose(filter_l1_norms(conv), expected)
    with torch.no_grad():
        conv.weight[1] *= 0.01
    assert keep_channels(conv, 1 / 3).tolist() == [0, 2]


def test_removing_no_channel_rebuilds_the_same_function():
    model = _model()
    same = prune_channels(model, 0.0)
    x = torch.randn(2, 3, 16, 16, 16)
    with torch.inference_mode():
        assert torch.allclose(model(x), same.eval()(x), atol=1e-5)


def test_channel_pruning_builds_thinner_conv3d_layers():
    model = _model()
    thin = prune_channels(model, 0.5)
    assert isinstance(thin, C3D)
    widths = [m.out_channels for m in thin.modules() if isinstance(m, torch.nn.Conv3d)]
    assert widths == [4, 8, 16, 16, 32, 32, 32, 32]                  # half of 8-16-32-32-64-64-64-64
    assert sum(p.numel() for p in thin.parameters()) < 0.6 * sum(p.numel() for p in model.parameters())
    with torch.inference_mode():
        assert thin.eval()(torch.randn(2, 3, 16, 16, 16)).shape == (2, 3)


def test_removing_only_zero_filters_keeps_the_outputs():
    """Filters whose weights are zero are exactly the ones removed, and the output does not change (up to the BN
    shift, which we also zero so the channels are truly dead)."""
    model = _model()
    stages = [m for m in model.features.children() if hasattr(m, "conv")]
    with torch.no_grad():
        for stage in stages:
            dead = torch.arange(0, stage.conv.out_channels, 4)        # a quarter of the filters
            stage.conv.weight[dead] = 0
            stage.bn.bias[dead] = -10.0                                # ReLU(BN(0)) = 0: the channel is dead
            stage.bn.running_mean[dead] = 0
    thin = prune_channels(model, 0.25).eval()
    x = torch.randn(2, 3, 16, 16, 16)
    with torch.inference_mode():
        assert torch.allclose(model(x), thin(x), atol=1e-5)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match=r"magnitude_prune\(amount\)"):
        magnitude_prune(_model(), 1.0)
    with pytest.raises(TypeError, match=r"prune_channels\(model\)"):
        prune_channels(torch.nn.Linear(2, 2), 0.5)
    with pytest.raises(ValueError, match=r"prune_channels\(fraction_removed\)"):
        prune_channels(_model(), -0.1)
    with pytest.raises(ValueError, match="batch_norm=True"):
        prune_channels(c3d_small(batch_norm=False), 0.5)
    with pytest.raises(TypeError, match=r"filter_l1_norms\(conv\)"):
        filter_l1_norms(torch.nn.Conv2d(1, 1, 1))
