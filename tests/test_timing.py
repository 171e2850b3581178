"""course.timing: best-of-N timing and thread limits."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info

from course.timing import LatencyStats, best_time, latency, limited_threads


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


def test_latency_percentiles_of_the_timed_runs_after_warmup(monkeypatch):
    import course.timing

    clock = [0.0]
    durations = iter([9.0, 9.0] + [float(i) for i in range(1, 101)])   # two warm-up calls, then 1 .. 100 seconds
    calls = []

    def fn():
        calls.append(1)
        clock[0] += next(durations)

    monkeypatch.setattr(course.timing.time, "perf_counter", lambda: clock[0])
    stats = latency(fn, warmup=2, runs=100, threads=1)
    assert len(calls) == 102 and stats.runs == 100 and stats.threads == 1
    expected = np.percentile(np.arange(1, 101, dtype=float), [50, 90, 99])
    assert (stats.p50, stats.p90, stats.p99) == tuple(expected)
    assert stats.mean == 50.5 and stats.min == 1.0 and stats.max == 100.0   # the 9-second warm-ups are not counted
    assert stats.ms()["p50_ms"] == expected[0] * 1e3
    assert "p99" in str(stats)


def test_latency_runs_on_the_thread_count_asked_for():
    seen = []
    latency(lambda: seen.append(torch.get_num_threads()), warmup=1, runs=2, threads=1)
    assert seen == [1, 1, 1]


def test_latency_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"latency\(fn\)"):
        latency(3)
    for kwargs, name in (({"runs": 0}, "runs"), ({"warmup": -1}, "warmup"), ({"threads": 0}, "threads"),
                         ({"runs": 2.5}, "runs")):
        with pytest.raises(ValueError, match=rf"latency\({name}\)"):
            latency(lambda: None, **kwargs)
    with pytest.raises(ValueError, match="from_times"):
        LatencyStats.from_times([], threads=1)
