"""Chapter 00: a first widget — a slider that moves through the frames of a tiny synthetic clip."""
from __future__ import annotations

import numpy as np


def bouncing_ball_clip(num_frames: int = 24, size: int = 48, radius: float = 5.0) -> np.ndarray:
    """A grey-scale clip of a ball bouncing off the walls: float array (T, H, W) in [0, 1]."""
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"bouncing_ball_clip(num_frames={num_frames!r}): expected a positive int")
    if not isinstance(size, int) or size < 4 * radius:
        raise ValueError(f"bouncing_ball_clip(size={size!r}): expected an int of at least 4*radius={4 * radius}")
    yy, xx = np.mgrid[0:size, 0:size]
    pos = np.array([radius + 1.0, size / 3])
    vel = np.array([2.3, 1.7])
    frames = np.empty((num_frames, size, size), dtype=np.float32)
    for t in range(num_frames):
        frames[t] = ((yy - pos[0]) ** 2 + (xx - pos[1]) ** 2 <= radius ** 2).astype(np.float32)
        pos = pos + vel
        for axis in range(2):
            if not radius <= pos[axis] <= size - 1 - radius:
                vel[axis] = -vel[axis]
                pos[axis] = np.clip(pos[axis], radius, size - 1 - radius)
    return frames


def ball_position(frame: np.ndarray) -> tuple[float, float]:
    """Centre of mass (row, col) of a (H, W) frame."""
    frame = np.asarray(frame, dtype=np.float64)
    if frame.ndim != 2:
        raise ValueError(f"ball_position(frame): expected a 2-D (H, W) array, got shape {frame.shape}")
    total = frame.sum()
    if total == 0:
        raise ValueError("ball_position(frame): the frame is empty (all zeros)")
    rows, cols = np.indices(frame.shape)
    return float((rows * frame).sum() / total), float((cols * frame).sum() / total)


def frame_slider(clip: np.ndarray):
    """A slider + plot: move the slider to show frame t of ``clip`` (T, H, W) and the ball's position so far.

    Returns the ipywidgets container (display it, or make it the last expression of a cell).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    clip = np.asarray(clip)
    if clip.ndim != 3:
        raise ValueError(f"frame_slider(clip): expected a (T, H, W) array, got shape {clip.shape}")
    slider = widgets.IntSlider(value=0, min=0, max=len(clip) - 1, description="frame t", continuous_update=False)
    out = widgets.Output()
    track = [ball_position(f) for f in clip]

    def show(change=None):
        t = slider.value
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(3.2, 3.2))
            ax.imshow(clip[t], cmap="gray", vmin=0, vmax=1)
            path = np.array(track[: t + 1])
            ax.plot(path[:, 1], path[:, 0], "r.-", lw=1, ms=3)
            ax.set_title(f"frame {t}")
            ax.axis("off")
            plt.show()
            row, col = track[t]
            print(f"frame {t}: ball at row {row:.1f}, col {col:.1f}")

    slider.observe(show, names="value")
    show()
    return widgets.VBox([slider, out])
