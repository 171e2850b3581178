"""Noticing drift in a deployed model (chapter 15): cheap statistics of what comes in and of what the model says.

A model in service sees no labels, so it cannot measure its accuracy. It can watch two things:

- the **inputs**: per-clip brightness (mean), contrast (standard deviation) and motion (mean absolute difference
  between consecutive frames) — a new camera, a lighting change, a different frame rate move them;
- its own **confidence**: the largest softmax probability and the entropy of the prediction — on unfamiliar inputs
  a classifier is usually less sure.

:class:`DriftMonitor` averages each statistic over a sliding window of clips and compares the window mean with the
same statistic on clean validation clips, as a z-score: ``|window mean - clean mean| / (clean std / sqrt(window))``.
The alarm threshold of each statistic is chosen on clean validation data: windows of clean clips drawn at random
(a bootstrap, because a validation set holds few windows) give the distribution of the z-score when nothing has
changed, and the threshold is its ``1 - false_alarm`` quantile. Statistics far from Gaussian (a confident model's
maximum probability sits near 1 with a few outliers) get a fair threshold this way. The chapter measures how often the
monitor fires on held-out clean clips (false alarms) and on drifted clips (detections). This module needs only NumPy.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

__all__ = ["clip_statistics", "confidence_statistics", "DriftMonitor", "STATISTICS"]

#: The statistics :func:`clip_statistics` and :func:`confidence_statistics` compute, in this order.
STATISTICS = ("brightness", "contrast", "motion", "confidence", "entropy")


def clip_statistics(clips: np.ndarray) -> dict[str, np.ndarray]:
    """Input statistics of clips (N, C, T, H, W) (floats, as the model gets them) -> ``{"brightness", "contrast",
    "motion"}``, each (N,)."""
    clips = np.asarray(clips, dtype=np.float32)
    if clips.ndim != 5 or clips.shape[2] < 2:
        raise ValueError(f"clip_statistics(clips): expected (N, C, T, H, W) with T >= 2, got {clips.shape}")
    flat = clips.reshape(len(clips), -1)
    motion = np.abs(np.diff(clips, axis=2)).reshape(len(clips), -1).mean(axis=1)
    return {"brightness": flat.mean(axis=1), "contrast": flat.std(axis=1), "motion": motion}


def confidence_statistics(probs: np.ndarray) -> dict[str, np.ndarray]:
    """Prediction statistics of softmax probabilities (N, K) -> ``{"confidence": max probability, "entropy": in
    nats}``, each (N,)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2 or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"confidence_statistics(probs): expected softmax probabilities (N, K) whose rows sum to 1, "
                         f"got shape {probs.shape}")
    entropy = -(probs * np.log(np.clip(probs, 1e-12, 1.0))).sum(axis=1)
    return {"confidence": probs.max(axis=1), "entropy": entropy}


def _windows(values: np.ndarray, window: int) -> np.ndarray:
    """Means of every run of ``window`` consecutive values -> (len - window + 1,)."""
    cumulative = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    return (cumulative[window:] - cumulative[:-window]) / window


@dataclass
class DriftMonitor:
    """Sliding-window z-scores of clip statistics against clean validation data, with per-statistic thresholds.

    ``window``: clips per window; ``false_alarm``: the share of clean windows allowed above each threshold;
    ``statistics``: which of :data:`STATISTICS` to watch; ``draws``, ``seed``: the bootstrap of :meth:`fit`.
    Call :meth:`fit` on clean validation statistics first.
    """

    window: int = 32
    false_alarm: float = 0.01
    statistics: tuple[str, ...] = STATISTICS
    draws: int = 2000
    seed: int = 0
    reference: dict = field(default_factory=dict, repr=False)
    thresholds: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.window, bool) or not isinstance(self.window, numbers.Integral) or self.window < 2:
            raise ValueError(f"DriftMonitor(window): expected an int >= 2, got {self.window!r}")
        if isinstance(self.false_alarm, bool) or not isinstance(self.false_alarm, numbers.Real) \
                or not 0 < self.false_alarm < 0.5:
            raise ValueError(f"DriftMonitor(false_alarm): expected a fraction in (0, 0.5), got {self.false_alarm!r}")
        if isinstance(self.draws, bool) or not isinstance(self.draws, numbers.Integral) or self.draws < 100:
            raise ValueError(f"DriftMonitor(draws): expected an int >= 100, got {self.draws!r}")
        unknown = [s for s in self.statistics if s not in STATISTICS]
        if unknown or not self.statistics:
            raise ValueError(f"DriftMonitor(statistics): expected names from {STATISTICS}, got {self.statistics!r}")

    def _check(self, stats: dict, fn: str) -> int:
        if not isinstance(stats, dict) or any(s not in stats for s in self.statistics):
            raise ValueError(f"DriftMonitor.{fn}(stats): expected a dict with {self.statistics}, e.g. "
                             "clip_statistics(clips) | confidence_statistics(probs)")
        lengths = {len(np.asarray(stats[s])) for s in self.statistics}
        if len(lengths) != 1 or min(lengths) < self.window:
            raise ValueError(f"DriftMonitor.{fn}(stats): expected equally long statistics with at least window="
                             f"{self.window} clips, got lengths {sorted(lengths)}")
        return lengths.pop()

    def fit(self, stats: dict) -> "DriftMonitor":
        """Learn the clean mean and spread of each statistic, and each threshold, from clean validation clips."""
        n = self._check(stats, "fit")
        self.reference, self.thresholds = {}, {}
        rng = np.random.default_rng(self.seed)
        picks = rng.integers(0, n, size=(self.draws, self.window))       # random windows of clean clips
        for name in self.statistics:
            values = np.asarray(stats[name], dtype=np.float64)
            mean, std = float(values.mean()), float(values.std()) + 1e-12
            self.reference[name] = (mean, std)
            z = np.abs(values[picks].mean(axis=1) - mean) / (std / np.sqrt(self.window))
            self.thresholds[name] = float(np.quantile(z, 1 - self.false_alarm))
        return self

    def scores(self, stats: dict) -> dict[str, np.ndarray]:
        """z-score of every window of every statistic -> ``{name: (num_windows,)}``."""
        if not self.reference:
            raise RuntimeError("DriftMonitor.scores: call fit(clean validation statistics) first")
        self._check(stats, "scores")
        out = {}
        for name in self.statistics:
            mean, std = self.reference[name]
            out[name] = np.abs(_windows(np.asarray(stats[name], dtype=np.float64), self.window) - mean) \
                / (std / np.sqrt(self.window))
        return out

    def alarms(self, stats: dict) -> dict[str, np.ndarray]:
        """Which windows raise an alarm -> ``{name: bool (num_windows,)}`` plus ``"any"`` (any statistic fired)."""
        scores = self.scores(stats)
        out = {name: scores[name] > self.thresholds[name] for name in self.statistics}
        out["any"] = np.logical_or.reduce([out[name] for name in self.statistics])
        return out

    def alarm_rate(self, stats: dict) -> dict[str, float]:
        """Fraction of windows with an alarm, per statistic and ``"any"``: the detection rate on drifted data, the
        false-alarm rate on clean data."""
        return {name: float(fired.mean()) for name, fired in self.alarms(stats).items()}
