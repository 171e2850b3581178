"""Chapter 17: next-frame prediction and denoising, seen — the per-horizon error curve of a model against the
baselines, true vs predicted frames (the blur of long horizons), a scrubber over a predicted clip, denoised frames."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _gray(clip, name: str) -> np.ndarray:
    """A one-channel clip (1, T, H, W) tensor/array -> float array (T, H, W) in [0, 1]."""
    try:
        array = clip.detach().cpu().numpy() if hasattr(clip, "detach") else np.asarray(clip, dtype=np.float32)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a tensor or array (1, T, H, W), got {type(clip).__name__}") from None
    if array.ndim != 4 or array.shape[0] != 1:
        raise ValueError(f"{name}: expected one clip of shape (1, T, H, W), got shape {array.shape}")
    return np.clip(array[0].astype(np.float32), 0.0, 1.0)


def plot_horizon_mse(curves: Mapping[str, Sequence[float]], *, ax=None, title: str = "error at each predicted step"):
    """One line per name: MSE (y) at predicted step 1..horizon (x) — the model against the baselines.

    ``curves``: ``{name: per-step MSE (horizon,)}``, e.g. from :func:`course.train.prediction.per_horizon_mse`.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("plot_horizon_mse(curves): expected a non-empty dict {name: per-step MSE}")
    lengths = {len(np.atleast_1d(np.asarray(v, dtype=float))) for v in curves.values()}
    if len(lengths) != 1:
        raise ValueError(f"plot_horizon_mse(curves): every curve needs the same number of steps, got {sorted(lengths)}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    styles = {"copy last frame": "--", "mean frame": ":"}
    for name, values in curves.items():
        values = np.asarray(values, dtype=float)
        ax.plot(np.arange(1, len(values) + 1), values, styles.get(name, "-"), marker="o", markersize=3, label=name)
    ax.set_xlabel("predicted step (frames after the last one seen)")
    ax.set_ylabel("MSE per pixel (test clips)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_prediction_frames(past, future, predictions: Mapping[str, object], *, steps: Sequence[int] | None = None,
                           title: str = ""):
    """Rows: the true future, then each prediction; columns: the last frame seen, then the predicted ``steps``
    (1-based, default 1, 3, 5, ... up to the horizon). One clip: past (1, T_in, H, W), future and each prediction
    (1, horizon, H, W). Returns the figure."""
    import matplotlib.pyplot as plt

    seen, truth = _gray(past, "plot_prediction_frames(past)"), _gray(future, "plot_prediction_frames(future)")
    if not isinstance(predictions, Mapping) or not predictions:
        raise ValueError("plot_prediction_frames(predictions): expected a non-empty dict {name: (1, horizon, H, W)}")
    rows = {"true future": truth}
    for name, clip in predictions.items():
        rows[name] = _gray(clip, f"plot_prediction_frames(predictions[{name!r}])")
        if rows[name].shape != truth.shape:
            raise ValueError(f"plot_prediction_frames(predictions[{name!r}]): expected shape {truth.shape} like the "
                             f"future, got {rows[name].shape}")
    horizon = truth.shape[0]
    steps = list(range(1, horizon + 1, 2)) if steps is None else [int(s) for s in steps]
    if not steps or not all(1 <= s <= horizon for s in steps):
        raise ValueError(f"plot_prediction_frames(steps): expected steps in 1..{horizon}, got {steps}")
    fig, axes = plt.subplots(len(rows), len(steps) + 1, figsize=(1.25 * (len(steps) + 1) + 1.2, 1.35 * len(rows)),
                             squeeze=False)
    for r, (name, frames) in enumerate(rows.items()):
        images = [seen[-1]] + [frames[s - 1] for s in steps]
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image, cmap="gray", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("last seen" if c == 0 else f"+{steps[c - 1]}", fontsize=9)
        axes[r, 0].set_ylabel(name, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def side_by_side(past, future, predicted, *, gap: int = 2) -> np.ndarray:
    """One clip for a scrubber: the observed frames, then [true | predicted] future frames side by side, with a
    grey gap column. past (1, T_in, H, W), future and predicted (1, horizon, H, W) -> (1, T_in + horizon, H,
    2W + gap) float32 in [0, 1] (during the observed frames both halves show the truth)."""
    seen = _gray(past, "side_by_side(past)")
    truth, guess = _gray(future, "side_by_side(future)"), _gray(predicted, "side_by_side(predicted)")
    if truth.shape != guess.shape or seen.shape[1:] != truth.shape[1:]:
        raise ValueError(f"side_by_side: expected future and predicted of the same shape and frames as big as the "
                         f"past's, got past {seen.shape}, future {truth.shape}, predicted {guess.shape}")
    left = np.concatenate([seen, truth])
    right = np.concatenate([seen, guess])
    middle = np.full((left.shape[0], left.shape[1], gap), 0.5, dtype=np.float32)
    return np.concatenate([left, middle, right], axis=2)[None]


def prediction_scrubber(past, future, predicted, *, width: int = 360, title: str = ""):
    """The course's video scrubber (:func:`course.viz.video.video_scrubber`) over :func:`side_by_side`: the true
    clip on the left, the model's on the right; the first ``T_in`` frames are the ones the model saw. Returns the
    widget."""
    from .video import video_scrubber

    seen = _gray(past, "prediction_scrubber(past)").shape[0]
    clip = side_by_side(past, future, predicted)
    label = title or f"left: true, right: predicted (frames {seen} onwards are predicted)"
    return video_scrubber(clip, width=width, title=label)


def plot_denoising(clean, noisy, outputs: Mapping[str, object], *, frame: int = 0,
                   scores: Mapping[str, float] | None = None):
    """One frame of a clip: clean, noisy and each denoiser's output side by side, with their PSNR in the titles if
    ``scores`` ({name: dB}, including ``"noisy input"``) is given. Clips (1, T, H, W). Returns the figure."""
    import matplotlib.pyplot as plt

    clean_f = _gray(clean, "plot_denoising(clean)")
    panels = {"clean": clean_f, "noisy input": _gray(noisy, "plot_denoising(noisy)")}
    for name, clip in outputs.items():
        panels[name] = _gray(clip, f"plot_denoising(outputs[{name!r}])")
    if any(p.shape != clean_f.shape for p in panels.values()):
        raise ValueError("plot_denoising: every clip must have the clean clip's shape (1, T, H, W)")
    if not 0 <= frame < clean_f.shape[0]:
        raise ValueError(f"plot_denoising(frame): expected 0..{clean_f.shape[0] - 1}, got {frame!r}")
    fig, axes = plt.subplots(1, len(panels), figsize=(2.2 * len(panels), 2.6), squeeze=False)
    for ax, (name, frames) in zip(axes[0], panels.items()):
        ax.imshow(frames[frame], cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        score = (scores or {}).get(name)
        ax.set_title(name if score is None else f"{name}\n{score:.1f} dB", fontsize=9)
    fig.tight_layout()
    return fig
