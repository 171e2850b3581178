"""Chapter 13: explanations frame by frame — a strip of overlays, per-frame importance curves and a scrubber widget.

- :func:`plot_explanation_strip`: every ``every``-th frame of a clip, with each explanation map overlaid on it.
- :func:`plot_frame_importance`: per-frame importance profiles (T,) of several models or methods on one axis.
- :func:`explanation_scrubber`: an ipywidgets slider over frames: the frame, its overlays and the importance curves
  with the current frame marked.
"""
from __future__ import annotations

import io
from typing import Mapping

import numpy as np

__all__ = ["plot_explanation_strip", "plot_frame_importance", "explanation_scrubber"]


def _clip_array(clip) -> np.ndarray:
    x = clip.detach().cpu().numpy() if hasattr(clip, "detach") else np.asarray(clip)
    if x.ndim != 4 or x.shape[0] not in (1, 3):
        raise ValueError(f"clip: expected a clip (C, T, H, W) with C = 1 or 3, got shape {x.shape}")
    return np.clip(x, 0, 1)


def _maps(maps: Mapping, t: int, h: int, w: int, fn: str) -> dict[str, np.ndarray]:
    if not isinstance(maps, Mapping) or not maps:
        raise ValueError(f"{fn}(maps): expected a non-empty dict {{name: map (T, H, W)}}")
    out = {}
    for name, m in maps.items():
        m = m.detach().cpu().numpy() if hasattr(m, "detach") else np.asarray(m)
        if m.shape != (t, h, w):
            raise ValueError(f"{fn}(maps[{name!r}]): expected shape {(t, h, w)} like the clip, got {m.shape}")
        peak = np.abs(m).max()
        out[str(name)] = m / peak if peak > 0 else m
    return out


def _frame(x: np.ndarray, t: int) -> np.ndarray:
    frame = x[:, t].transpose(1, 2, 0)
    return frame[..., 0] if frame.shape[2] == 1 else frame


def plot_explanation_strip(clip, maps: Mapping, *, every: int = 2, alpha: float = 0.55):
    """Row 0: frames 0, every, 2*every, ... of ``clip`` (C, T, H, W) in [0, 1]; one row per entry of ``maps``
    ({name: (T, H, W) non-negative map}) drawn as a heat map over the greyed frame. Returns the figure."""
    import matplotlib.pyplot as plt

    x = _clip_array(clip)
    _, t, h, w = x.shape
    maps = _maps(maps, t, h, w, "plot_explanation_strip")
    frames = list(range(0, t, every))
    fig, axes = plt.subplots(1 + len(maps), len(frames), figsize=(1.05 * len(frames), 1.15 * (1 + len(maps))),
                             squeeze=False, layout="constrained")
    for col, f in enumerate(frames):
        axes[0, col].imshow(_frame(x, f), cmap="gray" if x.shape[0] == 1 else None)
        axes[0, col].set_title(f"t={f}", fontsize=8)
        for row, m in enumerate(maps.values(), start=1):
            axes[row, col].imshow(x[:, f].mean(0), cmap="gray", vmin=0, vmax=1)
            axes[row, col].imshow(m[f], cmap="inferno", alpha=alpha, vmin=0, vmax=1)
    for row, name in enumerate(["clip"] + list(maps)):
        axes[row, 0].set_ylabel(name, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([]), ax.set_yticks([])
    return fig


def plot_frame_importance(profiles: Mapping, ax=None, *, title: str = "which frames matter", shade=None):
    """One line per entry of ``profiles`` ({name: importance (T,)}) against the frame index. ``shade=(a, b)``
    greys frames a..b-1 (e.g. where the motion is). Returns the axis."""
    import matplotlib.pyplot as plt

    if not isinstance(profiles, Mapping) or not profiles:
        raise ValueError("plot_frame_importance(profiles): expected a non-empty dict {name: importance (T,)}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.8), layout="constrained")
    for name, p in profiles.items():
        p = p.detach().cpu().numpy() if hasattr(p, "detach") else np.asarray(p)
        if p.ndim != 1:
            raise ValueError(f"plot_frame_importance(profiles[{name!r}]): expected (T,), got shape {p.shape}")
        ax.plot(np.arange(len(p)), p, marker="o", ms=3, label=str(name))
    if shade is not None:
        ax.axvspan(shade[0] - 0.5, shade[1] - 0.5, color="0.85", zorder=0, label="motion")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("frame")
    ax.set_ylabel("importance")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return ax


def _png_of(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def explanation_scrubber(clip, maps: Mapping, profiles: Mapping | None = None, *, title: str = ""):
    """An ipywidgets frame slider (with play button) over ``clip`` (C, T, H, W): the frame, each map of ``maps``
    ({name: (T, H, W)}) overlaid on it, and the ``profiles`` ({name: (T,)}) with the current frame marked.
    Returns the widget (``widget.slider`` is the slider)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    x = _clip_array(clip)
    _, t, h, w = x.shape
    maps = _maps(maps, t, h, w, "explanation_scrubber")
    cache: dict[int, bytes] = {}

    def render(f: int) -> bytes:
        if f not in cache:
            n = 1 + len(maps) + (profiles is not None)
            fig, axes = plt.subplots(1, n, figsize=(1.55 * (1 + len(maps)) + (3.4 if profiles else 0), 2.4),
                                     layout="constrained",
                                     width_ratios=[1] * (1 + len(maps)) + ([2.2] if profiles else []))
            axes[0].imshow(_frame(x, f), cmap="gray" if x.shape[0] == 1 else None)
            axes[0].set_title(f"frame {f}", fontsize=9)
            for ax, (name, m) in zip(axes[1:], maps.items()):
                ax.imshow(x[:, f].mean(0), cmap="gray", vmin=0, vmax=1)
                ax.imshow(m[f], cmap="inferno", alpha=0.55, vmin=0, vmax=1)
                ax.set_title(name, fontsize=9)
            for ax in axes[: 1 + len(maps)]:
                ax.set_xticks([]), ax.set_yticks([])
            if profiles is not None:
                plot_frame_importance(profiles, axes[-1], title="importance per frame")
                axes[-1].axvline(f, color="k", ls="--", lw=1)
            cache[f] = _png_of(fig)
        return cache[f]

    image = widgets.Image(value=render(0), format="png")
    slider = widgets.IntSlider(value=0, min=0, max=t - 1, description="frame")
    play = widgets.Play(value=0, min=0, max=t - 1, interval=300, description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    slider.observe(lambda change: setattr(image, "value", render(change["new"])), names="value")
    header = [widgets.HTML(f"<b>{title}</b>")] if title else []
    box = widgets.VBox(header + [widgets.HBox([play, slider]), image])
    box.slider, box.image = slider, image
    return box
