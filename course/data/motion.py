"""Where in a video to look: motion energy and motion-guided clip selection (chapter 14).

In real footage the action rarely fills the whole video. In KTH, a person walks into the frame, crosses it and leaves;
a random 16-frame clip often shows an empty background, and a model trained on such clips learns nothing. Motion
energy — the mean absolute difference between consecutive frames — is a cheap, label-free signal of *where something
happens*:

- :func:`motion_energy`: frames (T, H, W, C) -> energy (T - 1,), one value per pair of consecutive frames, in the
  units of the frames (for uint8 frames, scaled to [0, 1]);
- :func:`clip_motion`: the mean energy of every contiguous clip (one value per start frame);
- :func:`active_clip_fraction`: the fraction of clip positions whose mean energy is above a threshold ("does this clip
  show anything?");
- :func:`motion_clip_indices`: frame indices of clips chosen by their energy: at random with probability growing
  with the energy (training), or the most active non-overlapping clips (evaluation, one or several per video).
"""
from __future__ import annotations

import numbers

import numpy as np
import torch

__all__ = ["motion_energy", "clip_motion", "active_clip_fraction", "motion_clip_indices", "spread_clip_indices",
           "active_frames", "shows_action", "DEFAULT_MOTION_THRESHOLD"]

#: Mean absolute frame difference (frames scaled to [0, 1]) above which a clip counts as "showing motion":
#: one grey level in 255 per pixel on average. On KTH (160 x 120), compression noise on an empty background stays
#: near 0.002; a person crossing the frame gives 0.005-0.04.
DEFAULT_MOTION_THRESHOLD = 1.0 / 255


def _positive_int(value, name: str, fn: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{fn}({name}): expected a positive int, got {value!r}")
    return int(value)


def _as_energy(energy, fn: str) -> np.ndarray:
    if isinstance(energy, torch.Tensor):
        energy = energy.detach().cpu().numpy()
    energy = np.asarray(energy, dtype=np.float64) if isinstance(energy, (np.ndarray, list, tuple)) else None
    if energy is None or energy.ndim != 1 or energy.size == 0 or not np.all(np.isfinite(energy)):
        raise ValueError(f"{fn}(energy): expected a non-empty 1-D array of finite numbers (T - 1,), "
                         "e.g. from motion_energy(frames)")
    if energy.min() < 0:
        raise ValueError(f"{fn}(energy): motion energy is a mean absolute difference, so it cannot be negative; got "
                         f"{energy.min():.4g} at frame {int(energy.argmin())} (use motion_energy(frames))")
    return energy


def motion_energy(frames) -> np.ndarray:
    """Mean absolute difference between consecutive frames -> float64 array (T - 1,).

    ``frames``: (T, H, W, C) or (T, H, W), a tensor or NumPy array, T >= 2. uint8 frames are scaled to [0, 1] first,
    so the result does not depend on the storage type; float frames are used as they are. Entry ``t`` measures the
    change from frame ``t`` to frame ``t + 1``, averaged over pixels and channels.
    """
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"motion_energy(frames): expected a tensor or array (T, H, W, C), got {type(frames).__name__}")
    if frames.ndim not in (3, 4) or frames.shape[0] < 2:
        raise ValueError(f"motion_energy(frames): expected shape (T, H, W, C) or (T, H, W) with T >= 2, "
                         f"got {tuple(frames.shape)}")
    if frames.dtype == np.uint8:
        scale = 1.0 / 255
    elif np.issubdtype(frames.dtype, np.floating):
        scale = 1.0
    else:
        raise TypeError(f"motion_energy(frames): expected uint8 or float frames, got dtype {frames.dtype}")
    out = np.empty(frames.shape[0] - 1, dtype=np.float64)
    for t in range(frames.shape[0] - 1):  # frame by frame: a whole video in float would take gigabytes
        a = frames[t].astype(np.float32)
        b = frames[t + 1].astype(np.float32)
        out[t] = float(np.abs(b - a).mean()) * scale
    return out


def clip_motion(energy, clip_len: int, *, step: int = 1) -> np.ndarray:
    """Mean motion energy of every contiguous clip -> (max(T - span + 1, 1),), where span = (clip_len - 1) * step + 1.

    ``energy``: (T - 1,) from :func:`motion_energy` of a T-frame video. Entry ``s`` averages the energy between the
    clip's consecutive sampled frames (start ``s``, frames ``s, s + step, ...``), i.e. the energy of frame pairs
    ``s .. s + span - 2``. A video shorter than one clip gives one value: its mean energy.
    """
    energy = _as_energy(energy, "clip_motion")
    clip_len = _positive_int(clip_len, "clip_len", "clip_motion")
    step = _positive_int(step, "step", "clip_motion")
    num_frames = energy.size + 1
    span = (clip_len - 1) * step + 1
    if span > num_frames or span < 2:
        return np.array([energy.mean()])
    cumulative = np.concatenate([[0.0], np.cumsum(energy)])
    starts = np.arange(num_frames - span + 1)
    return (cumulative[starts + span - 1] - cumulative[starts]) / (span - 1)


def active_clip_fraction(energy, clip_len: int, *, step: int = 1,
                         threshold: float = DEFAULT_MOTION_THRESHOLD) -> float:
    """Fraction of clip start positions whose mean motion energy is at least ``threshold`` -> float in [0, 1].

    This is the probability that the default sampler (a random contiguous clip) shows motion at all.
    ``energy`` (T - 1,) from :func:`motion_energy`.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not np.isfinite(threshold):
        raise ValueError(f"active_clip_fraction(threshold): expected a finite number, got {threshold!r}")
    scores = clip_motion(energy, clip_len, step=step)
    return float((scores >= threshold).mean())


def active_frames(energy, *, threshold: float = DEFAULT_MOTION_THRESHOLD) -> np.ndarray:
    """Which frames take part in motion -> bool array (T,): frame t is active when the energy from t - 1 to t or from
    t to t + 1 is at least ``threshold``. ``energy``: (T - 1,) from :func:`motion_energy`."""
    energy = _as_energy(energy, "active_frames")
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) or not np.isfinite(threshold):
        raise ValueError(f"active_frames(threshold): expected a finite number, got {threshold!r}")
    busy = energy >= threshold
    out = np.zeros(energy.size + 1, dtype=bool)
    out[1:] |= busy
    out[:-1] |= busy
    return out


def shows_action(indices, active) -> bool:
    """True when at least half of the frames at ``indices`` (any shape) are active (``active`` (T,) from
    :func:`active_frames`): the clip shows the action rather than an empty or still scene."""
    indices = np.asarray(indices)
    active = np.asarray(active, dtype=bool)
    if indices.size == 0 or not np.issubdtype(indices.dtype, np.integer) or indices.min() < 0 or indices.max() >= active.size:
        raise ValueError(f"shows_action(indices): expected frame indices in [0, {active.size}), got {indices!r}")
    return bool(active[indices].mean() >= 0.5)


def _contiguous(start: int, num_frames: int, clip_len: int, step: int) -> np.ndarray:
    return (start + step * np.arange(clip_len, dtype=np.int64)) % num_frames  # a short video loops, like sampling.py


def motion_clip_indices(energy, clip_len: int, *, step: int = 1, num_clips: int = 1, random: bool = False,
                        power: float = 2.0, generator: torch.Generator | None = None) -> np.ndarray:
    """Frame indices of clips chosen by motion energy -> int64 array (num_clips, clip_len).

    - ``random=False`` (evaluation): the ``num_clips`` most active clips, chosen greedily so that they overlap by at
      most half a clip when the video is long enough; sorted by start frame.
    - ``random=True`` (training): ``num_clips`` starts drawn independently with probability proportional to
      ``clip_motion ** power`` (``power=0``: uniform, the naive sampler; larger: more strictly the busiest part).

    ``energy``: (T - 1,) from :func:`motion_energy` of a T-frame video. A video shorter than a clip loops.
    """
    energy = _as_energy(energy, "motion_clip_indices")
    clip_len = _positive_int(clip_len, "clip_len", "motion_clip_indices")
    step = _positive_int(step, "step", "motion_clip_indices")
    num_clips = _positive_int(num_clips, "num_clips", "motion_clip_indices")
    if not isinstance(random, bool):
        raise TypeError(f"motion_clip_indices(random): expected True or False, got {random!r}")
    if isinstance(power, bool) or not isinstance(power, numbers.Real) or not 0 <= power <= 16:
        raise ValueError(f"motion_clip_indices(power): expected a number in [0, 16], got {power!r}")
    num_frames = energy.size + 1
    scores = clip_motion(energy, clip_len, step=step)
    if random:
        weights = np.maximum(scores, 0.0) ** power
        total = weights.sum()
        probs = torch.as_tensor(weights / total if total > 0 else np.full(scores.size, 1.0 / scores.size))
        starts = torch.multinomial(probs, num_clips, replacement=True, generator=generator).numpy()
    else:
        span = (clip_len - 1) * step + 1
        chosen: list[int] = []
        for start in np.argsort(-scores, kind="stable"):
            if all(abs(int(start) - c) >= span // 2 for c in chosen):
                chosen.append(int(start))
            if len(chosen) == num_clips:
                break
        for start in np.argsort(-scores, kind="stable"):  # not enough room: allow overlapping clips
            if len(chosen) == num_clips:
                break
            if int(start) not in chosen:
                chosen.append(int(start))
        while len(chosen) < num_clips:  # fewer start positions than clips asked for
            chosen.append(chosen[len(chosen) % max(1, scores.size)])
        starts = np.sort(np.asarray(chosen))
    return np.stack([_contiguous(int(s), num_frames, clip_len, step) for s in starts])


def spread_clip_indices(num_frames: int, clip_len: int, *, step: int = 1, num_clips: int = 1) -> np.ndarray:
    """``num_clips`` contiguous clips with starts spread evenly over the video -> int64 array (num_clips, clip_len).

    The usual multi-clip evaluation that does not look at the content (e.g. 10 clips per video in C3D's paper).
    ``num_clips=1`` gives the centre clip. A video shorter than a clip loops.
    """
    num_frames = _positive_int(num_frames, "num_frames", "spread_clip_indices")
    clip_len = _positive_int(clip_len, "clip_len", "spread_clip_indices")
    step = _positive_int(step, "step", "spread_clip_indices")
    num_clips = _positive_int(num_clips, "num_clips", "spread_clip_indices")
    last = max(num_frames - ((clip_len - 1) * step + 1), 0)
    if num_clips == 1:
        starts = [last // 2]
    else:
        starts = np.rint(np.linspace(0, last, num_clips)).astype(np.int64)
    return np.stack([_contiguous(int(s), num_frames, clip_len, step) for s in starts])
