"""Chapter 17's exercise checks pass the reference solutions, fail typical mistakes with a useful message, and never
let a learner's exception escape."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.checks import ch17_prediction_generation as ch17
from course.models import ConvLSTMCell


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


def _step_with_the_course_cell(x, h, c, weight, bias):
    cell = ConvLSTMCell(x.shape[1], h.shape[1], weight.shape[-1])
    with torch.no_grad():
        cell.conv.weight.copy_(weight)
        cell.conv.bias.copy_(bias)
        return cell(x, (h, c))


def _step(order, *, pad=True, tanh_c=True):
    def step(x, h, c, weight, bias):
        gates = dict(zip(order, F.conv2d(torch.cat([x, h], 1), weight, bias,
                                         padding=weight.shape[-1] // 2 if pad else 0).chunk(4, 1)))
        c = torch.sigmoid(gates["f"]) * c + torch.sigmoid(gates["i"]) * torch.tanh(gates["g"])
        return torch.sigmoid(gates["o"]) * (torch.tanh(c) if tanh_c else c), c
    return step


def _psnr(p, t, r):
    mse = float(np.mean((np.asarray(p, float) - np.asarray(t, float)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(r ** 2 / mse)


def _psnr_zero_division(p, t, r):
    return 10 * math.log10(r ** 2 / float(np.mean((np.asarray(p, float) - np.asarray(t, float)) ** 2)))


CASES = {
    "convlstm_step": (_step_with_the_course_cell, [
        (_step("ifgo"[::-1]), "h:"), (_step("igfo"), "values differ"),
        (_step("ifgo", pad=False), "padding = kernel_size // 2"),
        (_step("ifgo", tanh_c=False), "h:")]),
    "copy_last_frame": (lambda past, k: past[:, :, -1:].repeat(1, 1, k, 1, 1), [
        (lambda past, k: past[:, :, :1].repeat(1, 1, k, 1, 1), "values differ"),
        (lambda past, k: past[:, :, -1], "shape")]),
    "per_horizon_mse": (lambda p, t: ((p - t) ** 2).mean(dim=(0, 1, 3, 4)), [
        (lambda p, t: ((p - t) ** 2).mean(), "shape"),
        (lambda p, t: ((p - t) ** 2).mean(dim=(0, 3, 4))[0], "values differ"),
        (lambda p, t: (p - t).abs().mean(dim=(0, 1, 3, 4)), "values differ")]),
    "psnr": (_psnr, [
        (lambda p, t, r: 20 * math.log10(r / float(np.mean((np.asarray(p) - np.asarray(t)) ** 2)) + 1e-12), "dB"),
        (lambda p, t, r: 10 * math.log10(1 / max(float(np.mean((np.asarray(p) - np.asarray(t)) ** 2)), 1e-12)),
         "expected"),
        (_psnr_zero_division, "ZeroDivisionError")]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_passes_the_solution_and_fails_mistakes(name, capsys):
    right, mistakes = CASES[name]
    check = getattr(ch17, name)
    assert check(right).passed, capsys.readouterr().out
    for wrong, message in mistakes:
        capsys.readouterr()
        result = check(wrong)
        out = capsys.readouterr().out
        assert not result.passed
        assert message in out, out


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_never_lets_an_exception_escape(name, capsys):
    check = getattr(ch17, name)

    def unfinished(*args):
        raise NotImplementedError

    assert not check(unfinished).passed
    assert "NotImplementedError" in capsys.readouterr().out
    assert not check(lambda *a: 1 / 0).passed
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check(lambda *a: None).passed
    assert not check("not a function").passed


def test_strict_mode_raises_on_a_failed_check(monkeypatch):
    from course.checks.core import CheckFailed

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        ch17.copy_last_frame(lambda past, k: past[:, :, :1])
