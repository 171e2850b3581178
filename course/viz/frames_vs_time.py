"""Chapter 06: telling a class from its time-reversed twin — per-pair confusion matrices and within-pair accuracy."""
from __future__ import annotations

import numpy as np

# The metrics live with the other metrics in course.train.metrics; they stay importable from here.
from ..train.metrics import pair_accuracy, pair_confusions, within_pair_accuracy

__all__ = ["pair_accuracy", "pair_confusions", "plot_pair_confusions", "within_pair_accuracy"]


def plot_pair_confusions(preds, labels, classes, pairs, *, title: str = "", axes=None):
    """One small 2x2 confusion matrix per pair, with the within-pair accuracy of each. Returns the figure."""
    import matplotlib.pyplot as plt

    conf = pair_confusions(preds, labels, pairs)
    if axes is None:
        fig, axes = plt.subplots(1, len(pairs), figsize=(2.3 * len(pairs), 3.0), layout="constrained")
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    for ax, (i, j), m in zip(axes, pairs, conf):
        ax.imshow(m, cmap="Blues", vmin=0, vmax=max(1, m.sum(axis=1).max()))
        for r in range(2):
            for c in range(2):
                ax.text(c, r, str(m[r, c]), ha="center", va="center", fontsize=9,
                        color="white" if m[r, c] > m.sum(axis=1).max() / 2 else "black")
        names = [classes[i], classes[j]]
        ax.set_xticks([0, 1], names, rotation=30, ha="right", fontsize=8)
        ax.set_yticks([0, 1], names, fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        acc = np.trace(m) / m.sum() if m.sum() else float("nan")
        ax.set_title(f"{acc:.0%} within pair", fontsize=8)
    axes[0].set_ylabel("true", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    return fig
