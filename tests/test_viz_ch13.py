"""Chapter 13 plots and the explanation scrubber: they draw what they are given and reject mismatched input."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch

from course.train import LRRangeTest, reliability_bins
from course.viz.diagnostics import (plot_curves, plot_lr_range_test, plot_random_search, plot_reliability_diagram,
                                    plot_runs_summary, plot_weight_histograms)
from course.viz.explain import explanation_scrubber, plot_explanation_strip, plot_frame_importance

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_explanation_strip_and_importance():
    clip = torch.rand(3, 8, 16, 16)
    fig = plot_explanation_strip(clip, {"a": torch.rand(8, 16, 16), "b": torch.zeros(8, 16, 16)}, every=2)
    assert len(fig.axes) == 3 * 4
    ax = plot_frame_importance({"x": torch.rand(8)}, shade=(4, 8))
    assert ax.get_xlabel() == "frame" and len(ax.get_legend().get_texts()) == 2
    with pytest.raises(ValueError, match="maps"):
        plot_explanation_strip(clip, {"a": torch.rand(4, 16, 16)})
    with pytest.raises(ValueError, match="clip"):
        plot_explanation_strip(torch.rand(8, 16, 16), {"a": torch.rand(8, 16, 16)})
    with pytest.raises(ValueError, match="profiles"):
        plot_frame_importance({"x": torch.rand(2, 2)})


def test_scrubber_updates_the_image():
    clip = torch.rand(3, 4, 8, 8)
    box = explanation_scrubber(clip, {"m": torch.rand(4, 8, 8)}, {"p": torch.rand(4)}, title="t")
    first = box.image.value
    box.slider.value = 3
    assert box.image.value != first and box.slider.max == 3


def test_diagnostic_plots():
    result = LRRangeTest(lrs=np.logspace(-5, 0, 20), losses=np.linspace(2, 1, 20), smoothed=np.linspace(2, 1, 20),
                         suggested_lr=1e-3, min_loss_lr=1e-1, diverged=False)
    assert plot_lr_range_test(result).get_xscale() == "log"
    rows = [{"name": "a", "n": 2, "val_acc_mean": 0.8, "val_acc_std": 0.01, "gap_mean": 0.1, "gap_std": 0.02}]
    assert len(plot_runs_summary(rows).patches) == 2
    assert plot_random_search([1e-3, 1e-2], [1e-4, 1e-1], [0.5, 0.7]).get_yscale() == "log"
    with pytest.raises(ValueError, match="same length"):
        plot_random_search([1e-3], [1e-4, 1e-1], [0.5])
    plot_weight_histograms({"w": np.random.randn(100)})
    probs = torch.softmax(torch.randn(50, 3), 1)
    ax = plot_reliability_diagram({"m": reliability_bins(probs, torch.randint(0, 3, (50,)))})
    assert "ECE" in ax.get_legend().get_texts()[1].get_text()
    plot_curves({"r": [{"epoch": 1, "val_acc": 0.5}, {"epoch": 2, "val_acc": 0.6}]})
