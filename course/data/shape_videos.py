"""Real video *files* from synthetic clips: a MovingShapes shape that moves slowly or fast for part of a longer,
otherwise still video — KTH's walking vs running in miniature (chapter 14).

KTH's lesson — the action fills only part of each video — can be reproduced without downloading anything:
:func:`write_shape_videos` renders a MovingShapes shape crossing part of the frame slowly ("slow") or fast
("fast"), holds its first frame still before the action and its last frame still after it (a still frame says
nothing about the speed), and encodes the result with PyAV into files named like KTH's::

    root/<class>/person<PP>_<class>_d<S>_uncomp.avi

with persons taken from KTH's official train / val / test lists, so the whole real-video recipe
(:func:`course.train.real_video.find_kth_videos`, decoding, motion-guided sampling, the person split) runs on them.
"""
from __future__ import annotations

import numbers
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

__all__ = ["write_shape_videos", "shape_video_frames", "SPEEDS"]


#: Class name -> range of the distance the shape travels during the action, as a fraction of the frame width.
SPEEDS = {"slow": (0.2, 0.3), "fast": (0.6, 0.8)}


def shape_video_frames(speed: str, *, seed: int = 0, index: int = 0, active_frames: int = 16, idle_before: int = 24,
                       idle_after: int = 24, size: int = 32, noise: float = 0.004) -> np.ndarray:
    """One video as uint8 frames (idle_before + active_frames + idle_after, size, size, 3).

    A MovingShapes shape (random shape, colour and background) moves left or right (at random) during
    ``active_frames`` frames, covering a distance that depends on ``speed`` ("slow" or "fast", see :data:`SPEEDS`):
    a miniature of KTH's walking vs running. Before the action its first frame stands still, after it its last frame;
    every frame has fresh pixel noise of standard deviation ``noise``. A still frame says nothing about the speed.
    """
    from .synthetic import MOVING_SHAPES_CLASSES, render_moving_shape, sample_shape_params

    if speed not in SPEEDS:
        raise ValueError(f"shape_video_frames(speed): expected one of {sorted(SPEEDS)}, got {speed!r}")
    for name, value, low in (("active_frames", active_frames, 2), ("idle_before", idle_before, 0),
                             ("idle_after", idle_after, 0), ("size", size, 16), ("index", index, 0), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"shape_video_frames({name}): expected an int >= {low}, got {value!r}")
    if size % 2:
        raise ValueError(f"shape_video_frames(size): expected an even size (video encoders need it), got {size}")
    rng = np.random.default_rng([seed, index, sorted(SPEEDS).index(speed)])
    params = sample_shape_params(rng, size=size, num_frames=active_frames, clutter=0, noise=0.0)
    params["travel"] = rng.uniform(*SPEEDS[speed]) * size
    params["radius"] = rng.uniform(0.14, 0.18) * size
    direction = MOVING_SHAPES_CLASSES.index("move_right" if rng.random() < 0.5 else "move_left")
    clip = render_moving_shape(direction, params, size=size, num_frames=active_frames)
    video = np.concatenate([np.repeat(clip[:1], idle_before, 0), clip, np.repeat(clip[-1:], idle_after, 0)])
    video = video + rng.normal(0, noise, video.shape).astype(np.float32)
    return (np.clip(video, 0, 1) * 255).round().astype(np.uint8)


def write_shape_videos(root, persons: Mapping[str, Sequence[int]] | None = None, *,
                       classes: Sequence[str] = ("slow", "fast"), scenarios: int = 1,
                       active_frames: int = 16, idle_frames: tuple[int, int] = (16, 64), size: int = 32,
                       ext: str = ".avi", fps: float = 25.0, seed: int = 0) -> list[Path]:
    """Write KTH-named videos of MovingShapes actions under ``root`` -> the list of paths written.

    One video per (person, class, scenario): ``root/<class>/person<PP>_<class>_d<S>_uncomp<ext>``. ``persons``
    maps subset names to person numbers (default: two persons from each of KTH's train, val and test lists).
    ``classes`` are speeds from :data:`SPEEDS`. Each video holds ``active_frames`` frames of action at a random place
    among ``idle_frames`` = (min, max) still frames in total. ``ext``: ".avi" (MPEG-4) or ".mp4" (H.264).
    """
    from .real_datasets import KTH_PERSONS
    from .video_io import write_video

    persons = dict(persons) if persons is not None else {k: v[:2] for k, v in KTH_PERSONS.items()}
    for subset, numbers_ in persons.items():
        if not all(isinstance(p, numbers.Integral) and not isinstance(p, bool) and 0 <= p <= 99 for p in numbers_):
            raise ValueError(f"write_shape_videos(persons): expected person numbers 0..99 for {subset!r}, got {numbers_!r}")
    unknown = [c for c in classes if c not in SPEEDS]
    if unknown or not classes:
        raise ValueError(f"write_shape_videos(classes): expected names from {sorted(SPEEDS)}, got {list(classes)!r}")
    if ext not in (".avi", ".mp4"):
        raise ValueError(f"write_shape_videos(ext): expected '.avi' or '.mp4', got {ext!r}")
    low, high = idle_frames
    if not 0 <= low <= high:
        raise ValueError(f"write_shape_videos(idle_frames): expected (min, max) with 0 <= min <= max, got {idle_frames!r}")
    root = Path(root)
    rng = np.random.default_rng(seed)
    written = []
    index = 0
    for subset in sorted(persons):
        for person in persons[subset]:
            for name in classes:
                for scenario in range(1, scenarios + 1):
                    idle = int(rng.integers(low, high + 1))
                    before = int(rng.integers(0, idle + 1))
                    frames = shape_video_frames(name, seed=seed, index=index,
                                                active_frames=active_frames, idle_before=before,
                                                idle_after=idle - before, size=size)
                    index += 1
                    path = root / name / f"person{person:02d}_{name}_d{scenario}_uncomp{ext}"
                    written.append(write_video(path, frames, fps, quality=10))
    return written
