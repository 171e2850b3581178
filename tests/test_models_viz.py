"""Tests for the chapter 06/08 helpers in course.viz: filter movies and within-pair metrics."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course.viz.c3d import filter_frames, plot_clip_strip, plot_filter_frames  # noqa: E402
from course.viz.frames_vs_time import (pair_accuracy, pair_confusions, plot_pair_confusions,  # noqa: E402
                                       within_pair_accuracy)

PAIRS = [(0, 1), (2, 3)]


def test_filter_frames_layout_and_scaling():
    w = torch.zeros(2, 3, 3, 4, 5)
    w[0, 1, 2, 3, 4] = 2.0
    w[1, 0, 0, 0, 0] = -0.1
    out = filter_frames(w)
    assert out.shape == (2, 3, 4, 5, 3)
    assert out[0, 2, 3, 4, 1] == 1.0 and out[1, 0, 0, 0, 0] == 0.0
    assert np.all(out[0][out[0] != 1.0] == 0.5)
    assert np.all(filter_frames(np.zeros((1, 1, 2, 2, 2), np.float32)) == 0.5)


def test_filter_frames_bad_input():
    with pytest.raises(ValueError, match="5 dims"):
        filter_frames(np.zeros((3, 3, 3)))
    with pytest.raises(TypeError, match="floating"):
        filter_frames(np.zeros((1, 1, 1, 1, 1), dtype=np.int64))


def test_pair_metrics():
    labels = np.array([0, 0, 1, 1, 2, 3, 3, 2])
    preds = np.array([0, 1, 1, 0, 2, 3, 0, 1])
    conf = pair_confusions(preds, labels, PAIRS)
    np.testing.assert_array_equal(conf[0], [[1, 1], [1, 1]])
    np.testing.assert_array_equal(conf[1], [[1, 0], [0, 1]])
    assert within_pair_accuracy(preds, labels, PAIRS) == pytest.approx(4 / 6)
    assert pair_accuracy(preds, labels, PAIRS) == pytest.approx(6 / 8)


def test_pair_metrics_bad_input():
    with pytest.raises(ValueError, match="same length"):
        pair_confusions(np.array([0, 1]), np.array([0]), PAIRS)
    with pytest.raises(TypeError, match="integer"):
        within_pair_accuracy(np.array([0.5]), np.array([0]), PAIRS)


def test_plots_draw():
    fig = plot_filter_frames(torch.randn(4, 3, 3, 3, 3))
    assert len(fig.axes) == 12
    fig = plot_clip_strip(torch.rand(3, 8, 16, 16), title="clip")
    assert len(fig.axes) == 4
    fig = plot_pair_confusions(np.array([0, 1, 2, 3]), np.array([0, 0, 2, 3]), ["a", "b", "c", "d"], PAIRS)
    assert len(fig.axes) == 2
    with pytest.raises(ValueError, match="4 dims"):
        plot_clip_strip(torch.rand(8, 16, 16))
