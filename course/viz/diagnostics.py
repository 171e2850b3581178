"""Chapter 13 plots: LR range test, summary table with error bars, random search, weight histograms, reliability.

Every function draws on ``ax`` (a new figure when None) and returns the axis.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

__all__ = ["plot_lr_range_test", "plot_runs_summary", "plot_random_search", "plot_weight_histograms",
           "plot_reliability_diagram", "plot_curves"]


def _ax(ax, size=(5.5, 3.2)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def plot_lr_range_test(result, ax=None):
    """Raw and smoothed loss against the learning rate (log axis) of an :class:`~course.train.LRRangeTest`, with
    the suggested and minimum-loss learning rates marked."""
    ax = _ax(ax)
    ax.plot(result.lrs, result.losses, color="0.7", lw=1, label="loss per step")
    ax.plot(result.lrs, result.smoothed, color="tab:blue", lw=2, label="smoothed")
    ax.axvline(result.suggested_lr, color="tab:green", ls="--", label=f"steepest: {result.suggested_lr:.1e}")
    ax.axvline(result.min_loss_lr, color="tab:red", ls=":", label=f"minimum: {result.min_loss_lr:.1e}")
    ax.set_xscale("log")
    top = np.nanpercentile(result.smoothed, 95) * 1.5
    ax.set_ylim(0, top if np.isfinite(top) and top > 0 else None)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("LR range test", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def plot_runs_summary(rows: Sequence[dict], keys: Sequence[str] = ("val_acc", "gap"), ax=None,
                      title: str = "mean over seeds, error bar = 1 std"):
    """Grouped horizontal bars of :func:`course.train.summarize_runs` rows, with the spread over seeds."""
    ax = _ax(ax, (6, 0.45 * len(rows) + 1.4))
    y = np.arange(len(rows))
    height = 0.8 / len(keys)
    for i, key in enumerate(keys):
        ax.barh(y + (i - (len(keys) - 1) / 2) * height, [r[f"{key}_mean"] for r in rows], height,
                xerr=[r[f"{key}_std"] for r in rows], capsize=3, label=key)
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="0.4", lw=0.8)
    ax.set_xlabel("accuracy / gap")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: bars reach any corner
    return ax


def plot_random_search(lrs, weight_decays, scores, ax=None, *, score_name: str = "validation accuracy"):
    """Scatter of a random search on log-log axes, coloured by score; the best run is circled."""
    import matplotlib.pyplot as plt

    lrs, wds, scores = (np.asarray(v, dtype=float) for v in (lrs, weight_decays, scores))
    if not (lrs.shape == wds.shape == scores.shape) or lrs.ndim != 1:
        raise ValueError("plot_random_search: lrs, weight_decays and scores must be 1-D of the same length")
    ax = _ax(ax, (5, 3.6))
    points = ax.scatter(lrs, wds, c=scores, cmap="viridis", s=60, edgecolors="k", linewidths=0.5)
    best = int(np.argmax(scores))
    ax.scatter(lrs[best], wds[best], s=220, facecolors="none", edgecolors="tab:red", linewidths=2, label="best")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("weight decay")
    ax.set_title(f"random search: {len(lrs)} runs", fontsize=10)
    plt.colorbar(points, ax=ax, label=score_name)
    ax.legend(fontsize=8)
    return ax


def plot_weight_histograms(weights: Mapping[str, np.ndarray], ax=None, *, bins: int = 80):
    """Histograms (log count) of flattened weights, one per entry of ``weights`` ({name: array})."""
    ax = _ax(ax)
    arrays = {k: np.asarray(v, dtype=float).ravel() for k, v in weights.items()}
    top = max(np.abs(a).max() for a in arrays.values())
    edges = np.linspace(-top, top, bins + 1)
    for name, a in arrays.items():
        ax.hist(a, bins=edges, histtype="step", lw=1.5, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("weight value")
    ax.set_ylabel("count (log)")
    ax.set_title("weights of the first layer", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def plot_reliability_diagram(bins_by_name: Mapping, ax=None):
    """Accuracy against confidence per bin for each :class:`~course.train.ReliabilityBins` in ``bins_by_name``
    ({name: bins}), the diagonal of perfect calibration, and each curve's ECE in the legend."""
    ax = _ax(ax, (4.2, 4))
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="perfect calibration")
    for name, b in bins_by_name.items():
        used = b.counts > 0
        ax.plot(b.confidence[used], b.accuracy[used], marker="o", label=f"{name} (ECE {b.ece:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence (top probability)")
    ax.set_ylabel("accuracy")
    ax.set_title("reliability diagram", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def plot_curves(histories: Mapping[str, Sequence[dict]], key: str = "val_acc", ax=None, *, title: str | None = None):
    """``key`` per epoch for each run in ``histories`` ({name: list of per-epoch dicts with "epoch" and key})."""
    ax = _ax(ax)
    for name, history in histories.items():
        ax.plot([r["epoch"] for r in history], [r[key] for r in history], label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(key)
    ax.set_title(title or key, fontsize=10)
    ax.legend(fontsize=8)
    return ax
