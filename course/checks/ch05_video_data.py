"""Checks for chapter 05 (video as data): clip layout, a looping clip sampler, a consistent random crop, a dataset item."""
from __future__ import annotations

import numpy as np
import torch

from ..data.sampling import center_clip_indices
from ..data.transforms import to_float_clip
from .core import DEFAULT_TIME_LIMIT, Case, CaseRunner, CheckResult, check_function


def _frames(t: int, h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (t, h, w, c), dtype=np.uint8)


def to_clip(fn) -> CheckResult:
    """Check ``fn(frames)``: uint8 NumPy frames (T, H, W, C) -> float32 torch clip (C, T, H, W) with values in [0, 1]."""

    def reference(frames):
        return to_float_clip(frames)

    def compare(got, expected):
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor, got {type(got).__name__} (torch.from_numpy turns an array into one)"
        if got.dtype != torch.float32:
            return f"expected dtype torch.float32, got {got.dtype}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"expected shape {tuple(expected.shape)} = (C, T, H, W), got {tuple(got.shape)}"
        if not torch.allclose(got, expected, atol=1e-6):
            if got.max() > 1.5:
                return "values go above 1: divide by 255"
            return "the values are in the wrong places: check the order of axes in permute"
        return None

    cases = [
        Case((_frames(4, 5, 6),), name="4 frames of 5x6 RGB"),
        Case((_frames(1, 8, 8),), name="a single frame"),
        Case((_frames(3, 4, 4, c=1),), name="greyscale (C = 1)"),
        Case((np.full((2, 2, 2, 3), 255, np.uint8),), name="white frames become 1.0"),
    ]
    return check_function(fn, cases, title="to_clip", reference=reference, compare_fn=compare,
                          hint="torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255")


def _reference_clip_indices(num_frames, start, clip_len, step):
    return (start + step * np.arange(clip_len)) % num_frames


def clip_indices(fn) -> CheckResult:
    """Check ``fn(num_frames, start, clip_len, step)``: ``clip_len`` frame indices ``step`` apart from ``start``,
    looping back to frame 0 past the end of the video (the course's short-video policy)."""

    def compare(got, expected):
        try:
            got = np.asarray(got)
        except Exception:  # noqa: BLE001
            return f"expected an array of ints, got {type(got).__name__}"
        if got.shape != expected.shape:
            return f"expected {expected.shape[0]} indices, got shape {got.shape}"
        if not np.issubdtype(got.dtype, np.integer):
            return (f"frame indices must be ints, got dtype {got.dtype} ({got.tolist()}): a frame number is a whole "
                    f"number — keep to ints (no /, no float arrays)")
        if not np.array_equal(got, expected):
            return f"expected {expected.tolist()}, got {got.tolist()}"
        return None

    cases = [
        Case((100, 10, 4, 1), name="4 consecutive frames from frame 10", expected=np.array([10, 11, 12, 13])),
        Case((100, 0, 4, 3), name="every 3rd frame", expected=np.array([0, 3, 6, 9])),
        Case((10, 7, 5, 1), name="runs past the end: loops to the start", expected=np.array([7, 8, 9, 0, 1]),
             hint="the index after the last frame (num_frames - 1) is 0: use % num_frames"),
        Case((5, 0, 12, 1), name="video much shorter than the clip"),
        Case((6, 4, 4, 2), name="looping with step 2"),
    ]
    return check_function(fn, cases, title="clip_indices", reference=_reference_clip_indices, compare_fn=compare,
                          hint="start + step * np.arange(clip_len), then % num_frames")


def _reference_corner(h: int, w: int, size: int, seed: int) -> tuple[int, int]:
    g = torch.Generator().manual_seed(seed)
    top = int(torch.randint(0, h - size + 1, (1,), generator=g).item())
    left = int(torch.randint(0, w - size + 1, (1,), generator=g).item())
    return top, left


def random_crop_clip(fn) -> CheckResult:
    """Check ``fn(clip, size, generator)``: crop the same random ``size`` x ``size`` window from every frame of a
    float clip (C, T, H, W), drawing the window's corner with ``torch.randint(..., generator=generator)`` — top first,
    then left, each from 0 to ``H - size`` / ``W - size`` inclusive. The corner must be the reference draw for the
    same seed, which catches code that ignores ``generator`` (the global RNG) or never picks the last window."""
    clip = torch.rand(3, 6, 20, 24, generator=torch.Generator().manual_seed(0))

    def window(frame_out, frame_in, size):
        h, w = frame_in.shape[-2:]
        for top in range(h - size + 1):
            for left in range(w - size + 1):
                if torch.equal(frame_in[..., top:top + size, left:left + size], frame_out):
                    return top, left
        return None

    def compare(got, expected):
        x, size, seed = expected
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor, got {type(got).__name__}"
        want = (x.shape[0], x.shape[1], size, size)
        if tuple(got.shape) != want:
            return f"expected shape {want} = (C, T, size, size), got {tuple(got.shape)}"
        corners = [window(got[:, t], x[:, t], size) for t in range(x.shape[1])]
        if any(c is None for c in corners):
            return "some output frame is not a window of its input frame (crop all channels of frame t from frame t)"
        if len(set(corners)) > 1:
            return f"frames were cropped at different places {sorted(set(corners))}: draw the corner ONCE per clip"
        reference = _reference_corner(x.shape[2], x.shape[3], size, seed)
        if corners[0] != reference:
            return (f"cropped at (top, left) = {corners[0]}, but torch.Generator().manual_seed({seed}) gives "
                    f"{reference}: draw top, then left, with generator=generator (not the global RNG), each with "
                    f"upper bound H - size + 1 / W - size + 1 (randint's high is excluded)")
        return None

    def corners_vary(seed_list, size):
        seen = set()
        for seed in seed_list:
            out = fn(clip.clone(), size, torch.Generator().manual_seed(seed))
            seen.add(window(out[:, 0], clip[:, 0], size))
        return len(seen)

    sizes_seeds = [(8, 0), (8, 1), (16, 2), (20, 3)] + [(19, seed) for seed in range(4, 10)]
    last = "with size 19 on 20 rows the last window (top = 1) must be possible: torch.randint(0, H - size + 1, ...)"
    cases = [Case((clip, size, torch.Generator().manual_seed(seed)), name=f"crop {size}x{size}, seed {seed}",
                  expected=(clip, size, seed), hint=last if size == 19 else None) for size, seed in sizes_seeds]
    result = check_function(fn, cases, title="random_crop_clip", compare_fn=compare, report=False,
                            hint="top = torch.randint(0, H - size + 1, (1,), generator=generator).item(), "
                                 "the same for left; then clip[:, :, top:top + size, left:left + size]")
    def varies():
        return None if corners_vary(range(12), 8) > 1 else ("every seed gave the same window: the corner must be "
                                                            "random (use the generator)")

    run = CaseRunner(DEFAULT_TIME_LIMIT, after=result)   # skipped if a case above ran out of time
    result.cases.append(run("different seeds give different windows", varies,
                            hint="pass generator=generator to torch.randint"))
    return result.report()


def _reference_item(videos, labels, index, clip_len):
    frames = videos[index]
    idx = center_clip_indices(len(frames), clip_len)
    return to_float_clip(frames[idx]), labels[index]


def center_clip_item(fn) -> CheckResult:
    """Check ``fn(videos, labels, index, clip_len)`` -> (float clip (C, clip_len, H, W), label): the centre clip of
    video ``index`` (a list of uint8 (T, H, W, C) arrays), as a dataset's ``__getitem__`` returns it."""
    videos = [_frames(t, 6, 8, seed=t) for t in (20, 9, 16, 4)]
    labels = [2, 0, 1, 1]

    def compare(got, expected):
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "expected a pair (clip, label)"
        clip, label = got
        exp_clip, exp_label = expected
        if label != exp_label:
            return f"expected label {exp_label}, got {label!r}"
        if not isinstance(clip, torch.Tensor) or tuple(clip.shape) != tuple(exp_clip.shape):
            return f"expected a tensor of shape {tuple(exp_clip.shape)}, got {getattr(clip, 'shape', type(clip).__name__)}"
        if not torch.allclose(clip.float(), exp_clip, atol=1e-6):
            return "right shape, wrong frames: take the clip from the middle, start = (T - clip_len) // 2"
        return None

    cases = [
        Case((videos, labels, 0, 8), name="20 frames -> frames 6..13"),
        Case((videos, labels, 2, 16), name="clip as long as the video"),
        Case((videos, labels, 1, 4), name="odd leftover: start = (9 - 4) // 2 = 2"),
        Case((videos, labels, 3, 6), name="video shorter than the clip: loop", hint="use your clip_indices with % T"),
    ]
    return check_function(fn, cases, title="center_clip_item", reference=_reference_item, compare_fn=compare,
                          hint="start = max(0, (T - clip_len) // 2); indices loop with % T; then to_clip(frames[idx])")
