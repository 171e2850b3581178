"""Chapter 16: where a training step's time goes, loader throughput, activation memory and float16's range."""
from __future__ import annotations

import numpy as np


def _new_axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_step_profile(phases: dict, *, title: str = "one training step", ax=None):
    """Horizontal bars: milliseconds per step of each phase (``{phase: ms}``, e.g. ``StepProfile.ms``), with each
    phase's share of the step written next to its bar."""
    if not isinstance(phases, dict) or not phases:
        raise ValueError("plot_step_profile(phases): expected a non-empty dict {phase name: milliseconds}")
    names, values = list(phases), np.array([float(v) for v in phases.values()])
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError("plot_step_profile(phases): expected milliseconds >= 0")
    ax = _new_axes(ax, (7, 0.45 * len(names) + 1.2))
    y = np.arange(len(names))[::-1]
    ax.barh(y, values, color=["#8da0cb" if n in ("decode", "transform", "data (other)") else "#fc8d62"
                              for n in names])
    total = values.sum()
    for yi, v in zip(y, values):
        ax.text(v, yi, f" {v:.0f} ms ({v / total:.0%})" if total else " 0 ms", va="center", fontsize=9)
    ax.set_yticks(y, names)
    ax.set_xlabel("milliseconds per step (blue: data loading, orange: compute)")
    ax.set_xlim(0, max(values.max(), 1e-9) * 1.35)
    ax.set_title(title)
    return ax


def plot_loader_throughput(results: dict, *, title: str = "DataLoader settings", ax=None):
    """Grouped bars: clips per second of each setting (``{name: loader_throughput(...) result}``), one bar per
    epoch, so that start-up costs (first epoch) and warm settings (later epochs) both show."""
    if not isinstance(results, dict) or not results or not all(
            isinstance(r, dict) and r.get("clips_per_s") for r in results.values()):
        raise ValueError("plot_loader_throughput(results): expected {setting name: loader_throughput result}")
    epochs = max(len(r["clips_per_s"]) for r in results.values())
    ax = _new_axes(ax, (8, 0.5 * len(results) * epochs + 1.5))
    height = 0.8 / epochs
    y = np.arange(len(results))[::-1]
    for e in range(epochs):
        values = [r["clips_per_s"][e] if e < len(r["clips_per_s"]) else 0 for r in results.values()]
        ax.barh(y + (epochs / 2 - e - 0.5) * height, values, height=height, label=f"epoch {e + 1}")
    ax.set_yticks(y, list(results))
    ax.set_xlabel("clips per second (higher is better)")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=9)
    return ax


def plot_memory_and_time(lengths, memory_mib: dict, seconds: dict | None = None, *,
                         title: str = "activation memory as the clip grows"):
    """Left: MiB kept for backward against clip length T for each variant (``{name: [MiB per length]}``); right (when
    ``seconds`` is given): seconds per training step of the same variants."""
    import matplotlib.pyplot as plt

    lengths = [int(t) for t in lengths]
    if not lengths or not isinstance(memory_mib, dict) or not memory_mib or not all(
            len(v) == len(lengths) for v in memory_mib.values()):
        raise ValueError("plot_memory_and_time: expected lengths and {name: one value per length}")
    if seconds is not None and (not isinstance(seconds, dict) or not all(len(v) == len(lengths)
                                                                          for v in seconds.values())):
        raise ValueError("plot_memory_and_time(seconds): expected {name: one value per length}")
    panels = 2 if seconds else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 3.8), squeeze=False)
    for ax, data, label in zip(axes[0], (memory_mib, seconds), ("MiB kept for backward", "seconds per step")):
        for name, values in data.items():
            ax.plot(lengths, values, marker="o", label=name)
        ax.set_xlabel("frames per clip (T)")
        ax.set_ylabel(label)
        ax.set_xticks(lengths)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=9)
    axes[0][0].set_title(title)
    if seconds:
        axes[0][1].set_title("the price: recomputation")
    fig.tight_layout()
    return fig


def plot_gradient_magnitudes(magnitudes, *, title: str = "gradient magnitudes", ax=None):
    """Histogram of log10 |gradient| (a tensor or a list of tensors of nonzero magnitudes) with float16's smallest
    subnormal and smallest normal numbers marked: everything left of the first line becomes 0 in float16."""
    import torch

    if torch.is_tensor(magnitudes):
        magnitudes = [magnitudes]
    values = np.concatenate([np.asarray(m.detach().cpu().double()).ravel() for m in magnitudes]) if magnitudes else []
    values = np.asarray(values)
    values = values[values > 0]
    if values.size == 0:
        raise ValueError("plot_gradient_magnitudes(magnitudes): expected some nonzero gradient magnitudes")
    ax = _new_axes(ax, (7, 3.5))
    ax.hist(np.log10(values), bins=60, color="#66c2a5")
    tiny = float(torch.finfo(torch.float16).smallest_normal)
    subnormal = 2.0 ** -24
    ax.axvline(np.log10(subnormal), color="crimson", linestyle="--",
               label=f"float16 smallest subnormal ({subnormal:.1e})")
    ax.axvline(np.log10(tiny), color="darkorange", linestyle=":", label=f"float16 smallest normal ({tiny:.1e})")
    ax.set_xlabel("log10 |gradient|")
    ax.set_ylabel("number of gradient entries")
    ax.set_title(title)
    ax.legend(fontsize=9, loc="upper left")
    return ax
