"""Measuring speed honestly (chapters 02, 07, 09, 15): on a fixed number of threads, after a warm-up.

- :func:`best_time`: the fastest of a few runs, the one least disturbed by whatever else the machine is doing (the
  advice of Python's ``timeit``) — right for comparing two implementations of the same computation;
- :func:`latency`: the distribution of many runs (p50, p90, p99) — what a deployed model's user waits for (chapter
  15): the median says what is typical, the tail says how bad it gets.

Comparing two implementations is fair only when both get the same number of threads.
"""
from __future__ import annotations

import numbers
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable

import numpy as np


def best_time(fn: Callable[[], object], repeats: int = 3, *, warmup: int = 0) -> float:
    """Seconds taken by the fastest of ``repeats`` calls of ``fn()``, after ``warmup`` untimed calls."""
    if not callable(fn):
        raise TypeError(f"best_time(fn): expected a function of no arguments, got {type(fn).__name__}")
    for name, value, minimum in (("repeats", repeats, 1), ("warmup", warmup, 0)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"best_time({name}): expected an int >= {minimum}, got {value!r}")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


@contextmanager
def limited_threads(threads: int = 1):
    """Within the block, torch (when installed) and NumPy's BLAS use ``threads`` threads; the previous settings come
    back after."""
    from threadpoolctl import threadpool_limits

    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"limited_threads(threads): expected a positive int, got {threads!r}")
    try:
        import torch
    except ImportError:  # the deployment side of chapter 15 runs without PyTorch
        torch = None
    before = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(limits=int(threads)):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)


@dataclass(frozen=True)
class LatencyStats:
    """Seconds of ``runs`` timed calls: ``p50`` (the median), ``p90``, ``p99``, ``mean``, ``min``, ``max``, and the
    ``threads`` they ran on. ``times`` keeps every run (seconds, in the order they ran)."""

    p50: float
    p90: float
    p99: float
    mean: float
    min: float
    max: float
    runs: int
    threads: int
    times: tuple[float, ...]

    @classmethod
    def from_times(cls, times, *, threads: int) -> "LatencyStats":
        """Statistics of a sequence of durations in seconds (at least one)."""
        t = np.asarray(list(times), dtype=np.float64)
        if t.ndim != 1 or t.size == 0 or not np.all(np.isfinite(t)) or np.any(t < 0):
            raise ValueError("LatencyStats.from_times(times): expected a non-empty sequence of durations >= 0 seconds")
        p50, p90, p99 = np.percentile(t, [50, 90, 99])
        return cls(float(p50), float(p90), float(p99), float(t.mean()), float(t.min()), float(t.max()), int(t.size),
                   int(threads), tuple(float(x) for x in t))

    def ms(self) -> dict:
        """``{"p50_ms", "p90_ms", "p99_ms", "mean_ms", "runs", "threads"}``: the numbers of a table row."""
        return {"p50_ms": self.p50 * 1e3, "p90_ms": self.p90 * 1e3, "p99_ms": self.p99 * 1e3,
                "mean_ms": self.mean * 1e3, "runs": self.runs, "threads": self.threads}

    def __str__(self) -> str:
        return (f"p50 {self.p50 * 1e3:.2f} ms, p90 {self.p90 * 1e3:.2f} ms, p99 {self.p99 * 1e3:.2f} ms "
                f"({self.runs} runs, {self.threads} thread{'s' if self.threads != 1 else ''})")


def latency(fn: Callable[[], object], *, warmup: int = 3, runs: int = 30, threads: int = 1) -> LatencyStats:
    """Time ``runs`` calls of ``fn()`` after ``warmup`` untimed ones, with torch and BLAS on ``threads`` threads.

    Returns a :class:`LatencyStats` (p50/p90/p99 of the runs, in seconds). The warm-up calls pay for one-time costs —
    memory allocation, kernel selection, lazy initialisation — that a deployed model pays once, not per request.
    ``fn`` should do the whole request (e.g. ``lambda: model(clip)`` inside ``torch.inference_mode()``); an
    onnxruntime session's threads are fixed when the session is made, so make it with the same thread count.
    """
    if not callable(fn):
        raise TypeError(f"latency(fn): expected a function of no arguments, got {type(fn).__name__}")
    for name, value, minimum in (("warmup", warmup, 0), ("runs", runs, 1), ("threads", threads, 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"latency({name}): expected an int >= {minimum}, got {value!r}")
    times = []
    with limited_threads(int(threads)):
        for _ in range(warmup):
            fn()
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return LatencyStats.from_times(times, threads=int(threads))
