"""Chapter 19: the figures of a capstone report.

- :func:`plot_training_curves`: training loss and validation video accuracy per epoch, side by side;
- :func:`plot_group_accuracy`: accuracy per group (person, scene) as bars beside the overall accuracy and its 95%
  interval — the fairness line of the report.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["plot_training_curves", "plot_group_accuracy"]


def plot_training_curves(train_loss: Sequence[float], val_curve: Sequence[float] = (), *, title: str = ""):
    """Training loss (epochs,) and, when given, validation accuracy (epochs,) per epoch. Returns the figure."""
    import matplotlib.pyplot as plt

    loss = np.asarray(train_loss, dtype=float)
    val = np.asarray(val_curve, dtype=float)
    if loss.ndim != 1 or loss.size == 0 or val.ndim != 1:
        raise ValueError(f"plot_training_curves: expected 1-D per-epoch sequences, got train_loss {loss.shape}, "
                         f"val_curve {val.shape}")
    fig, axes = plt.subplots(1, 2 if val.size else 1, figsize=(8.8 if val.size else 4.6, 2.9), layout="constrained",
                             squeeze=False)
    axes = axes[0]
    axes[0].plot(np.arange(1, loss.size + 1), loss, "o-", label="training loss")
    axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="training loss")
    axes[0].legend(fontsize=8)
    if val.size:
        axes[1].plot(np.arange(1, val.size + 1), val, "s-", color="tab:orange", label="validation videos")
        axes[1].set(xlabel="epoch", ylabel="video accuracy", title="validation accuracy", ylim=(-0.02, 1.02))
        axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_group_accuracy(per_group: Mapping[str, Mapping], overall: float, interval: tuple[float, float] | None = None,
                        *, title: str = "", ax=None):
    """Bars of ``per_group`` (``{group: {"n", "correct", "accuracy"}}``, from
    :func:`course.capstone.per_group_accuracy`), each labelled with correct/n, beside a line at the ``overall``
    accuracy and a band for its 95% ``interval``. Returns the axes."""
    import matplotlib.pyplot as plt

    if not isinstance(per_group, Mapping) or not per_group:
        raise ValueError("plot_group_accuracy(per_group): expected a non-empty {group: {n, correct, accuracy}}")
    names = list(per_group)
    acc = [float(per_group[g]["accuracy"]) for g in names]
    if ax is None:
        _, ax = plt.subplots(figsize=(max(4.6, 0.55 * len(names) + 2), 3.0), layout="constrained")
    bars = ax.bar(names, acc, color="tab:blue", label="accuracy of the group")
    for bar, g in zip(bars, names):
        ax.annotate(f"{per_group[g]['correct']}/{per_group[g]['n']}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                    ha="center", va="bottom", fontsize=8)
    ax.axhline(overall, color="black", lw=1.2, label=f"overall {overall:.1%}")
    if interval is not None:
        ax.axhspan(interval[0], interval[1], color="grey", alpha=0.25, label="overall 95% interval")
    ax.set(ylabel="video accuracy", xlabel="group", ylim=(0, 1.12), title=title or "accuracy per group")
    ax.tick_params(axis="x", labelsize=8, rotation=45 if len(names) > 6 else 0)
    ax.legend(fontsize=8, loc="lower right")
    return ax
