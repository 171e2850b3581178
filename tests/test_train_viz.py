"""course.viz.training: the chapter 04 plots draw what they are given and reject bad input."""
from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from course.train import History, lr_trace, warmup_cosine
from course.viz.training import compare_histories, plot_lr_schedules, show_mistakes

matplotlib.use("Agg")


def history(values):
    h = History()
    for v in values:
        h.append({"train_loss": v, "train_acc": 1 - v, "val_loss": v + 0.1, "val_acc": 0.9 - v, "lr": 0.1,
                  "seconds": 1.0})
    return h


def test_plot_lr_schedules_draws_each_schedule():
    lrs = lr_trace(lambda opt: warmup_cosine(opt, 3, 20), 20, base_lr=0.1)
    ax = plot_lr_schedules({"cosine": lrs, "constant": [0.1] * 20})
    assert [line.get_label() for line in ax.lines] == ["cosine", "constant"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), lrs)


def test_compare_histories_one_panel_per_metric():
    fig = compare_histories({"a": history([0.5, 0.3]), "b": history([0.6, 0.2, 0.1])}, ("train_loss", "val_acc", "lr"))
    assert len(fig.axes) == 3
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 2]
    np.testing.assert_allclose(fig.axes[1].lines[1].get_ydata(), [0.3, 0.7, 0.8])
    styled = compare_histories({"a": history([0.5])}, "lr", styles={"a": {"color": "red", "ls": "--"}})
    assert styled.axes[0].lines[0].get_linestyle() == "--" and styled.axes[0].lines[0].get_color() == "red"


def test_show_mistakes_shows_only_wrong_predictions(capsys):
    images = np.arange(5 * 8 * 8, dtype=float).reshape(5, 1, 8, 8)
    labels = np.array([0, 1, 2, 3, 4])
    preds = np.array([0, 2, 2, 1, 4])
    fig = show_mistakes(images, preds, labels, class_names=list("abcde"))
    assert [ax.get_title() for ax in fig.axes] == ["b → c", "d → b"]
    assert show_mistakes(images, labels, labels) is None
    assert "no mistakes" in capsys.readouterr().out


@pytest.mark.parametrize("call, match", [
    (lambda: plot_lr_schedules({}), "schedules"),
    (lambda: plot_lr_schedules({"x": []}), "schedules\\['x'\\]"),
    (lambda: compare_histories([]), "histories"),
    (lambda: compare_histories({"a": history([0.1])}, styles={"a": "red"}), "styles"),
    (lambda: show_mistakes(np.zeros((2, 3)), np.zeros(2), np.zeros(2)), "images"),
    (lambda: show_mistakes(np.zeros((2, 4, 4)), np.zeros(3), np.zeros(2)), "same length"),
])
def test_viz_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
