"""course.timing: best-of-N timing and thread limits."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from course.timing import best_time, limited_threads


def test_best_time_is_the_fastest_run_after_the_warmup(monkeypatch):
    import course.timing

    clock = [0.0]                                        # a fake clock: each call of fn() "takes" the next duration
    monkeypatch.setattr(course.timing.time, "perf_counter", lambda: clock[0])
    durations = iter([5.0, 3.0, 1.0, 2.0])               # the first is the warm-up and is not timed
    calls = []

    def fn():
        calls.append(1)
        clock[0] += next(durations)

    assert best_time(fn, repeats=3, warmup=1) == 1.0
    assert len(calls) == 4


def test_best_time_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"best_time\(fn\)"):
        best_time(None)
    with pytest.raises(ValueError, match=r"best_time\(repeats\)"):
        best_time(lambda: None, 0)
    with pytest.raises(ValueError, match=r"best_time\(warmup\)"):
        best_time(lambda: None, warmup=-1)


def test_limited_threads_limits_torch_and_blas_and_restores():
    before = torch.get_num_threads()
    with limited_threads(1):
        assert torch.get_num_threads() == 1
        np.ones((4, 4)) @ np.ones((4, 4))
        assert all(pool["num_threads"] == 1 for pool in threadpool_info() if pool["user_api"] == "blas")
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match=r"limited_threads\(threads\)"):
        with limited_threads(0):
            pass
