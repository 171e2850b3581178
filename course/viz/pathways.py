"""Chapter 11: pictures for two-stream and two-speed models, and for the architecture benchmark."""
from __future__ import annotations

import numpy as np


def _clip_array(clip, owner: str) -> np.ndarray:
    arr = np.asarray(clip.detach().cpu() if hasattr(clip, "detach") else clip, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[0] not in (1, 3) or arr.shape[1] < 2:
        raise ValueError(f"{owner}(clip): expected a clip (C, T, H, W) with C = 1 or 3 and T >= 2, got {arr.shape}")
    return arr


def plot_frames_and_differences(clip, *, frames=(0, 5, 10, 15), axes=None):
    """Top row: frames of ``clip`` (C, T, H, W) in [0, 1]; bottom row: the difference to the next frame, what the
    motion stream of :class:`course.models.TwoStream` sees (red: brighter than before, blue: darker). Returns the
    figure."""
    import matplotlib.pyplot as plt

    arr = _clip_array(clip, "plot_frames_and_differences")
    t = arr.shape[1]
    frames = [f for f in frames if 0 <= f < t - 1] or [0]
    if axes is None:
        fig, axes = plt.subplots(2, len(frames), figsize=(1.7 * len(frames) + 0.8, 3.8), squeeze=False)
    fig = axes[0, 0].figure
    diff = (arr[:, 1:] - arr[:, :-1]).mean(axis=0)                        # (T-1, H, W), averaged over colour
    limit = max(float(np.abs(diff).max()), 1e-6)
    image = None
    for j, f in enumerate(frames):
        frame = arr[:, f].transpose(1, 2, 0)
        axes[0, j].imshow(frame[..., 0] if arr.shape[0] == 1 else np.clip(frame, 0, 1),
                          cmap="gray" if arr.shape[0] == 1 else None)
        axes[0, j].set_title(f"frame {f}", fontsize=8)
        image = axes[1, j].imshow(diff[f], cmap="coolwarm", vmin=-limit, vmax=limit)
        axes[1, j].set_title(f"frame {f + 1} - frame {f}", fontsize=8)
        for ax in axes[:, j]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("appearance", fontsize=8)
    axes[1, 0].set_ylabel("motion", fontsize=8)
    cbar = fig.colorbar(image, ax=list(axes[1]), fraction=0.03, pad=0.02)
    cbar.set_label("change in brightness", fontsize=8)
    cbar.ax.tick_params(labelsize=8)
    return fig


def plot_architecture_tradeoff(record: dict, *, ax=None, title: str = ""):
    """Within-pair accuracy against MFLOPs per clip (log scale), one labelled point per run of ``record`` (from
    :func:`course.train.architectures.measure_architectures` or the saved ``video_architectures`` record); marker
    area grows with the parameter count. Returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(record, dict) or not isinstance(record.get("runs"), list) or not record["runs"]:
        raise ValueError("plot_architecture_tradeoff(record): expected a record with a non-empty 'runs' list")
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.8))
    runs = record["runs"]
    chapters = sorted({r.get("chapter", "?") for r in runs})
    colours = dict(zip(chapters, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    size = max(r["parameters"] for r in runs)
    for ch in chapters:
        sel = [r for r in runs if r.get("chapter", "?") == ch]
        ax.scatter([r["mflops_per_clip"] for r in sel], [100 * r["within_pair_acc"] for r in sel],
                   s=[20 + 200 * r["parameters"] / size for r in sel], color=colours[ch], alpha=0.75,
                   label=f"chapter {ch}")
    ax.axhline(50, color="grey", linestyle=":", label="chance (50%)")
    ax.axhline(90, color="grey", linestyle="--", linewidth=0.8, label="target (90%)")
    ax.set_xscale("log")
    flops = [r["mflops_per_clip"] for r in runs]
    ax.set_xlim(min(flops) / 1.3, max(flops) * 2.2)   # room for the labels of the costliest models
    ax.set_ylim(top=112)
    ax.set_xlabel("MFLOPs per clip (log scale)", fontsize=9)
    ax.set_ylabel("within-pair accuracy (%)", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), title="marker area ~ parameters",
              title_fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    ax.figure.tight_layout()
    _place_labels(ax, [(r["model"], r["mflops_per_clip"], 100 * r["within_pair_acc"]) for r in runs])
    return ax.figure


def _place_labels(ax, points, fontsize: int = 8) -> None:
    """Label each (text, x, y) point at the first nearby offset where the label overlaps no earlier label and stays
    inside the axes. Many models sit near 100%, so fixed offsets would print neighbours over each other."""
    from matplotlib.text import Text

    candidates = [(5, 4), (5, -11), (-5, 4), (-5, -11), (5, 15), (5, -22), (-5, 15), (-5, -22), (5, 26), (5, -33),
                  (-5, 26), (-5, -33), (5, 37), (5, -44)]
    renderer = ax.figure.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed = []
    for text, x, y in sorted(points, key=lambda p: (-p[2], p[1])):
        label = None
        for dx, dy in candidates:
            if label is not None:
                label.remove()
            label = ax.annotate(text, (x, y), fontsize=fontsize, xytext=(dx, dy), textcoords="offset points",
                                ha="left" if dx > 0 else "right", va="center",
                                arrowprops=dict(arrowstyle="-", color="grey", lw=0.5) if abs(dy) > 12 else None)
            label.update_positions(renderer)
            box = Text.get_window_extent(label, renderer)   # the text alone, not its leader line
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in placed):
                break
        placed.append(Text.get_window_extent(label, renderer))
