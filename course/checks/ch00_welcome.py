"""Checks for chapter 00 (welcome)."""
from __future__ import annotations

import numpy as np

from ..viz.welcome import ball_position, bouncing_ball_clip
from .core import Case, CheckResult, check_function


def _reference_displacement(clip: np.ndarray, t0: int, t1: int) -> tuple[float, float]:
    (r0, c0), (r1, c1) = ball_position(clip[t0]), ball_position(clip[t1])
    return (r1 - r0, c1 - c0)


def ball_displacement(fn) -> CheckResult:
    """Check ``fn(clip, t0, t1) -> (d_row, d_col)``: how far the ball moved between frames t0 and t1."""
    clip = bouncing_ball_clip(24)
    cases = [
        Case((clip, 0, 1), name="one frame apart"),
        Case((clip, 0, 5), name="five frames apart"),
        Case((clip, 10, 3), name="backwards in time (t1 < t0)", hint="displacement is position(t1) - position(t0)"),
        Case((clip, 7, 7), name="same frame", expected=(0.0, 0.0)),
    ]
    return check_function(fn, cases, title="ball_displacement", reference=_reference_displacement, atol=1e-6,
                          hint="use ball_position(clip[t]) for each frame and subtract")
