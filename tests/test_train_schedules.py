"""course.train LR schedules (warm-up + cosine / step decay) and precision choice."""
from __future__ import annotations

import math

import pytest
import torch

from course.train import (choose_precision, lr_trace, warmup_cosine, warmup_cosine_factor, warmup_step_decay,
                          warmup_step_decay_factor)


@pytest.mark.parametrize("warmup, total, floor", [(0, 10, 0.0), (3, 10, 0.0), (5, 20, 0.1), (4, 4, 0.0)])
def test_warmup_cosine_shape(warmup, total, floor):
    f = [warmup_cosine_factor(s, warmup, total, floor) for s in range(total + 3)]
    ramp = f[:warmup]
    assert all(b > a for a, b in zip(ramp, ramp[1:])), "warm-up increases"
    assert all(r == pytest.approx((i + 1) / warmup) for i, r in enumerate(ramp)), "warm-up is linear"
    if warmup:
        assert f[warmup - 1] == pytest.approx(1.0)
    decay = f[warmup:total + 1]
    assert decay[0] == pytest.approx(1.0)
    assert all(b <= a + 1e-12 for a, b in zip(decay, decay[1:])), "decay never increases"
    if total > warmup:
        assert f[total] == pytest.approx(floor) and f[-1] == pytest.approx(floor)
        mid = warmup + (total - warmup) / 2
        if mid == int(mid):
            assert f[int(mid)] == pytest.approx((1 + floor) / 2), "half way down at the middle of the cosine"


def test_step_decay_multiplies_by_gamma_every_step_size():
    f = [warmup_step_decay_factor(s, 2, 3, 0.5) for s in range(11)]
    assert f[:2] == pytest.approx([0.5, 1.0])
    for s in range(2, 11):
        assert f[s] == pytest.approx(0.5 ** ((s - 2) // 3))


def test_lambda_lr_follows_the_factor_and_survives_state_dict():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.3)
    sched = warmup_cosine(opt, 3, 12, min_factor=0.05)
    assert lr_trace(lambda o: warmup_cosine(o, 3, 12, min_factor=0.05), 12, base_lr=0.3) == pytest.approx(
        [0.3 * warmup_cosine_factor(s, 3, 12, 0.05) for s in range(12)])
    for _ in range(5):
        opt.step()
        sched.step()
    state = sched.state_dict()
    opt2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    sched2 = warmup_cosine(opt2, 3, 12, min_factor=0.05)
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr())
    trace = lr_trace(lambda o: warmup_step_decay(o, 2, 4, gamma=0.1), 10, base_lr=1.0)
    assert trace == pytest.approx([warmup_step_decay_factor(s, 2, 4, 0.1) for s in range(10)])


@pytest.mark.parametrize("call, error, match", [
    (lambda: warmup_cosine_factor(-1, 2, 10), ValueError, "step"),
    (lambda: warmup_cosine_factor(0, 20, 10), ValueError, "warmup_steps"),
    (lambda: warmup_cosine_factor(0, 2, 0), ValueError, "total_steps"),
    (lambda: warmup_cosine_factor(1.5, 2, 10), TypeError, "step"),
    (lambda: warmup_cosine_factor(0, 2, 10, 2.0), ValueError, "min_factor"),
    (lambda: warmup_step_decay_factor(0, 2, 0), ValueError, "step_size"),
    (lambda: warmup_step_decay_factor(0, 2, 3, gamma=-0.1), ValueError, "gamma"),
    (lambda: warmup_cosine("sgd", 2, 10), TypeError, "optimizer"),
    (lambda: warmup_step_decay(None, 2, 3), TypeError, "optimizer"),
    (lambda: lr_trace(lambda o: warmup_cosine(o, 1, 5), 0), ValueError, "steps"),
    (lambda: lr_trace(5, 10), TypeError, "make_scheduler"),
])
def test_schedule_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_precision_choices():
    cpu = choose_precision("cpu")
    assert not cpu.enabled and cpu.make_scaler() is None and "float32" in cpu.describe()
    assert choose_precision("cpu", True).dtype is torch.bfloat16
    bf16 = choose_precision("cuda", bf16_supported=True)
    assert bf16.dtype is torch.bfloat16 and not bf16.scaler
    fp16 = choose_precision("cuda", bf16_supported=False)
    assert fp16.dtype is torch.float16 and fp16.scaler and "GradScaler" in fp16.describe()
    assert not choose_precision("cuda", False).enabled
    assert choose_precision("cuda", torch.float16).scaler


def test_cpu_autocast_context_runs_matmul_in_bfloat16():
    a = torch.randn(4, 4)
    with choose_precision("cpu", True).autocast():
        assert (a @ a).dtype is torch.bfloat16
    with choose_precision("cpu").autocast():
        assert (a @ a).dtype is torch.float32


@pytest.mark.parametrize("args, match", [(("cpu", "fast"), "amp"), (("cpu", torch.float16), "float16"),
                                         (("nonsense",), "device")])
def test_precision_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        choose_precision(*args)


def test_factor_is_finite_everywhere():
    assert all(math.isfinite(warmup_cosine_factor(s, 7, 50, 0.01)) for s in range(200))
