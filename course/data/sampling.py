"""Which frames of a video make a clip: frame-index samplers.

Every sampler returns a NumPy int64 array of shape (clip_len,) of frame indices in ``[0, num_frames)``, in time order,
that :func:`course.data.read_frames` (or indexing a decoded (T, H, W, C) tensor) turns into a clip.

- :func:`uniform_indices`: ``clip_len`` frames spread evenly from the first frame to the last (sees the whole video,
  at a frame rate that depends on the video's length).
- :func:`random_clip_indices`: ``clip_len`` consecutive frames (every ``step``-th) at a random start: the usual
  training sampler for 3D CNNs (C3D uses 16 consecutive frames); :func:`center_clip_indices` is its deterministic
  evaluation twin.
- :func:`segment_indices`: TSN-style (Wang et al. 2016): cut the video into ``num_segments`` equal segments and take
  one frame from each, at random (training) or at the centre (evaluation).

**Short-video policy.** A contiguous clip needs ``(clip_len - 1) * step + 1`` frames. When a video is shorter the
default policy is ``short="loop"``: the indices wrap around to the start, as if the video played again. Looping keeps
real motion in every frame; ``"pad"`` (repeat the last frame: the video freezes) and ``"error"`` (raise ``ValueError``)
are available. Uniform and segment sampling never need a policy: with fewer frames than asked for they repeat frames,
which is the same clip played in slow motion.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["uniform_indices", "random_clip_indices", "center_clip_indices", "segment_indices", "sample_indices",
           "STRATEGIES", "SHORT_POLICIES"]

#: Names accepted by :func:`sample_indices` (and ``VideoFolder(sampling=...)``).
STRATEGIES = ("random", "center", "uniform", "segments", "segments_center")
#: What a contiguous sampler does with a video shorter than the clip (see the module docstring).
SHORT_POLICIES = ("loop", "pad", "error")


def _positive_int(value, name: str, fn: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{fn}({name}): expected a positive int, got {value!r}")
    return int(value)


def _randint(high: int, generator: torch.Generator | None) -> int:
    # torch's RNG, not NumPy's: DataLoader workers each get their own torch seed, so clips differ across workers.
    return int(torch.randint(high, (1,), generator=generator).item())


def uniform_indices(num_frames: int, clip_len: int) -> np.ndarray:
    """``clip_len`` indices spread evenly over the whole video, first and last frame included -> (clip_len,) int64.

    ``uniform_indices(10, 4)`` is ``[0, 3, 6, 9]``; with ``num_frames < clip_len`` frames repeat.
    """
    num_frames = _positive_int(num_frames, "num_frames", "uniform_indices")
    clip_len = _positive_int(clip_len, "clip_len", "uniform_indices")
    return np.rint(np.linspace(0, num_frames - 1, clip_len)).astype(np.int64)


def _contiguous(start: int, num_frames: int, clip_len: int, step: int, short: str) -> np.ndarray:
    idx = start + step * np.arange(clip_len, dtype=np.int64)
    if short == "loop":
        return idx % num_frames
    return np.minimum(idx, num_frames - 1)  # "pad": repeat the last frame


def _check_contiguous(num_frames, clip_len, step, short, fn: str) -> tuple[int, int, int, int]:
    num_frames = _positive_int(num_frames, "num_frames", fn)
    clip_len = _positive_int(clip_len, "clip_len", fn)
    step = _positive_int(step, "step", fn)
    if short not in SHORT_POLICIES:
        raise ValueError(f"{fn}(short): expected one of {SHORT_POLICIES}, got {short!r}")
    span = (clip_len - 1) * step + 1
    if span > num_frames and short == "error":
        raise ValueError(f"{fn}: a clip of {clip_len} frames with step {step} spans {span} frames, but the video has "
                         f"only {num_frames} (use short='loop' or short='pad' to sample it anyway)")
    return num_frames, clip_len, step, span


def random_clip_indices(num_frames: int, clip_len: int, *, step: int = 1, short: str = "loop",
                        generator: torch.Generator | None = None) -> np.ndarray:
    """``clip_len`` frames, ``step`` apart, starting at a random frame -> (clip_len,) int64.

    Every start that keeps the clip inside the video is equally likely. Videos shorter than the clip follow ``short``
    (see the module docstring). ``generator`` is an optional ``torch.Generator`` for reproducible draws.
    """
    num_frames, clip_len, step, span = _check_contiguous(num_frames, clip_len, step, short, "random_clip_indices")
    start = _randint(num_frames - span + 1, generator) if span <= num_frames else 0
    return _contiguous(start, num_frames, clip_len, step, short)


def center_clip_indices(num_frames: int, clip_len: int, *, step: int = 1, short: str = "loop") -> np.ndarray:
    """The contiguous clip (``step`` apart) in the middle of the video -> (clip_len,) int64. For evaluation."""
    num_frames, clip_len, step, span = _check_contiguous(num_frames, clip_len, step, short, "center_clip_indices")
    start = (num_frames - span) // 2 if span <= num_frames else 0
    return _contiguous(start, num_frames, clip_len, step, short)


def segment_indices(num_frames: int, num_segments: int, *, random: bool = True,
                    generator: torch.Generator | None = None) -> np.ndarray:
    """TSN sampling: split ``[0, num_frames)`` into ``num_segments`` equal segments, one frame from each -> (num_segments,).

    ``random=True`` (training) picks a random frame inside each segment; ``random=False`` (evaluation) picks each
    segment's centre frame, ``floor((i + 0.5) * num_frames / num_segments)``.
    """
    num_frames = _positive_int(num_frames, "num_frames", "segment_indices")
    num_segments = _positive_int(num_segments, "num_segments", "segment_indices")
    if not isinstance(random, bool):
        raise TypeError(f"segment_indices(random): expected True or False, got {random!r}")
    edges = np.arange(num_segments + 1, dtype=np.float64) * num_frames / num_segments
    if not random:
        return np.floor((edges[:-1] + edges[1:]) / 2).astype(np.int64)
    offsets = torch.rand(num_segments, generator=generator, dtype=torch.float64).numpy()
    idx = np.floor(edges[:-1] + offsets * (edges[1:] - edges[:-1])).astype(np.int64)
    return np.clip(idx, 0, num_frames - 1)


def sample_indices(num_frames: int, clip_len: int, strategy: str = "random", *, step: int = 1, short: str = "loop",
                   generator: torch.Generator | None = None) -> np.ndarray:
    """Pick the frame indices of one clip by strategy name -> (clip_len,) int64.

    ``strategy``: ``"random"`` / ``"center"`` (contiguous clip, ``step`` and ``short`` apply), ``"uniform"``,
    ``"segments"`` (TSN, random frame per segment) or ``"segments_center"`` (TSN, centre frames).
    """
    if strategy == "random":
        return random_clip_indices(num_frames, clip_len, step=step, short=short, generator=generator)
    if strategy == "center":
        return center_clip_indices(num_frames, clip_len, step=step, short=short)
    if strategy == "uniform":
        return uniform_indices(num_frames, clip_len)
    if strategy == "segments":
        return segment_indices(num_frames, clip_len, random=True, generator=generator)
    if strategy == "segments_center":
        return segment_indices(num_frames, clip_len, random=False)
    raise ValueError(f"sample_indices(strategy): expected one of {STRATEGIES}, got {strategy!r}")
