"""Measuring speed honestly (chapters 02, 07, 09): the best of several runs, on a fixed number of threads.

The fastest of a few runs is the one least disturbed by whatever else the machine is doing (the advice of Python's
``timeit``); comparing two implementations is fair only when both get the same number of threads.
"""
from __future__ import annotations

import numbers
import time
from contextlib import contextmanager
from typing import Callable


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
    """Within the block, torch and NumPy's BLAS use ``threads`` threads; the previous settings come back after."""
    import torch
    from threadpoolctl import threadpool_limits

    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"limited_threads(threads): expected a positive int, got {threads!r}")
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(limits=int(threads)):
            yield
    finally:
        torch.set_num_threads(before)
