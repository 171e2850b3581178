"""Tests for chapter 11's figures and widget helpers: the right attention row, labelled figures, bad input."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course.models import NonLocalBlock  # noqa: E402
from course.viz.nonlocal_attention import plot_query_attention, query_attention  # noqa: E402
from course.viz.pathways import plot_architecture_tradeoff, plot_frames_and_differences  # noqa: E402


def test_query_attention_picks_the_row_of_the_query():
    a = np.arange(24 * 24, dtype=float).reshape(24, 24)
    w = query_attention(a, (1, 2, 0), (2, 3, 4))
    assert w.shape == (2, 3, 4)
    assert np.array_equal(w.ravel(), a[1 * 12 + 2 * 4 + 0])


def test_query_attention_of_a_block_sums_to_one():
    block = NonLocalBlock(3, mode="gaussian")
    feats = torch.rand(1, 3, 4, 5, 5)
    w = query_attention(block.attention(feats), (3, 4, 4), (4, 5, 5))
    assert w.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("args,match", [
    ((np.zeros((5, 5)), (0, 0, 0), (2, 2, 2)), "attention"),
    ((np.zeros((8, 8)), (0, 0, 2), (2, 2, 2)), "query"),
    ((np.zeros((8, 8)), (0, 0), (2, 2, 2)), "query"),
])
def test_query_attention_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        query_attention(*args)


def test_attention_figure_is_labelled():
    clip = torch.rand(3, 8, 16, 16)
    w = np.random.default_rng(0).random((4, 8, 8))
    fig = plot_query_attention(clip, w / w.sum(), (1, 2, 3), title="t")
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles[0].startswith("frame 0") and titles[1].startswith("frame 2")
    assert any(ax.get_legend() is not None for ax in fig.axes)
    with pytest.raises(ValueError, match="multiple"):
        plot_query_attention(torch.rand(3, 7, 16, 16), w, (0, 0, 0))
    with pytest.raises(ValueError, match="clip"):
        plot_query_attention(torch.rand(8, 16, 16), w, (0, 0, 0))


def test_differences_and_tradeoff_figures():
    fig = plot_frames_and_differences(torch.rand(3, 16, 16, 16), frames=(0, 5, 10, 15))   # 15 has no next frame
    assert fig.axes[0].get_ylabel() == "appearance" and fig.axes[3].get_ylabel() == "motion"
    assert [ax.get_title() for ax in fig.axes[3:6]] == ["frame 1 - frame 0", "frame 6 - frame 5", "frame 11 - frame 10"]
    record = {"runs": [{"model": "a", "chapter": "10", "parameters": 10, "mflops_per_clip": 5.0,
                        "within_pair_acc": 0.9},
                       {"model": "b", "chapter": "11", "parameters": 20, "mflops_per_clip": 50.0,
                        "within_pair_acc": 0.6}]}
    ax = plot_architecture_tradeoff(record).axes[0]
    assert "MFLOPs" in ax.get_xlabel() and ax.get_legend() is not None
    with pytest.raises(ValueError, match="runs"):
        plot_architecture_tradeoff({"runs": []})
    with pytest.raises(ValueError, match="clip"):
        plot_frames_and_differences(torch.rand(3, 1, 8, 8))
