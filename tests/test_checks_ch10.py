"""Chapter 10 checks (right answers pass, typical mistakes fail, nothing crashes) and course.viz.residual."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from course.checks import ch10_residual_3d as check  # noqa: E402
from course.data import MovingShapes  # noqa: E402
from course.models import r3d_small  # noqa: E402
from course.viz.residual import (plot_edge_effect, plot_gradient_norms, plot_runs, shape_frames,  # noqa: E402
                                 weight_gradient_norms)


def _edge_ratios(conv2d, image, num_frames):
    w3d = conv2d.weight.detach().unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3
    clip = image.unsqueeze(2).repeat(1, 1, num_frames, 1, 1)
    with torch.no_grad():
        out3d, out2d = F.conv3d(clip, w3d, padding=(1, *conv2d.padding)), conv2d(image)
    return np.array([float((out3d[:, :, t] * out2d).sum() / (out2d ** 2).sum()) for t in range(num_frames)])


def _centre_inflate(w, t, init):
    if init == "mean":
        return w.unsqueeze(2).repeat(1, 1, t, 1, 1) / t
    out = torch.zeros(*w.shape[:2], t, *w.shape[2:])
    out[:, :, t // 2] = w
    return out


RIGHT = {
    "midplanes": lambda i, o: (i * o * 27) // (i * 9 + 3 * o),
    "factorised_param_counts": lambda i, o, m: (i * o * 27, i * m * 9 + m * o * 3),
    "residual_forward": lambda b, x: b.relu(b.residual(x) + (x if b.downsample is None else b.downsample(x))),
    "inflate_weight": _centre_inflate,
    "zero_padding_edge_ratios": _edge_ratios,
}
WRONG = {
    "midplanes": lambda i, o: i * o * 27 / (i * 9 + 3 * o),                              # a float
    "factorised_param_counts": lambda i, o, m: (i * o * 27, i * m * 9 + m * o * 9),      # 3x3 temporal
    "residual_forward": lambda b, x: b.relu(b.residual(x)),                              # no shortcut
    "inflate_weight": lambda w, t, init: w.unsqueeze(2).repeat(1, 1, t, 1, 1),           # not divided by t
    "zero_padding_edge_ratios": lambda c, i, n: np.ones(n),                              # the replicate answer
}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answers_pass_and_mistakes_fail(name, monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)
    assert getattr(check, name)(RIGHT[name]).passed
    assert not getattr(check, name)(WRONG[name]).passed

    def unfinished(*args):
        raise NotImplementedError

    result = getattr(check, name)(unfinished)
    assert not result.passed and result.not_implemented


def test_weight_gradient_norms_and_plots():
    torch.manual_seed(0)
    model = r3d_small(10)
    norms = weight_gradient_norms(model, torch.randn(2, 3, 4, 16, 16), torch.tensor([0, 1]))
    assert norms.shape == (sum(isinstance(m, torch.nn.Conv3d) for m in model.modules()),) and (norms > 0).all()
    assert all(p.grad is None for p in model.parameters())
    assert plot_gradient_norms({"a": norms}).get_xlabel()
    assert plot_runs({"a": [0.1, 0.5]}, ylabel="acc", chance=0.1).get_ylabel() == "acc"
    assert plot_edge_effect({"zeros": [2 / 3, 1, 2 / 3]}).get_legend() is not None


def test_shape_frames_labels_the_moving_shape():
    dataset = MovingShapes("train", num_clips=12)
    frames, names = shape_frames(dataset, frames_per_clip=2)
    x, y = frames.tensors
    assert x.shape == (24, 3, 32, 32) and y.shape == (24,)
    assert [names[int(label)] for label in y[::2]] == [dataset.params(i)["shape"] for i in range(12)]


def test_viz_bad_input():
    with pytest.raises(ValueError, match=r"weight_gradient_norms\(clips\)"):
        weight_gradient_norms(r3d_small(2), torch.randn(2, 3, 16, 16), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"weight_gradient_norms\(labels\)"):
        weight_gradient_norms(r3d_small(2), torch.randn(2, 3, 4, 16, 16), torch.tensor([0]))
    with pytest.raises(ValueError, match=r"plot_runs\(runs\)"):
        plot_runs({}, ylabel="acc")
    with pytest.raises(ValueError, match=r"plot_gradient_norms\(norms\)\['a'\]"):
        plot_gradient_norms({"a": []})
    with pytest.raises(TypeError, match=r"shape_frames\(dataset\)"):
        shape_frames([1, 2])
    with pytest.raises(ValueError, match=r"shape_frames\(frames_per_clip\)"):
        shape_frames(MovingShapes("train", num_clips=2), frames_per_clip=0)
