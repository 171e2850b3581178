"""Chapter 05: looking at video data — a video scrubber widget, an augmentation preview, a sampling timeline.

- :func:`video_scrubber`: an ipywidgets player: frame slider, play button, and per-frame statistics (brightness,
  colour, how much the frame changed since the previous one) with a plot of those statistics over time.
- :func:`augmentation_preview`: the same frames under several random draws of a clip transform, side by side, so you
  can see that each draw is applied identically to every frame.
- :func:`sampling_timeline`: which frames each clip sampler picks, drawn on a timeline (frames and seconds).
- :func:`frame_stats` and :func:`show_frames`: the numbers and the picture behind them.
"""
from __future__ import annotations

import io
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["video_scrubber", "augmentation_preview", "sampling_timeline", "frame_stats", "stats_figure", "show_frames",
           "as_frames"]


def as_frames(video) -> np.ndarray:
    """Any video the course uses -> uint8 NumPy frames (T, H, W, 3) for display.

    Accepts uint8 (T, H, W, C) frames (C = 1 or 3), float clips (C, T, H, W) with values in [0, 1] (what the datasets
    return), and float/greyscale (T, H, W) arrays in [0, 1]; tensors or arrays.
    """
    if hasattr(video, "detach"):
        video = video.detach().cpu().numpy()
    video = np.asarray(video)
    if video.ndim == 3:
        video = video[..., None]
    elif video.ndim == 4 and video.dtype != np.uint8 and video.shape[0] in (1, 3) and video.shape[-1] not in (1, 3):
        video = np.moveaxis(video, 0, -1)  # (C, T, H, W) -> (T, H, W, C)
    if video.ndim != 4 or video.shape[-1] not in (1, 3) or video.shape[0] == 0:
        raise ValueError(f"as_frames(video): expected (T, H, W, C) uint8 frames or a (C, T, H, W) float clip, "
                         f"got shape {video.shape}")
    if video.dtype != np.uint8:
        if not np.issubdtype(video.dtype, np.floating):
            raise TypeError(f"as_frames(video): expected uint8 or float values, got dtype {video.dtype}")
        video = (np.clip(video, 0, 1) * 255).round().astype(np.uint8)
    if video.shape[-1] == 1:
        video = np.repeat(video, 3, axis=-1)
    return video


def frame_stats(video) -> dict[str, np.ndarray]:
    """Per-frame statistics of a video (any layout :func:`as_frames` accepts), values on the 0-255 scale.

    Returns ``brightness`` (T,), ``rgb`` (T, 3) channel means, and ``change`` (T,): the mean absolute difference from
    the previous frame (0 for the first frame) — a crude motion detector.
    """
    frames = as_frames(video).astype(np.float32)
    change = np.zeros(len(frames), np.float32)
    if len(frames) > 1:
        change[1:] = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    rgb = frames.mean(axis=(1, 2))
    return {"brightness": rgb.mean(axis=1), "rgb": rgb, "change": change}


def _png(frame: np.ndarray, width: int | None) -> bytes:
    from PIL import Image

    image = Image.fromarray(frame)
    if width and image.width != width:
        image = image.resize((width, max(1, round(image.height * width / image.width))), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def stats_figure(stats: dict[str, np.ndarray], fps: float | None = None):
    """Plot :func:`frame_stats` over time: brightness and the R, G, B means (lines, left axis) and the change from
    the previous frame (bars, right axis), with a legend naming all five. Returns the figure."""
    import matplotlib.pyplot as plt

    missing = {"brightness", "rgb", "change"} - set(stats)
    if missing:
        raise ValueError(f"stats_figure(stats): expected the dict of frame_stats, missing keys {sorted(missing)}")
    t = np.arange(len(stats["brightness"]))
    fig, ax = plt.subplots(figsize=(4.6, 3.0), layout="constrained")
    ax2 = ax.twinx()
    ax.set_zorder(ax2.get_zorder() + 1)   # lines in front of the bars
    ax.patch.set_visible(False)
    bars = ax2.bar(t, stats["change"], color="tab:orange", alpha=0.4, label="change from previous frame")
    lines = ax.plot(t, stats["brightness"], color="0.2", lw=2, label="brightness")
    for c, (colour, name) in enumerate(zip("rgb", ("red", "green", "blue"))):
        lines += ax.plot(t, stats["rgb"][:, c], color=colour, lw=1, alpha=0.7, label=f"{name} mean")
    ax.set_xlabel("frame" + (f" ({fps:g} fps)" if fps else ""))
    ax.set_ylabel("mean value (0-255)")
    ax2.set_ylabel("change", color="tab:orange")
    ax.set_title("per-frame statistics", fontsize=10)
    fig.legend(lines + [bars], [h.get_label() for h in lines + [bars]], loc="outside lower center", ncols=3,
               fontsize=8)
    return fig


def _stats_plot(stats: dict[str, np.ndarray], fps: float | None) -> bytes:
    import matplotlib.pyplot as plt

    fig = stats_figure(stats, fps)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def video_scrubber(video, fps: float | None = None, *, width: int = 320, title: str = ""):
    """An ipywidgets video player: frame slider + play button, the frame, and its statistics.

    ``video``: uint8 frames (T, H, W, C) or a float clip (C, T, H, W) in [0, 1]. ``fps`` sets the playback speed and
    the time shown (default 10 fps for playback, no time shown). ``width`` is the display width in pixels (small
    frames are enlarged without smoothing, so you see the real pixels). Returns the widget; display it or make it the
    last expression of a cell. ``widget.slider`` and ``widget.play`` give access to the controls.
    """
    import ipywidgets as widgets

    frames = as_frames(video)
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or fps <= 0):
        raise ValueError(f"video_scrubber(fps): expected a positive number or None, got {fps!r}")
    if isinstance(width, bool) or not isinstance(width, int) or width < 16:
        raise ValueError(f"video_scrubber(width): expected an int >= 16 (pixels), got {width!r}")
    stats = frame_stats(frames)
    n = len(frames)
    pngs: dict[int, bytes] = {}

    def png(t: int) -> bytes:
        if t not in pngs:
            pngs[t] = _png(frames[t], width)
        return pngs[t]

    image = widgets.Image(value=png(0), format="png")
    slider = widgets.IntSlider(value=0, min=0, max=n - 1, description="frame", continuous_update=True)
    play = widgets.Play(value=0, min=0, max=n - 1, interval=int(1000 / (fps or 10)), description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    info = widgets.HTML()
    plot = widgets.Image(value=_stats_plot(stats, fps), format="png")

    def update(change=None):
        t = slider.value
        image.value = png(t)
        when = f" &middot; {t / fps:.2f} s" if fps else ""
        r, g, b = stats["rgb"][t]
        info.value = (f"<b>frame {t} / {n - 1}</b>{when}<br>brightness {stats['brightness'][t]:.1f} "
                      f"(R {r:.0f}, G {g:.0f}, B {b:.0f})<br>change from previous frame {stats['change'][t]:.2f}")

    slider.observe(update, names="value")
    update()
    header = [widgets.HTML(f"<b>{title}</b>")] if title else []
    shape = f"{n} frames of {frames.shape[1]}x{frames.shape[2]}" + (f" at {fps:g} fps" if fps else "")
    box = widgets.VBox(header + [widgets.HBox([play, slider]), widgets.HBox([image, widgets.VBox([info, plot])]),
                                 widgets.HTML(f"<small>{shape}</small>")])
    box.slider, box.play, box.image, box.info = slider, play, image, info
    return box


def show_frames(video, n: int = 8, *, indices: Sequence[int] | None = None, title: str = "", axes=None):
    """Show ``n`` evenly spaced frames (or the frames at ``indices``) of a video in one row. Returns the figure."""
    import matplotlib.pyplot as plt

    frames = as_frames(video)
    if indices is None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"show_frames(n): expected a positive int, got {n!r}")
        indices = np.unique(np.rint(np.linspace(0, len(frames) - 1, min(n, len(frames)))).astype(int))
    indices = [int(i) for i in indices]
    if not indices or min(indices) < 0 or max(indices) >= len(frames):
        raise ValueError(f"show_frames(indices): expected indices in 0..{len(frames) - 1}, got {indices}")
    if axes is None:
        fig, axes = plt.subplots(1, len(indices), figsize=(1.6 * len(indices), 1.9), squeeze=False)
        axes = axes[0]
    else:
        fig = axes[0].figure
    for ax, i in zip(axes, indices):
        ax.imshow(frames[i])
        ax.set_title(f"t={i}", fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def augmentation_preview(video, transform: Callable, *, runs: int = 3, frames_shown: int = 4,
                         mean: Sequence[float] | None = None, std: Sequence[float] | None = None, seed: int = 0):
    """The same frames, original and under ``runs`` random draws of ``transform``, side by side. Returns the figure.

    ``video``: uint8 frames (T, H, W, C); ``transform`` maps them to a float clip (C, T', H', W') — e.g.
    :func:`course.data.train_transform`. Give the transform's ``mean``/``std`` to undo its normalisation for display.
    Each row is one draw: if the transform is consistent across frames, every frame of a row is cropped, flipped and
    coloured the same way.
    """
    import matplotlib.pyplot as plt
    import torch

    from ..data.transforms import to_uint8_frames

    if not callable(transform):
        raise TypeError(f"augmentation_preview(transform): expected a callable, got {transform!r}")
    frames = torch.from_numpy(as_frames(video))
    if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
        raise ValueError(f"augmentation_preview(runs): expected a positive int, got {runs!r}")
    torch.manual_seed(seed)
    outputs = [as_frames(to_uint8_frames(transform(frames), mean, std)) for _ in range(runs)]
    picks = np.unique(np.rint(np.linspace(0, len(frames) - 1, min(frames_shown, len(frames)))).astype(int))
    fig, axes = plt.subplots(runs + 1, len(picks), figsize=(1.7 * len(picks), 1.7 * (runs + 1)), squeeze=False)
    for col, t in enumerate(picks):
        axes[0, col].imshow(frames[t].numpy())
        axes[0, col].set_title(f"frame {t}", fontsize=8)
        for row, out in enumerate(outputs, start=1):
            axes[row, col].imshow(out[min(t, len(out) - 1)])
    for row in range(runs + 1):
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel("original" if row == 0 else f"draw {row}", fontsize=8)
    fig.suptitle("one random draw per row, applied to every frame", fontsize=10)
    fig.tight_layout()
    return fig


def sampling_timeline(num_frames: int, samples: Mapping[str, Sequence[int]], *, fps: float | None = None, ax=None):
    """Draw which frames each sampler picked: one row per entry of ``samples`` (name -> frame indices).

    ``num_frames`` is the video's length; with ``fps`` a second axis shows time in seconds. Frames picked more than
    once (looping, short videos) are drawn larger. Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt

    if isinstance(num_frames, bool) or not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise ValueError(f"sampling_timeline(num_frames): expected a positive int, got {num_frames!r}")
    if not isinstance(samples, Mapping) or not samples:
        raise ValueError("sampling_timeline(samples): expected a non-empty dict {name: frame indices}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(samples) + 1.0))
    for row, (name, idx) in enumerate(samples.items()):
        idx = np.asarray(idx, dtype=int).ravel()
        if idx.size and (idx.min() < 0 or idx.max() >= num_frames):
            raise ValueError(f"sampling_timeline(samples[{name!r}]): indices must be in 0..{num_frames - 1}")
        y = len(samples) - 1 - row
        ax.hlines(y, 0, num_frames - 1, color="0.85", lw=6)
        values, counts = np.unique(idx, return_counts=True)
        ax.scatter(values, np.full(len(values), y), s=18 + 22 * (counts - 1), zorder=3, label=name)
    ax.set_yticks(range(len(samples)))
    ax.set_yticklabels(list(samples)[::-1])
    ax.set_xlim(-1, num_frames)
    ax.set_ylim(-0.7, len(samples) - 0.3)
    ax.set_xlabel("frame index")
    if fps:
        top = ax.secondary_xaxis("top", functions=(lambda f: f / fps, lambda s: s * fps))
        top.set_xlabel("time (s)")
    ax.set_title(f"which frames each sampler reads ({num_frames}-frame video)", fontsize=10)
    return ax
