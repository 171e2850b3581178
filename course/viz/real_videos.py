"""Chapter 14: looking at real videos before training, and at the results after.

- :func:`contact_sheet`: frames spread over a whole video in a grid, each labelled with its frame number and time;
- :func:`plot_motion_energy`: motion energy over time, the threshold, and where the clips of a sampler fall;
- :func:`plot_active_fractions`: per video, the fraction of 16-frame clips that show motion (a histogram);
- :func:`plot_sampling_table`: the sampling comparison (:func:`course.train.real_video.compare_samplings`) as bars with
  95% intervals;
- :func:`show_failures`: frames of misclassified videos with the true and predicted class.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np

__all__ = ["contact_sheet", "plot_motion_energy", "plot_active_fractions", "plot_sampling_table", "show_failures"]


def _frames(video, fn: str) -> np.ndarray:
    if hasattr(video, "detach"):
        video = video.detach().cpu().numpy()
    video = np.asarray(video)
    if video.ndim != 4 or video.shape[-1] not in (1, 3) or video.dtype != np.uint8 or len(video) == 0:
        raise ValueError(f"{fn}(video): expected uint8 frames (T, H, W, C), got shape {video.shape} dtype {video.dtype}")
    return video


def contact_sheet(video, *, num_frames: int = 12, columns: int = 6, fps: float | None = None, title: str = ""):
    """``num_frames`` frames spread evenly over uint8 ``video`` (T, H, W, C), in a grid. Returns the figure."""
    import matplotlib.pyplot as plt

    video = _frames(video, "contact_sheet")
    if isinstance(num_frames, bool) or not isinstance(num_frames, numbers.Integral) or num_frames < 1:
        raise ValueError(f"contact_sheet(num_frames): expected a positive int, got {num_frames!r}")
    picks = np.unique(np.linspace(0, len(video) - 1, min(num_frames, len(video))).round().astype(int))
    rows = -(-len(picks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.45 * rows + 0.3), layout="constrained",
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, t in zip(axes.flat, picks):
        ax.imshow(video[t].squeeze(), cmap="gray" if video.shape[-1] == 1 else None)
        ax.set_title(f"frame {t}" + (f" ({t / fps:.1f} s)" if fps else ""), fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_motion_energy(energy, *, fps: float | None = None, threshold: float | None = None,
                       clips: dict[str, np.ndarray] | None = None, title: str = "", ax=None):
    """Motion energy (T - 1,) over time, the "shows motion" ``threshold``, and the first frame of each clip in
    ``clips`` ({label: frame indices (clips, clip_len)}) as shaded spans. Returns the axes."""
    import matplotlib.pyplot as plt

    energy = np.asarray(energy, dtype=float)
    if energy.ndim != 1 or energy.size == 0:
        raise ValueError(f"plot_motion_energy(energy): expected a 1-D array (T - 1,), got shape {energy.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8.8, 2.6), layout="constrained")
    t = np.arange(1, energy.size + 1) / (fps or 1)
    ax.plot(t, energy, color="0.2", lw=1.2, label="motion energy")
    if threshold is not None:
        ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"threshold {threshold:.4f}")
    colours = iter(["tab:blue", "tab:green", "tab:orange", "tab:purple"])
    for label, indices in (clips or {}).items():
        colour = next(colours, "tab:gray")
        for k, clip in enumerate(np.atleast_2d(indices)):
            ax.axvspan(clip.min() / (fps or 1), clip.max() / (fps or 1), color=colour, alpha=0.18,
                       label=label if k == 0 else None)
    ax.set_xlabel("time (s)" if fps else "frame")
    ax.set_ylabel("mean |frame difference|")
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: the curve reaches every corner
    return ax


def plot_active_fractions(fractions: dict[str, Sequence[float]], *, clip_len: int = 16, ax=None):
    """Histogram of the per-video fraction of ``clip_len``-frame clips that show motion, one series per class."""
    import matplotlib.pyplot as plt

    if not isinstance(fractions, dict) or not fractions:
        raise ValueError("plot_active_fractions(fractions): expected {class name: [fraction per video, ...]}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 2.8), layout="constrained")
    bins = np.linspace(0, 1, 11)
    ax.hist(list(fractions.values()), bins=bins, label=list(fractions), alpha=0.8)
    ax.set_xlabel(f"fraction of {clip_len}-frame clips that show motion")
    ax.set_ylabel("videos")
    ax.set_title("how often a random clip shows the action", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def plot_sampling_table(rows: Sequence[dict], *, title: str = "", ax=None):
    """Bars of video accuracy (with 95% Wilson intervals) for the rows of ``compare_samplings``. Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    if not rows or not all({"training", "accuracy", "ci_low", "ci_high", "clips_per_video", "split"} <= set(r)
                           for r in rows):
        raise ValueError("plot_sampling_table(rows): expected the list of dicts compare_samplings returns")
    if ax is None:
        _, ax = plt.subplots(figsize=(max(7.5, 0.8 * len(rows) + 3.6), 3.0), layout="constrained")
    names = [f"{r['training']}\n{r['clips_per_video']} clip{'s' if r['clips_per_video'] > 1 else ''}"
             + ("\nleaky split" if "leaky" in r["split"] else "") for r in rows]
    acc = np.array([r["accuracy"] for r in rows])
    err = np.array([[r["accuracy"] - r["ci_low"] for r in rows], [r["ci_high"] - r["accuracy"] for r in rows]])
    colours = ["tab:red" if "leaky" in r["split"] else "tab:blue" for r in rows]
    ax.bar(names, acc, yerr=err, capsize=4, color=colours, label="video accuracy (95% Wilson interval)")
    ax.axhline(1 / 2, color="0.5", ls=":", lw=1, label="chance (2 classes)")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("video accuracy")
    ax.set_xlabel("training sampler / evaluation clips per video")
    ax.tick_params(axis="x", labelsize=8)
    ax.set_title(title or "same model, same budget: where the clips come from", fontsize=10)
    handles, _ = ax.get_legend_handles_labels()
    if "tab:red" in colours:
        handles.append(Patch(color="tab:red", label="the same, leaky split"))
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: bars go anywhere
    return ax


def show_failures(result: dict, videos: Sequence, *, max_videos: int = 3, num_frames: int = 6):
    """Frames of up to ``max_videos`` misclassified videos of :func:`course.train.real_video.run_recipe`'s ``result``
    (``videos``: the uint8 (T, H, W, C) videos it reported on, in order). Returns the figure, or None if none failed."""
    import matplotlib.pyplot as plt

    y_true, y_pred = np.asarray(result["y_true"]), np.asarray(result["y_pred"])
    if len(videos) != len(y_true):
        raise ValueError(f"show_failures(videos): expected the {len(y_true)} videos the result reports on, "
                         f"got {len(videos)}")
    wrong = np.flatnonzero(y_true != y_pred)[:max_videos]
    if wrong.size == 0:
        return None
    classes = result["classes"]
    fig, axes = plt.subplots(len(wrong), num_frames, figsize=(1.5 * num_frames, 1.5 * len(wrong) + 0.3),
                             layout="constrained", squeeze=False)
    for row, i in zip(axes, wrong):
        video = _frames(videos[i], "show_failures")
        picks = np.linspace(0, len(video) - 1, num_frames).round().astype(int)
        for ax, t in zip(row, picks):
            ax.imshow(video[t])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"frame {t}", fontsize=8)
        name = str(result.get("paths", [""] * len(y_true))[i]).rsplit("/", 1)[-1]
        row[0].set_ylabel(f"{name[:22]}\ntrue {classes[y_true[i]]}\npred {classes[y_pred[i]]}", fontsize=8)
    fig.suptitle("misclassified videos (frames spread over each video)", fontsize=10)
    return fig
