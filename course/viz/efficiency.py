"""Chapter 15: plots of latency, quantization sensitivity, pruning trade-offs and a drift monitor.

- :func:`plot_latency_runs`: every timed run of several variants, with their p50 and p99 marked;
- :func:`plot_sensitivity`: per layer, how much the logits move when only that layer runs in int8;
- :func:`plot_pruning_curve`: speed-up against test accuracy for each fraction of channels removed;
- :func:`plot_monitor`: a monitor statistic's window z-scores on clean and drifted clips, with the alarm threshold.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_latency_runs", "plot_sensitivity", "plot_pruning_curve", "plot_monitor"]


def plot_latency_runs(runs_ms: Mapping[str, Sequence[float]], *, title: str = "latency of every run (batch 1)"):
    """``runs_ms``: variant -> the milliseconds of each timed call, in order. Dots per run; dashed p50, dotted p99."""
    if not runs_ms:
        raise ValueError("plot_latency_runs(runs_ms): expected at least one variant")
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for k, (name, times) in enumerate(runs_ms.items()):
        times = np.asarray(times, dtype=float)
        colour = f"C{k}"
        ax.plot(np.arange(1, len(times) + 1), times, "o", ms=3, color=colour, label=name)
        p50, p99 = np.percentile(times, [50, 99])
        ax.axhline(p50, color=colour, ls="--", lw=1)
        ax.axhline(p99, color=colour, ls=":", lw=1)
    ax.set_xlabel("run (in the order timed)")
    ax.set_ylabel("milliseconds")
    ax.set_yscale("log")
    ax.set_title(f"{title}: dashed p50, dotted p99")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def plot_sensitivity(rows: Sequence[Mapping], *, title: str = "int8 one layer at a time"):
    """``rows``: dicts with ``layer`` and ``mean_abs_logit_error`` (and optionally ``acc``), in network order."""
    if not rows:
        raise ValueError("plot_sensitivity(rows): expected at least one layer")
    names = [r["layer"] for r in rows]
    errors = [r["mean_abs_logit_error"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.bar(names, errors, color="C0")
    for bar, r in zip(bars, rows):
        if "acc" in r:
            ax.annotate(f"{r['acc']:.0%}", (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xlabel("the only layer quantized to int8 (labels: test accuracy)")
    ax.set_ylabel("mean |logit change|")
    ax.set_title(title)
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    return fig


def plot_pruning_curve(rows: Sequence[Mapping], *, baseline_acc: float, title: str = "structured pruning"):
    """``rows``: dicts with ``fraction`` removed, ``speedup`` over float32, ``acc`` (after fine-tuning) and optionally
    ``acc_before_fine_tune``. ``baseline_acc``: the unpruned model's test accuracy."""
    if not rows:
        raise ValueError("plot_pruning_curve(rows): expected at least one pruned model")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.4))
    fractions = [100 * r["fraction"] for r in rows]
    ax1.plot(fractions, [r["speedup"] for r in rows], "o-", color="C0")
    ax1.axhline(1.0, color="grey", lw=1, ls="--")
    ax1.set_xlabel("channels removed (%)")
    ax1.set_ylabel("speed-up at batch 1 (x)")
    ax1.set_title("faster")
    ax2.plot(fractions, [100 * r["acc"] for r in rows], "o-", color="C2", label="after fine-tuning")
    if all("acc_before_fine_tune" in r for r in rows):
        ax2.plot(fractions, [100 * r["acc_before_fine_tune"] for r in rows], "x--", color="C3",
                 label="right after pruning")
    ax2.axhline(100 * baseline_acc, color="grey", lw=1, ls="--", label="unpruned")
    ax2.set_xlabel("channels removed (%)")
    ax2.set_ylabel("test accuracy (%)")
    ax2.set_title("and still right?")
    ax2.legend(fontsize=8, loc="lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_monitor(clean: Sequence[float], drifted: Mapping[str, Sequence[float]], threshold: float, *,
                 statistic: str, title: str | None = None):
    """Window z-scores of one statistic: ``clean`` (held-out clean clips) and each drift in ``drifted``, with the
    alarm ``threshold`` chosen on clean validation clips."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    ax.plot(np.asarray(clean), color="black", lw=1.5, label="clean (held out)")
    for k, (name, scores) in enumerate(drifted.items()):
        ax.plot(np.asarray(scores), lw=1, color=f"C{k}", label=name)
    ax.axhline(threshold, color="red", ls="--", lw=1, label="alarm threshold")
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_xlabel("window (sliding over the stream of clips)")
    ax.set_ylabel(f"z-score of mean {statistic}")
    ax.set_title(title or f"monitoring {statistic}")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig
