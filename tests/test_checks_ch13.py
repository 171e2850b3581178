"""Exercise checks of chapter 13: right answers pass, typical mistakes fail, unfinished code is reported."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from course.checks import ch13_training as ch13
from course.train import expected_calibration_error, l1_penalty


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def _not_done(*args):
    raise NotImplementedError


def test_l1_penalty():
    assert ch13.l1_penalty(l1_penalty).passed
    with_bias = lambda m: sum(p.abs().sum() for p in m.parameters())  # noqa: E731
    assert not ch13.l1_penalty(with_bias).passed
    no_grad = lambda m: torch.tensor(float(l1_penalty(m).detach()))  # noqa: E731
    result = ch13.l1_penalty(no_grad)
    assert not result.passed and "gradient" in result.cases[0].message
    assert ch13.l1_penalty(_not_done).not_implemented


def test_splits():
    def strat(labels, f, seed):
        return tuple(train_test_split(np.arange(len(labels)), test_size=f, stratify=labels, random_state=seed))

    def keras(labels, f, seed):
        n = len(labels)
        m = int(n * f)
        return np.arange(n - m), np.arange(n - m, n)

    def grouped(groups, f, seed):
        return next(GroupShuffleSplit(n_splits=1, test_size=f, random_state=seed).split(groups, groups=groups))

    assert ch13.stratified_split(strat).passed
    assert not ch13.stratified_split(keras).passed
    assert ch13.group_split(grouped).passed
    assert not ch13.group_split(lambda g, f, s: strat(np.zeros(len(g), int), f, s)).passed
    assert not ch13.group_split(lambda g, f, s: (np.arange(len(g)), np.arange(2))).passed   # overlapping
    assert ch13.group_split(_not_done).not_implemented


def test_average_per_video():
    def right(p, ids):
        u = torch.unique(ids)
        return u, torch.stack([p[ids == v].mean(0) for v in u])

    def summed(p, ids):
        u = torch.unique(ids)
        return u, torch.stack([p[ids == v].sum(0) for v in u])

    assert ch13.average_per_video(right).passed
    assert not ch13.average_per_video(summed).passed
    assert not ch13.average_per_video(lambda p, ids: p).passed
    assert ch13.average_per_video(_not_done).not_implemented


def test_expected_calibration_error():
    assert ch13.expected_calibration_error(lambda p, y, b: expected_calibration_error(p, y, num_bins=b)).passed

    def unweighted(p, y, b):
        bins = __import__("course.train", fromlist=["reliability_bins"]).reliability_bins(p, y, num_bins=b)
        used = bins.counts > 0
        return float(np.abs(bins.accuracy[used] - bins.confidence[used]).mean())

    assert not ch13.expected_calibration_error(unweighted).passed
    assert ch13.expected_calibration_error(_not_done).not_implemented


def test_occlusion_drops():
    def right(score_fn, clip):
        t = clip.shape[1]
        copies = clip[None].repeat(t, 1, 1, 1, 1)
        for i in range(t):
            copies[i, :, i] = clip.mean(dim=1)
        return score_fn(clip[None])[0] - score_fn(copies)

    def zero_fill(score_fn, clip):
        t = clip.shape[1]
        copies = clip[None].repeat(t, 1, 1, 1, 1)
        for i in range(t):
            copies[i, :, i] = 0
        return score_fn(clip[None])[0] - score_fn(copies)

    assert ch13.occlusion_drops(right).passed
    assert not ch13.occlusion_drops(zero_fill).passed
    assert ch13.occlusion_drops(_not_done).not_implemented
