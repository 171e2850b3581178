"""course.efficiency.study: the shared measurement row, the table, the drifts and the distillation student."""
from __future__ import annotations

import pytest
import torch

from course.efficiency.study import (DRIFTS, Task, accuracy, drift_clips, format_table, measure, student_c3d,
                                     torch_predict)
from course.models import c3d_small


def _task(n=8):
    torch.manual_seed(0)
    x, y = torch.rand(n, 3, 16, 32, 32), torch.arange(n) % 10
    return Task(x, y, x, y, x, y)


def test_measure_reports_every_column_and_format_table_prints_them():
    task = _task()
    model = c3d_small().eval()
    row = measure("fp32", torch_predict(model), task, params=123, nbytes=2_000_000, runs=3, warmup=1, batch=4)
    assert {"variant", "params", "mb", "p50_ms", "p90_ms", "clips_per_s", "acc"} <= set(row)
    assert row["mb"] == 2.0 and row["p90_ms"] >= row["p50_ms"] > 0 and 0 <= row["acc"] <= 1
    assert row["acc"] == accuracy(torch_predict(model), task.test_x, task.test_y)
    text = format_table([row, {"variant": "missing values"}])
    assert "fp32" in text and "p50 ms (b=1)" in text and text.splitlines()[-1].strip().endswith("-")


@pytest.mark.parametrize("kind", list(DRIFTS))
def test_every_drift_keeps_the_shape_and_the_range_and_changes_the_clips(kind):
    x = _task().test_x
    out = drift_clips(kind, x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert not torch.allclose(out, x)
    with pytest.raises(ValueError, match=r"drift_clips\(kind\)"):
        drift_clips("fog", x)


def test_student_is_about_a_quarter_of_the_teacher():
    student, teacher = student_c3d(), c3d_small()
    ratio = sum(p.numel() for p in teacher.parameters()) / sum(p.numel() for p in student.parameters())
    assert 3 < ratio < 5
    assert student(torch.rand(2, 3, 16, 32, 32)).shape == (2, 10)
