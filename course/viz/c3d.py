"""Chapter 08: learned first-layer 3D filters as little movies, and clips as film strips."""
from __future__ import annotations

import numpy as np


def filter_frames(weight) -> np.ndarray:
    """First-layer 3D filters (F, C, KT, KH, KW) -> movies (F, KT, KH, KW, C) scaled to [0, 1] for display.

    Each filter is scaled on its own: 0.5 is zero, and its largest absolute weight maps to 0 or 1, so a grey pixel
    means "ignored", bright "excited", dark "inhibited". ``weight`` may be a NumPy array or a tensor.
    """
    w = weight.detach().cpu().numpy() if hasattr(weight, "detach") else np.asarray(weight)
    if w.ndim != 5:
        raise ValueError(f"filter_frames(weight): expected 5 dims (F, C, KT, KH, KW), got shape {w.shape}")
    if not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"filter_frames(weight): expected floating-point weights, got dtype {w.dtype}")
    scale = np.abs(w).reshape(len(w), -1).max(axis=1)
    scale = np.where(scale > 0, scale, 1.0)[:, None, None, None, None]
    return (0.5 + 0.5 * w / scale).transpose(0, 2, 3, 4, 1).astype(np.float32)


def _as_image(frame: np.ndarray) -> np.ndarray:
    return frame[..., 0] if frame.shape[-1] == 1 else frame


def plot_filter_frames(weight, *, max_filters: int = 16, axes=None):
    """A grid: one row per filter, one column per time step of the 3D kernel. Returns the figure."""
    import matplotlib.pyplot as plt

    movies = filter_frames(weight)[:max_filters]
    f, kt = movies.shape[:2]
    if axes is None:
        fig, axes = plt.subplots(kt, f, figsize=(0.7 * f + 0.6, 0.75 * kt + 0.4), squeeze=False)
    else:
        fig = np.asarray(axes).flat[0].figure
    for i in range(f):
        for t in range(kt):
            ax = axes[t][i]
            ax.imshow(_as_image(movies[i, t]), cmap="gray" if movies.shape[-1] == 1 else None, vmin=0, vmax=1,
                      interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(f"t={t}", fontsize=8)
            if t == 0:
                ax.set_title(f"#{i}", fontsize=8)
    fig.suptitle("first-layer filters: columns = filters, rows = time steps of the kernel", fontsize=9)
    return fig


def animate_filters(weight, *, max_filters: int = 16, interval: int = 400):
    """The first-layer filters as looping movies (an HTML animation for notebooks): one panel per filter."""
    import matplotlib.pyplot as plt
    from IPython.display import HTML
    from matplotlib import animation

    movies = filter_frames(weight)[:max_filters]
    f, kt = movies.shape[:2]
    cols = min(f, 8)
    rows = (f + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.0 * cols, 1.0 * rows + 0.3), squeeze=False)
    images = []
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < f:
            images.append(ax.imshow(_as_image(movies[i, 0]), vmin=0, vmax=1, interpolation="nearest",
                                    cmap="gray" if movies.shape[-1] == 1 else None))
    title = fig.suptitle("t = 0", fontsize=9)

    def update(t):
        for i, im in enumerate(images):
            im.set_data(_as_image(movies[i, t]))
        title.set_text(f"kernel time step t = {t}")
        return images

    anim = animation.FuncAnimation(fig, update, frames=kt, interval=interval)
    html = HTML(anim.to_jshtml(default_mode="loop"))
    plt.close(fig)
    return html


def plot_clip_strip(clip, *, title: str = "", every: int = 2, ax_row=None):
    """Show frames 0, every, 2*every, ... of a clip (C, T, H, W) in [0, 1] side by side. Returns the figure."""
    import matplotlib.pyplot as plt

    x = clip.detach().cpu().numpy() if hasattr(clip, "detach") else np.asarray(clip)
    if x.ndim != 4:
        raise ValueError(f"plot_clip_strip(clip): expected 4 dims (C, T, H, W), got shape {x.shape}")
    frames = list(range(0, x.shape[1], every))
    if ax_row is None:
        fig, ax_row = plt.subplots(1, len(frames), figsize=(1.1 * len(frames), 1.4), squeeze=False)
        ax_row = ax_row[0]
    fig = ax_row[0].figure
    for ax, t in zip(ax_row, frames):
        ax.imshow(_as_image(np.clip(x[:, t].transpose(1, 2, 0), 0, 1)), cmap="gray" if x.shape[0] == 1 else None)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_xlabel(f"t={t}", fontsize=8)
    if title:
        ax_row[0].set_ylabel(title, fontsize=8, rotation=0, ha="right", va="center")
    return fig
