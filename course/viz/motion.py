"""Chapter 07: tiny clips of patterns sliding left or right, and plots of what a 3D kernel answers to them.

Clips here are grey-scale float arrays (T, H, W) with values >= 0; a kernel is (KT, KH, KW).
"""
from __future__ import annotations

import numpy as np

from ..numpy_nn import conv3d


def square_pattern(size: int = 20, side: int = 5) -> np.ndarray:
    """A (size, size) image with a bright ``side`` x ``side`` square in the middle."""
    if not isinstance(size, int) or not isinstance(side, int) or not 0 < side <= size:
        raise ValueError(f"square_pattern(size={size!r}, side={side!r}): expected ints with 0 < side <= size")
    img = np.zeros((size, size))
    lo = (size - side) // 2
    img[lo:lo + side, lo:lo + side] = 1.0
    return img


def random_pattern(size: int = 20, *, seed: int = 0) -> np.ndarray:
    """A (size, size) image of random blobs in [0, 1] (a texture with no particular shape)."""
    if not isinstance(size, int) or size < 4:
        raise ValueError(f"random_pattern(size={size!r}): expected an int >= 4")
    rng = np.random.default_rng(seed)
    img = rng.random((size, size)) * (rng.random((size, size)) < 0.3)
    return img


def moving_clip(pattern: np.ndarray, velocity: int, num_frames: int = 8, *, margin: int | None = None) -> np.ndarray:
    """Slide ``pattern`` (H, W) horizontally by ``velocity`` pixels per frame (> 0: rightward, < 0: leftward).

    The pattern is placed on a black canvas wide enough that it never leaves it. A leftward clip is exactly the
    rightward clip of the same speed played backwards. Returns (num_frames, H, W + 2*margin).
    """
    pattern = np.asarray(pattern, dtype=np.float64)
    if pattern.ndim != 2:
        raise ValueError(f"moving_clip(pattern): expected a 2-D (H, W) image, got shape {pattern.shape}")
    if not isinstance(velocity, (int, np.integer)) or isinstance(velocity, bool):
        raise TypeError(f"moving_clip(velocity): expected an int (pixels per frame), got {velocity!r}")
    if not isinstance(num_frames, int) or num_frames < 1:
        raise ValueError(f"moving_clip(num_frames): expected a positive int, got {num_frames!r}")
    travel = abs(int(velocity)) * (num_frames - 1)
    margin = (travel + 1) // 2 + 1 if margin is None else margin
    if not isinstance(margin, int) or margin < (travel + 1) // 2:
        raise ValueError(f"moving_clip(margin): expected an int >= {(travel + 1) // 2} so the pattern stays inside, "
                         f"got {margin!r}")
    h, w = pattern.shape
    start = margin - travel // 2
    clip = np.zeros((num_frames, h, w + 2 * margin))
    for t in range(num_frames):
        step = abs(int(velocity)) * t
        x0 = start + (step if velocity >= 0 else travel - step)
        clip[t, :, x0:x0 + w] = pattern
    return clip


def kernel_response(clip: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """ReLU of the 3D cross-correlation of ``clip`` (T, H, W) with ``kernel`` (KT, KH, KW), no padding: (T', H', W')."""
    clip = np.asarray(clip, dtype=np.float64)
    kernel = np.asarray(kernel, dtype=np.float64)
    if clip.ndim != 3:
        raise ValueError(f"kernel_response(clip): expected (T, H, W), got shape {clip.shape}")
    if kernel.ndim != 3:
        raise ValueError(f"kernel_response(kernel): expected (KT, KH, KW), got shape {kernel.shape}")
    return np.maximum(conv3d(clip[None, None], kernel[None, None])[0, 0], 0.0)


def plot_kernel(kernel: np.ndarray, title: str = "3D kernel, one panel per time step"):
    """Show a (KT, KH, KW) kernel as KT small images (red > 0, blue < 0)."""
    import matplotlib.pyplot as plt

    kernel = np.asarray(kernel, dtype=np.float64)
    if kernel.ndim != 3:
        raise ValueError(f"plot_kernel(kernel): expected (KT, KH, KW), got shape {kernel.shape}")
    vmax = np.abs(kernel).max() or 1.0
    fig, axes = plt.subplots(1, len(kernel), figsize=(2.2 * len(kernel), 2.4))
    for t, ax in enumerate(np.atleast_1d(axes)):
        ax.imshow(kernel[t], cmap="bwr", vmin=-vmax, vmax=vmax)
        for (r, c), v in np.ndenumerate(kernel[t]):
            ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8)
        ax.set_title(f"time offset {t}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_motion_responses(clips: dict[str, np.ndarray], kernel: np.ndarray, *, frames: int = 4):
    """For each named clip (T, H, W): a few input frames, then the kernel's ReLU response at the same times."""
    import matplotlib.pyplot as plt

    if not isinstance(clips, dict) or not clips:
        raise TypeError("plot_motion_responses(clips): expected a non-empty dict {name: (T, H, W) clip}")
    responses = {name: kernel_response(clip, kernel) for name, clip in clips.items()}
    vmax = max(r.max() for r in responses.values()) or 1.0
    n_show = min(frames, min(len(r) for r in responses.values()))
    width = min(9.6, 1.2 * 2 * n_show)              # at most ~10 inches: a notebook shows it without shrinking it
    fig, axes = plt.subplots(len(clips), 2 * n_show, figsize=(width, 1.35 * len(clips) + 0.5), squeeze=False)
    for row, (name, clip) in enumerate(clips.items()):
        for j in range(n_show):
            ax = axes[row, j]
            ax.imshow(clip[j], cmap="gray", vmin=0, vmax=max(clip.max(), 1e-12))
            ax.set_title(f"frame {j}", fontsize=8)
            ax2 = axes[row, n_show + j]
            ax2.imshow(responses[name][j], cmap="magma", vmin=0, vmax=vmax)
            ax2.set_title(f"response {j}", fontsize=8)
        axes[row, 0].set_ylabel(name, fontsize=9)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"input frames (left) and ReLU(kernel * clip) (right, same colour scale, max {vmax:.3g})", fontsize=9)
    fig.tight_layout()
    return fig
