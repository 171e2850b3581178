"""Exercise checks of chapter 15: right answers pass, typical mistakes fail, unfinished code is reported."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.checks import ch15_efficient_inference as ch15


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def _not_done(*args):
    raise NotImplementedError


def _kd(s, t, y, T, a, t_squared=True):
    soft = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction="batchmean")
    return a * (T * T if t_squared else 1) * soft + (1 - a) * F.cross_entropy(s, y)


def _int8(w, per_channel=True):
    flat = np.abs(w.reshape(len(w), -1)).max(1) if per_channel else np.full(len(w), np.abs(w).max())
    s = np.where(flat == 0, 1, flat / 127).astype(np.float32)
    return np.clip(np.round(w / s.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8), s


def _crop(frames, crop, mean, std, normalise=True):
    h, w = frames.shape[1:3]
    top, left = round((h - crop[0]) / 2), round((w - crop[1]) / 2)
    x = frames[:, top:top + crop[0], left:left + crop[1]].astype(np.float32) / 255
    if normalise:
        x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x.transpose(3, 0, 1, 2)


@pytest.mark.parametrize("check,right,wrong", [
    (ch15.latency_percentiles, lambda t: tuple(np.percentile(t, [50, 90, 99])),
     lambda t: (float(np.mean(t)), float(np.max(t)), float(np.max(t)))),
    (ch15.quantize_int8, _int8, lambda w: _int8(w, per_channel=False)),
    (ch15.filter_l1_norms, lambda w: w.abs().flatten(1).sum(1), lambda w: w.flatten(1).sum(1)),
    (ch15.distillation_loss, _kd, lambda *a: _kd(*a, t_squared=False)),
    (ch15.prediction_entropy, lambda p: -(p * np.log(np.clip(p, 1e-12, 1))).sum(1),
     lambda p: -(p * np.log2(np.clip(p, 1e-12, 1))).sum(1)),
    (ch15.centre_crop_normalise, _crop, lambda *a: _crop(*a, normalise=False)),
])
def test_right_answers_pass_typical_mistakes_fail(check, right, wrong):
    assert check(right).passed
    assert not check(wrong).passed
    assert check(_not_done).not_implemented


def test_entropy_without_clipping_is_caught_by_the_certain_case():
    def unclipped(p):  # the learner's mistake: 0 * log 0 gives NaN (NumPy's warnings silenced, not the mistake)
        with np.errstate(divide="ignore", invalid="ignore"):
            return -(p * np.log(p)).sum(1)

    result = ch15.prediction_entropy(unclipped)
    assert not result.passed and not result.cases[1].passed
