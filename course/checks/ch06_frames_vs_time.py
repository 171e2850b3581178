"""Checks for chapter 06 (frames vs time).

References are independent of the learner's code: torch reshapes and reductions, and
:func:`course.viz.frames_vs_time.within_pair_accuracy`.
"""
from __future__ import annotations

import numpy as np

from ..viz.frames_vs_time import within_pair_accuracy as _within_pair_accuracy
from .core import Case, CheckResult, check_function

_PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]


def _reference_stack(clips):
    return clips.flatten(1, 2)


def stack_frames(fn) -> CheckResult:
    """Check ``fn(clips) -> (N, C*T, H, W)`` for clips (N, C, T, H, W): channel c of frame t goes to c*T + t."""
    import torch

    g = torch.Generator().manual_seed(6)
    cases = [
        Case((torch.rand(2, 3, 4, 5, 6, generator=g),), name="RGB clips of 4 frames"),
        Case((torch.rand(1, 1, 16, 8, 8, generator=g),), name="one grey-scale clip of 16 frames"),
        Case((torch.arange(2 * 2 * 3 * 1 * 1, dtype=torch.float32).reshape(2, 2, 3, 1, 1),),
             name="order of the stacked channels", hint="keep the channel axis first: index c*T + t, as flatten(1, 2)"),
    ]
    return check_function(fn, cases, title="stack_frames", reference=_reference_stack,
                          hint="(N, C, T, H, W) -> (N, C*T, H, W): a reshape that merges dims 1 and 2")


def _reference_pool(features, mode="mean"):
    return features.mean(dim=1) if mode == "mean" else features.amax(dim=1)


def temporal_pool(fn) -> CheckResult:
    """Check ``fn(features, mode) -> (N, F)`` for per-frame features (N, T, F), mode "mean" or "max"."""
    import torch

    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 5, 4, generator=g)
    cases = [
        Case((x, "mean"), name="mean over time"),
        Case((x, "max"), name="max over time", hint="torch.amax(features, dim=1) (or .max(dim=1).values)"),
        Case((x.flip(1), "mean"), expected=_reference_pool(x, "mean"), name="reversed clip, same result (mean)"),
        Case((torch.randn(1, 1, 7, generator=g), "max"), name="a single frame"),
    ]
    return check_function(fn, cases, title="temporal_pool", reference=_reference_pool, rtol=1e-5, atol=1e-6,
                          hint="pool over dim 1 (time) of (N, T, F)")


def within_pair_accuracy(fn) -> CheckResult:
    """Check ``fn(preds, labels, pairs) -> float``: accuracy among clips whose pair was predicted right."""
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, size=200)
    perfect = labels.copy()
    twin = labels ^ 1                                   # always the time-reversed twin
    coin = np.where(rng.random(200) < 0.5, labels, twin)
    wrong_pair = (labels + 2) % 10
    mixed = np.where(rng.random(200) < 0.3, wrong_pair, coin)
    cases = [
        Case((perfect, labels, _PAIRS), name="all right -> 1.0"),
        Case((twin, labels, _PAIRS), name="always the twin -> 0.0"),
        Case((coin, labels, _PAIRS), name="a coin flip within each pair -> about 0.5"),
        Case((mixed, labels, _PAIRS), name="wrong-pair predictions are left out",
             hint="count only clips whose prediction is in the same pair as the label"),
    ]
    return check_function(fn, cases, title="within_pair_accuracy", reference=_within_pair_accuracy, atol=1e-9,
                          hint="keep clips whose predicted class is i or j for their pair (i, j); accuracy among them")
