"""course.viz.receptive_field and course.viz.motion (chapter 07): geometry against autograd and torch, bad input."""
from __future__ import annotations

from collections import OrderedDict

import matplotlib
import numpy as np
import pytest
import torch
from torch import nn

from course.viz.motion import kernel_response, moving_clip, plot_kernel, plot_motion_responses, random_pattern, \
    square_pattern
from course.viz.receptive_field import (Layer3d, gradient_receptive_field, layers_from_module, output_shapes,
                                        plot_receptive_field_growth, receptive_field_box, receptive_field_explorer,
                                        receptive_field_size, show_receptive_field)

matplotlib.use("Agg")


def _random_stack(rng: np.random.Generator) -> nn.Sequential:
    layers = []
    for i in range(int(rng.integers(1, 5))):
        kernel = tuple(int(k) for k in rng.integers(1, 4, size=3))
        if rng.random() < 0.6:
            padding = tuple(int(rng.integers(0, k)) for k in kernel)
            stride = tuple(int(s) for s in rng.integers(1, 3, size=3))
            layers += [(f"conv{i}", nn.Conv3d(1, 1, kernel, stride=stride, padding=padding)), (f"relu{i}", nn.ReLU())]
        else:
            padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
            layers.append((f"pool{i}", nn.MaxPool3d(kernel, padding=padding)))
    return nn.Sequential(OrderedDict(layers))


@pytest.mark.parametrize("seed", range(30))
def test_receptive_field_box_matches_autograd_on_random_stacks(seed):
    rng = np.random.default_rng(seed)
    size = (9, 11, 10)
    while True:  # draw stacks until one leaves something of the input
        net = _random_stack(rng)
        layers = layers_from_module(net)
        try:
            shapes = output_shapes(layers, size)
            break
        except ValueError:
            continue
    assert shapes[-1] == tuple(net(torch.zeros((1, 1) + size)).shape[2:])   # output_shapes agrees with torch
    voxel = tuple(int(rng.integers(0, n)) for n in shapes[-1])
    assert gradient_receptive_field(net, size, voxel) == receptive_field_box(layers, voxel, size)
    # the nominal (unclipped) box always has the size given by the closed formula
    start, stop = receptive_field_box(layers, voxel)
    assert tuple(b - a for a, b in zip(start, stop)) == receptive_field_size(layers)


def test_receptive_field_size_of_c3d_geometry():
    conv = Layer3d("conv", 3, 1, 1)
    layers = [conv, Layer3d("pool1", (1, 2, 2), (1, 2, 2)), conv, Layer3d("pool2", 2, 2)]
    # worked by hand: T 1+2=3, +0=3, +2*1=5, +1*1=6; H 1+2=3, +1=4, +2*2=8, +1*2=10
    assert receptive_field_size(layers) == (6, 10, 10)


def test_layers_from_module_skips_non_geometric_layers_and_defaults_pool_stride():
    net = nn.Sequential(nn.Conv3d(3, 4, (1, 3, 3), padding=(0, 1, 1)), nn.BatchNorm3d(4), nn.ReLU(),
                        nn.AvgPool3d(2), nn.MaxPool3d((1, 2, 2), stride=(1, 1, 1)))
    layers = layers_from_module(net)
    assert [(layer.kernel, layer.stride, layer.padding) for layer in layers] == [
        ((1, 3, 3), (1, 1, 1), (0, 1, 1)), ((2, 2, 2), (2, 2, 2), (0, 0, 0)), ((1, 2, 2), (1, 1, 1), (0, 0, 0))]


def test_gradient_receptive_field_leaves_the_model_untouched():
    net = nn.Sequential(nn.Conv3d(1, 2, 3), nn.MaxPool3d(2))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    gradient_receptive_field(net, (6, 6, 6), (0, 0, 0))
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert isinstance(net[1], nn.MaxPool3d) and net[0].weight.dtype == torch.float32


def test_plots_and_explorer_build():
    layers = layers_from_module(nn.Sequential(nn.Conv3d(1, 1, 3, padding=1), nn.MaxPool3d((1, 2, 2))))
    clip = moving_clip(square_pattern(16, 4), 1, 6, margin=3)
    assert plot_receptive_field_growth(layers) is not None
    fig = show_receptive_field(clip, layers, 1, (2, 3, 4))
    assert "sees frames 1..3" in fig._suptitle.get_text()
    widget = receptive_field_explorer(clip, layers)
    dropdown, sliders = widget.children[0], widget.children[1].children
    assert dropdown.value == 1 and [s.max for s in sliders] == [n - 1 for n in output_shapes(layers, clip.shape)[1]]
    dropdown.value = 0
    assert [s.max for s in sliders] == [n - 1 for n in clip.shape]


@pytest.mark.parametrize("call, error, match", [
    (lambda: Layer3d("c", 0), ValueError, r"Layer3d\('c'\)\.kernel: expected positive"),
    (lambda: Layer3d("c", 3, (1, 2)), TypeError, r"Layer3d\('c'\)\.stride"),
    (lambda: Layer3d("c", 3, 1, -1), ValueError, r"Layer3d\('c'\)\.padding"),
    (lambda: layers_from_module("net"), TypeError, r"layers_from_module\(module\): expected a torch nn.Module"),
    (lambda: layers_from_module(nn.Sequential(nn.ReLU())), ValueError, r"layers_from_module\(module\): found no"),
    (lambda: layers_from_module(nn.Conv3d(1, 1, 3, dilation=2)), ValueError, r"dilation"),
    (lambda: receptive_field_size([]), TypeError, r"layers: expected a non-empty list of Layer3d"),
    (lambda: receptive_field_box([Layer3d("c", 3)], (0, 0)), TypeError, r"receptive_field_box\(voxel\)"),
    (lambda: output_shapes([Layer3d("c", 5)], (4, 8, 8)), ValueError, r"output_shapes\(input_shape\): layer 'c'"),
    (lambda: receptive_field_box([Layer3d("c", 3)], (0, 0, 6), (4, 8, 8)), ValueError,
     r"receptive_field_box\(voxel\): \(0, 0, 6\) is outside"),
    (lambda: show_receptive_field(np.zeros((4, 8)), [Layer3d("c", 3)], 0, (0, 0, 0)), ValueError,
     r"show_receptive_field\(clip\)"),
    (lambda: show_receptive_field(np.zeros((4, 8, 8)), [Layer3d("c", 3)], 1, (0, 0, 0)), ValueError,
     r"show_receptive_field\(layer_index\)"),
    (lambda: show_receptive_field(np.zeros((4, 8, 8)), [Layer3d("c", 3)], 0, (2, 0, 0)), ValueError,
     r"show_receptive_field\(voxel\): expected an index inside"),
    (lambda: gradient_receptive_field(None, (4, 4, 4), (0, 0, 0)), TypeError, r"gradient_receptive_field\(module\)"),
])
def test_receptive_field_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------------------------------------------------------------
# course.viz.motion
# ---------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("velocity", [-3, -2, -1, 1, 2, 3])
@pytest.mark.parametrize("frames", [1, 5, 8])
def test_moving_clip_moves_by_velocity_and_reverses_exactly(velocity, frames):
    pattern = random_pattern(12, seed=abs(velocity))
    clip = moving_clip(pattern, velocity, frames)
    assert np.allclose(clip.sum(axis=(1, 2)), pattern.sum())          # the pattern never leaves the canvas
    cols = np.arange(clip.shape[2])
    centre = [(frame.sum(axis=0) * cols).sum() / frame.sum() for frame in clip]
    assert np.allclose(np.diff(centre), velocity)
    assert np.array_equal(moving_clip(pattern, -velocity, frames), clip[::-1])


def test_lecture_motion_kernel_is_direction_selective_and_torch_agrees():
    tx = np.array([[0., -1., -1.], [1., 2., 1.], [-1., -1., 0.]])
    kernel = np.repeat(tx[:, None, :], 3, axis=1)
    for seed in range(5):
        pattern = random_pattern(14, seed=seed)
        right = kernel_response(moving_clip(pattern, 1, 6), kernel)
        expected = torch.relu(torch.nn.functional.conv3d(torch.from_numpy(moving_clip(pattern, 1, 6))[None, None],
                                                         torch.from_numpy(kernel)[None, None]))[0, 0].numpy()
        np.testing.assert_allclose(right, expected, atol=1e-12)
        assert right.max() > 0.1
        assert kernel_response(moving_clip(pattern, -1, 6), kernel).max() < 1e-12
        assert kernel_response(moving_clip(pattern, 0, 6), kernel).max() < 1e-12


def test_motion_plots_build():
    kernel = np.ones((3, 3, 3))
    assert plot_kernel(kernel) is not None
    assert plot_motion_responses({"a": moving_clip(square_pattern(8, 3), 1, 4)}, kernel, frames=2) is not None


@pytest.mark.parametrize("call, error, match", [
    (lambda: square_pattern(5, 6), ValueError, r"square_pattern\(size=5, side=6\)"),
    (lambda: random_pattern(2), ValueError, r"random_pattern\(size=2\)"),
    (lambda: moving_clip(np.zeros(5), 1), ValueError, r"moving_clip\(pattern\): expected a 2-D"),
    (lambda: moving_clip(np.zeros((4, 4)), 1.5), TypeError, r"moving_clip\(velocity\): expected an int"),
    (lambda: moving_clip(np.zeros((4, 4)), 1, 0), ValueError, r"moving_clip\(num_frames\)"),
    (lambda: moving_clip(np.zeros((4, 4)), 2, 5, margin=1), ValueError, r"moving_clip\(margin\): expected an int >= 4"),
    (lambda: kernel_response(np.zeros((4, 4)), np.ones((3, 3, 3))), ValueError, r"kernel_response\(clip\)"),
    (lambda: kernel_response(np.zeros((4, 4, 4)), np.ones((3, 3))), ValueError, r"kernel_response\(kernel\)"),
    (lambda: plot_kernel(np.ones((3, 3))), ValueError, r"plot_kernel\(kernel\)"),
    (lambda: plot_motion_responses({}, np.ones((3, 3, 3))), TypeError, r"plot_motion_responses\(clips\)"),
])
def test_motion_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()
