"""Checks for chapter 14 (real videos).

References come from :mod:`course.data.motion` and :mod:`course.train.real_video`; the Wilson interval is also checked
against hand-computed values (statsmodels' ``proportion_confint(method="wilson")`` gives the same numbers).
"""
from __future__ import annotations

import numpy as np

from ..data.motion import active_clip_fraction, clip_motion, motion_energy as _motion_energy
from ..train.real_video import wilson_interval as _wilson
from .core import Case, CheckResult, check_function, compare_ints


def _moving_square(num_frames=5, size=12, speed=2, start=1, channels=3):
    """A white 3 x 3 square moving right by ``speed`` pixels per frame on black: uint8 (T, H, W, C)."""
    frames = np.zeros((num_frames, size, size, channels), np.uint8)
    for t in range(num_frames):
        x = start + speed * t
        frames[t, 4:7, x:x + 3] = 255
    return frames


def wilson_interval(fn) -> CheckResult:
    """Check ``fn(successes, n) -> (low, high)``: the 95% Wilson score interval."""
    cases = [
        Case((8, 10), name="8 of 10 correct", expected=(0.4901625, 0.9433178)),
        Case((20, 20), name="all 20 correct: the interval does not collapse to 100%", expected=(0.8388748, 1.0),
             hint="the Wilson interval is centred at (p + z²/2n) / (1 + z²/n), not at p"),
        Case((0, 5), name="none of 5 correct", expected=(0.0, 0.4344825)),
        Case((61, 64), name="61 of 64 (a KTH validation set)"),
        Case((500, 1000), name="half of 1000: close to p ± 1.96 sqrt(p(1-p)/n)"),
    ]
    return check_function(fn, cases, title="wilson_interval", reference=lambda s, n: _wilson(s, n), rtol=1e-4,
                          atol=1e-5, hint="z = 1.96; centre = (p + z²/(2n)) / (1 + z²/n); "
                                          "half-width = z sqrt(p(1-p)/n + z²/(4n²)) / (1 + z²/n)")


def motion_energy(fn) -> CheckResult:
    """Check ``fn(frames) -> (T - 1,)``: mean absolute difference of consecutive frames, uint8 scaled to [0, 1]."""
    square = _moving_square()
    still = np.full((4, 8, 8, 3), 90, np.uint8)
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (5, 6, 10, 3), dtype=np.uint8)
    cases = [
        Case((still,), name="a still video has zero energy", expected=np.zeros(3)),
        Case((square,), name="a 3x3 white square moving 2 px/frame on a 12x12 frame",
             expected=np.full(4, 2 * 3 * 2 * 255 / (12 * 12 * 255)),
             hint="each step, 6 pixels turn white and 6 turn black: 12 pixels change by 1.0 out of 144"),
        Case((noisy,), name="random frames (uint8: convert to float before subtracting!)",
             hint="uint8 arithmetic wraps around: 3 - 5 = 254. Convert with .astype(np.float32) first"),
        Case((noisy[..., 0],), name="greyscale frames (T, H, W)"),
    ]
    return check_function(fn, cases, title="motion_energy", reference=_motion_energy, rtol=1e-4, atol=1e-6,
                          hint="np.abs(frames[1:] - frames[:-1]).mean(axis=(1, 2, 3)) on float frames / 255")


def _reference_active_fraction(energy, clip_len, threshold):
    return active_clip_fraction(energy, clip_len, threshold=threshold)


def active_fraction(fn) -> CheckResult:
    """Check ``fn(energy, clip_len, threshold) -> float``: the fraction of clip positions whose mean energy is at least
    ``threshold`` (a tie counts as motion)."""
    burst = np.r_[np.zeros(10), np.ones(5), np.zeros(10)]  # 26 frames; motion between frames 10 and 15
    cases = [
        Case((burst, 4, 0.5), name="a burst of motion in a 26-frame video, 4-frame clips"),
        Case((burst, 16, 0.1), name="16-frame clips"),
        Case((np.full(30, 0.01), 16, 0.02), name="a still video: no clip shows motion", expected=0.0),
        Case((np.full(8, 0.3), 16, 0.1), name="a video shorter than one clip: one (looping) position",
             hint="with fewer than clip_len frames there is a single clip position: the whole video"),
        Case((np.linspace(0, 1, 40), 8, 0.5), name="motion growing over time"),
        Case((np.r_[np.zeros(6), np.full(14, 0.5)], 5, 0.5), name="clips exactly at the threshold count as moving",
             hint="'at least threshold' is >=, not >: a clip whose mean energy equals the threshold is active"),
    ]
    return check_function(fn, cases, title="active_fraction", reference=_reference_active_fraction,
                          hint="a clip of clip_len frames spans clip_len - 1 energy values; average each window "
                               "(np.convolve or cumulative sums) and count windows >= threshold")


def _reference_busiest_start(energy, clip_len):
    return int(np.argmax(clip_motion(energy, clip_len)))


def busiest_clip_start(fn) -> CheckResult:
    """Check ``fn(energy, clip_len) -> int``: the start frame of the clip with the highest mean motion energy (an int:
    a float start is refused, and the message says so)."""
    burst = np.r_[np.zeros(20), np.ones(6), np.zeros(30)]
    cases = [
        Case((burst, 4), name="a short burst: the clip sits inside it"),
        Case((burst, 16), name="a clip longer than the burst: the first clip that covers it all",
             hint="ties: return the earliest start (np.argmax does)"),
        Case((np.r_[np.ones(3), np.zeros(40), np.full(5, 0.9)], 4), name="two bursts: the stronger wins"),
        Case((np.arange(30.0), 16), name="motion growing over time: the last clip"),
    ]
    return check_function(fn, cases, title="busiest_clip_start", reference=_reference_busiest_start,
                          compare_fn=_compare_start)


def _compare_start(got, expected) -> str | None:
    """A start frame is an index: an int, exactly (np.argmax gives a NumPy int, which is fine)."""
    if isinstance(got, (float, np.floating)):
        return (f"returned {got!r}, a float: a start frame is an index, so return an int "
                f"(int(np.argmax(...)); true division / or np.mean give floats)"
                + ("" if float(got) == expected else f" — and the value is wrong too: expected {expected}"))
    return compare_ints(got, expected)


def _reference_person_split(names, persons):
    out = {subset: [] for subset in persons}
    for name in names:
        person = int(name[6:8])
        for subset, members in persons.items():
            if person in members:
                out[subset].append(name)
    return out


def person_split(fn) -> CheckResult:
    """Check ``fn(names, persons) -> {subset: [names]}``: KTH file names grouped by the person's subset."""
    persons = {"train": (11, 12), "val": (1, 4), "test": (2, 22)}
    names = ["person11_walking_d1_uncomp.avi", "person01_running_d2_uncomp.avi", "person22_walking_d4_uncomp.avi",
             "person12_running_d3_uncomp.avi", "person04_walking_d1_uncomp.avi", "person02_running_d1_uncomp.avi"]
    cases = [
        Case((names, persons), name="one video per person"),
        Case((names + ["person07_boxing_d1_uncomp.avi"], persons), name="a person in no subset is left out"),
        Case((names[:2], persons), name="a subset with no video gets an empty list",
             hint="start from {subset: [] for subset in persons}"),
        Case((["person01_walking_d1_uncomp.avi", "person10_running_d1_uncomp.avi"], {"a": (1,), "b": (10,)}),
             name="person 10 is not person 1 (read both digits)"),
    ]
    return check_function(fn, cases, title="person_split", reference=_reference_person_split,
                          compare_fn=_compare_person_split)


def _compare_person_split(got, expected) -> str | None:
    """What differs between the learner's {subset: names} and the expected one, subset by subset, in words."""
    if not isinstance(got, dict):
        return f"expected a dict {{subset: [names]}}, got {type(got).__name__}"
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected), key=repr)
        return (f"expected the subsets {sorted(expected)}" + (f"; missing {missing}" if missing else "")
                + (f"; not asked for {extra}" if extra else "")
                + (" (every subset gets a list, even an empty one)" if missing else ""))
    for subset, want in expected.items():
        names = got[subset]
        if not isinstance(names, (list, tuple)):
            return f"subset {subset!r}: expected a list of names, got {type(names).__name__}"
        names = list(names)
        if names == want:
            continue
        if sorted(names, key=repr) == sorted(want, key=repr):
            return (f"subset {subset!r}: the right names, but in a different order — keep the order of `names` "
                    f"(expected {want}, got {names})")
        missing = [n for n in want if n not in names]
        extra = [n for n in names if n not in want]
        if len(names) != len(set(map(repr, names))) and not missing and not extra:
            return f"subset {subset!r}: a name appears more than once: {names}"
        return (f"subset {subset!r}: " + (f"missing {missing}" if missing else "")
                + ("; " if missing and extra else "") + (f"should not hold {extra}" if extra else ""))
    return None
