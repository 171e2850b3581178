"""Checks for chapter 15 (efficient inference and deployment).

References come from the course's own code: :class:`course.timing.LatencyStats`, :mod:`course.efficiency` and
:mod:`course.deploy`; the symmetric int8 rule is checked against hand-computed values too.
"""
from __future__ import annotations

import numpy as np
import torch

from ..deploy.clip_spec import ClipSpec
from ..deploy.monitor import confidence_statistics
from ..efficiency.distill import distillation_loss as _distillation_loss
from ..timing import LatencyStats
from .core import Case, CheckResult, check_function


def _reference_percentiles(times):
    stats = LatencyStats.from_times(times, threads=1)
    return stats.p50, stats.p90, stats.p99


def latency_percentiles(fn) -> CheckResult:
    """Check ``fn(times) -> (p50, p90, p99)``: percentiles of a list of durations (linear interpolation)."""
    rng = np.random.default_rng(0)
    cases = [
        Case(([1.0, 2.0, 3.0, 4.0, 5.0],), name="five runs", expected=(3.0, 4.6, 4.96)),
        Case((list(range(1, 101)),), name="1 .. 100 ms"),
        Case(([7.0],), name="a single run: every percentile is that run", expected=(7.0, 7.0, 7.0)),
        Case((list(rng.lognormal(2.0, 0.3, 200)) + [80.0, 95.0],), name="a long tail: p99 sees it, p50 does not",
             hint="use np.percentile(times, [50, 90, 99]) (linear interpolation between the sorted runs)"),
        Case(([5.0, 1.0, 3.0],), name="the runs in any order", expected=(3.0, 4.6, 4.96)),
    ]
    return check_function(fn, cases, title="latency_percentiles", reference=_reference_percentiles,
                          hint="np.percentile(times, [50, 90, 99]) returns all three at once")


def _reference_int8(w):
    w = np.asarray(w, dtype=np.float32)
    scale = np.abs(w.reshape(len(w), -1)).max(axis=1) / 127
    scale = np.where(scale == 0, 1.0, scale).astype(np.float32)
    shape = (-1,) + (1,) * (w.ndim - 1)
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def _compare_int8(got, expected):
    if not isinstance(got, tuple) or len(got) != 2:
        return f"expected a tuple (q, scale), got {type(got).__name__}"
    q, scale = got
    if not isinstance(q, np.ndarray) or q.dtype != np.int8:
        return f"q: expected an int8 NumPy array, got {getattr(q, 'dtype', type(q).__name__)}"
    if q.shape != expected[0].shape:
        return f"q: expected shape {expected[0].shape}, got {q.shape}"
    if not np.allclose(np.asarray(scale, dtype=np.float64), expected[1], rtol=1e-5):
        return f"scale: expected {np.round(expected[1], 6).tolist()}, got {np.round(np.asarray(scale), 6).tolist()}"
    off = np.abs(q.astype(int) - expected[0].astype(int)).max()
    return None if off == 0 else f"q differs from the reference by up to {off} steps"


def quantize_int8(fn) -> CheckResult:
    """Check ``fn(w) -> (q int8, scale (out,))``: symmetric per-output-channel int8, scale = max|w[o]| / 127."""
    rng = np.random.default_rng(1)
    small = np.array([[0.5, -1.0, 0.25], [2.0, 0.0, -0.5]], dtype=np.float32)
    cases = [
        Case((small,), name="two channels", expected=(np.array([[64, -127, 32], [127, 0, -32]], np.int8),
                                                      np.array([1 / 127, 2 / 127], np.float32)),
             hint="channel 0: scale = 1.0 / 127; 0.5 / scale = 63.5 rounds to 64 (np.round rounds half to even: "
                  "64 is even)"),
        Case((rng.normal(0, 0.1, (8, 3, 3, 3, 3)).astype(np.float32),), name="a Conv3d weight (8, 3, 3, 3, 3)",
             hint="one scale per output channel: take max |w| over every axis but the first"),
        Case((np.zeros((2, 4), np.float32),), name="an all-zero channel: scale 1, not a division by zero",
             expected=(np.zeros((2, 4), np.int8), np.ones(2, np.float32))),
    ]
    return check_function(fn, cases, title="quantize_int8", reference=_reference_int8, compare_fn=_compare_int8,
                          hint="scale = max|w[o]| / 127 per output channel o; q = round(w / scale), clipped to "
                               "[-127, 127], as int8")


def _reference_l1(weight):
    return torch.as_tensor(weight).detach().abs().flatten(1).sum(dim=1)


def filter_l1_norms(fn) -> CheckResult:
    """Check ``fn(weight) -> (out_channels,)``: the L1 norm of each output filter of a conv weight."""
    torch.manual_seed(0)
    cases = [
        Case((torch.tensor([[[[[1.0, -2.0]]]], [[[[0.5, 0.5]]]]]),), name="two 1x1x2 filters",
             expected=torch.tensor([3.0, 1.0])),
        Case((torch.randn(8, 3, 3, 3, 3),), name="a Conv3d weight (8, 3, 3, 3, 3)"),
        Case((torch.randn(4, 6, 1, 3, 3),), name="a (1, 3, 3) kernel"),
    ]
    return check_function(fn, cases, title="filter_l1_norms", reference=_reference_l1,
                          hint="weight.abs() summed over every axis but the first (flatten(1).sum(1))")


def _reference_kd(student, teacher, labels, temperature, alpha):
    return _distillation_loss(student, teacher, labels, temperature=temperature, alpha=alpha)


def distillation_loss(fn) -> CheckResult:
    """Check ``fn(student_logits, teacher_logits, labels, temperature, alpha) -> scalar``."""
    torch.manual_seed(2)
    s, t, y = torch.randn(6, 5), torch.randn(6, 5) * 3, torch.randint(0, 5, (6,))
    cases = [
        Case((s, t, y, 1.0, 0.0), name="alpha = 0: only the cross-entropy with the labels"),
        Case((s, t, y, 1.0, 1.0), name="alpha = 1, T = 1: only the KL term"),
        Case((s, t, y, 4.0, 1.0), name="T = 4: the KL of softened distributions times T^2",
             hint="multiply the KL term by T * T: softening shrinks its gradients by 1 / T^2"),
        Case((s, t, y, 3.0, 0.5), name="half and half at T = 3"),
        Case((t, t, y, 2.0, 1.0), name="a student equal to the teacher: the KL term is 0", expected=torch.tensor(0.0)),
    ]
    return check_function(fn, cases, title="distillation_loss", reference=_reference_kd, rtol=1e-4, atol=1e-6,
                          hint="F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='batchmean') "
                               "* T**2 * alpha + (1 - alpha) * F.cross_entropy(s, y)")


def _reference_entropy(probs):
    return confidence_statistics(probs)["entropy"]


def prediction_entropy(fn) -> CheckResult:
    """Check ``fn(probs) -> (N,)``: the entropy (nats) of each row of softmax probabilities; 0 * log 0 counts as 0."""
    rng = np.random.default_rng(3)
    p = rng.dirichlet(np.ones(10), size=6)
    cases = [
        Case((np.array([[0.5, 0.5], [0.25, 0.75]]),), name="two 2-class predictions",
             expected=np.array([np.log(2), -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))])),
        Case((np.array([[1.0, 0.0, 0.0]]),), name="a certain prediction: entropy 0 (no NaN from 0 * log 0)",
             expected=np.array([0.0]), hint="np.log(0) is -inf and 0 * -inf is NaN: clip the probabilities first"),
        Case((np.full((2, 4), 0.25),), name="uniform over 4 classes: log 4", expected=np.full(2, np.log(4))),
        Case((p,), name="10 classes"),
    ]
    return check_function(fn, cases, title="prediction_entropy", reference=_reference_entropy, rtol=1e-6, atol=1e-9,
                          hint="-(p * log p).sum(axis=1), with log of np.clip(p, 1e-12, 1)")


def _reference_clip(frames, crop, mean, std):
    spec = ClipSpec(("a", "b"), clip_len=len(frames), crop=tuple(crop), mean=tuple(mean), std=tuple(std))
    return spec.clips(frames)[0]


def centre_crop_normalise(fn) -> CheckResult:
    """Check ``fn(frames, crop, mean, std) -> (3, T, h, w)``: centre crop, scale to [0, 1], normalise, channels first."""
    rng = np.random.default_rng(4)
    frames = rng.integers(0, 256, (4, 10, 14, 3), dtype=np.uint8)
    cases = [
        Case((frames, (6, 8), (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)), name="10x14 frames, 6x8 crop"),
        Case((frames, (10, 14), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)), name="no crop, no normalisation: just / 255"),
        Case((frames, (7, 9), (0.4, 0.5, 0.6), (0.2, 0.3, 0.4)), name="an odd margin (3 and 5 pixels) and per-channel "
             "statistics", hint="top = round((H - h) / 2), left = round((W - w) / 2), as torchvision's CenterCrop"),
    ]
    return check_function(fn, cases, title="centre_crop_normalise", reference=_reference_clip, rtol=1e-5, atol=1e-5,
                          hint="crop, then / 255, then (x - mean) / std per channel, then transpose (T, h, w, C) -> "
                               "(C, T, h, w)")
