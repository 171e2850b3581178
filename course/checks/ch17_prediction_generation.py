"""Checks for chapter 17 (prediction and generation).

References: :class:`course.models.ConvLSTMCell` (the cell by hand, checked against ``torch.nn.LSTMCell`` where the two
coincide), :mod:`course.train.prediction` (the copy-last-frame baseline, per-horizon-step MSE, PSNR), and the GAN
losses of :mod:`course.models` / the chapter's GAN code (added below by the GAN part of the chapter).
"""
from __future__ import annotations

import math

import numpy as np

from .core import Case, CheckResult, check_function, compare, number_problem

# --------------------------------------------------------------------------------------------------------------------
# Next-frame prediction (ConvLSTM, baselines, per-horizon MSE, PSNR)
# --------------------------------------------------------------------------------------------------------------------


def _reference_convlstm_step(x, h, c, weight, bias):
    import torch
    import torch.nn.functional as F

    i, f, g, o = F.conv2d(torch.cat([x, h], dim=1), weight, bias, padding=weight.shape[-1] // 2).chunk(4, dim=1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _step_case(seed, n, c_in, hidden, size, k, name, hint=None, zero_state=False):
    import torch

    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, c_in, size, size, generator=g)
    h = torch.zeros(n, hidden, size, size) if zero_state else torch.randn(n, hidden, size, size, generator=g)
    c = torch.zeros(n, hidden, size, size) if zero_state else torch.randn(n, hidden, size, size, generator=g)
    weight = torch.randn(4 * hidden, c_in + hidden, k, k, generator=g) * 0.5
    bias = torch.randn(4 * hidden, generator=g) * 0.5
    return Case((x, h, c, weight, bias), name=name, hint=hint)


def _compare_state(got, expected):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (h, c), got {type(got).__name__}"
    for name, g, e in (("h", got[0], expected[0]), ("c", got[1], expected[1])):
        problem = compare(g, e, rtol=1e-4, atol=1e-5)
        if problem:
            return f"{name}: {problem}"
    return None


def convlstm_step(fn) -> CheckResult:
    """Check ``fn(x, h, c, weight, bias) -> (h, c)``: one ConvLSTM step with ``F.conv2d`` ("same" padding) over
    ``cat([x, h])`` and gates in PyTorch's order (i, f, g, o) — the same as :class:`course.models.ConvLSTMCell`."""
    cases = [
        _step_case(0, 2, 1, 3, 5, 1, "1x1 kernel, from a random state",
                   hint="split the 4*hidden channels as i, f, g, o (PyTorch's order) with .chunk(4, dim=1)"),
        _step_case(1, 1, 2, 2, 6, 3, "3x3 kernel: needs 'same' padding", hint="padding = kernel_size // 2"),
        _step_case(2, 3, 1, 4, 4, 3, "from a zero state", zero_state=True),
        _step_case(3, 2, 3, 2, 7, 5, "5x5 kernel, 3 input channels"),
    ]
    return check_function(fn, cases, title="convlstm_step", reference=_reference_convlstm_step,
                          compare_fn=_compare_state,
                          hint="c' = sigmoid(f) * c + sigmoid(i) * tanh(g); h' = sigmoid(o) * tanh(c')")


def _reference_copy_last(past, horizon):
    return past[:, :, -1:].expand(-1, -1, horizon, -1, -1).clone()


def copy_last_frame(fn) -> CheckResult:
    """Check ``fn(past, horizon)``: the last observed frame repeated, (N, C, T_in, H, W) -> (N, C, horizon, H, W)."""
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [
        Case((torch.rand(2, 1, 5, 4, 4, generator=g), 3), name="2 clips, 5 frames seen, 3 to predict",
             hint="the LAST frame along the time axis (dim 2), past[:, :, -1]"),
        Case((torch.rand(1, 3, 4, 3, 5, generator=g), 6), name="3 channels, 6 to predict",
             hint="the result has `horizon` frames: repeat along dim 2"),
        Case((torch.rand(3, 1, 1, 2, 2, generator=g), 1), name="one frame seen, one to predict"),
    ]
    return check_function(fn, cases, title="copy_last_frame", reference=_reference_copy_last,
                          hint="past[:, :, -1:].expand(-1, -1, horizon, -1, -1) (or .repeat(1, 1, horizon, 1, 1))")


def _reference_per_horizon(predicted, target):
    return ((predicted.double() - target.double()) ** 2).mean(dim=(0, 1, 3, 4)).numpy()


def _compare_curve(got, expected):
    try:
        got = got.detach().cpu().numpy() if hasattr(got, "detach") else got
    except Exception:  # noqa: BLE001 — a learner's strange object
        return f"expected an array (T,), got {type(got).__name__}"
    return compare(got, expected, rtol=1e-5, atol=1e-8)


def per_horizon_mse(fn) -> CheckResult:
    """Check ``fn(predicted, target) -> (T,)``: the MSE at each predicted step, averaged over clips, channels and
    pixels, for clips (N, C, T, H, W)."""
    import torch

    g = torch.Generator().manual_seed(1)
    a, b = torch.rand(3, 1, 4, 5, 5, generator=g), torch.rand(3, 1, 4, 5, 5, generator=g)
    growing = torch.zeros(2, 1, 3, 2, 2)
    ramp = growing.clone()
    ramp[:, :, 1] = 1.0
    ramp[:, :, 2] = 2.0
    cases = [
        Case((ramp, growing), name="errors 0, 1, 2 at steps 1, 2, 3 (MSE 0, 1, 4)",
             hint="square the differences, then average over every axis EXCEPT time (dim 2)"),
        Case((a, b), name="random clips, 4 steps"),
        Case((torch.rand(2, 3, 5, 3, 4, generator=g), torch.rand(2, 3, 5, 3, 4, generator=g)),
             name="3 channels, 5 steps", hint="average over the channels too: dims (0, 1, 3, 4)"),
    ]
    return check_function(fn, cases, title="per_horizon_mse", reference=_reference_per_horizon,
                          compare_fn=_compare_curve,
                          hint="((predicted - target) ** 2).mean(dim=(0, 1, 3, 4)) — one value per step")


def _reference_psnr(predicted, target, data_range=1.0):
    mse = float(((np.asarray(predicted, dtype=np.float64) - np.asarray(target, dtype=np.float64)) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def _compare_db(got, expected):
    problem = number_problem(got, "the PSNR")
    if problem:
        return problem
    if math.isinf(expected):
        return None if math.isinf(float(got)) and float(got) > 0 else f"expected inf (identical images), got {got}"
    if not math.isclose(float(got), expected, rel_tol=1e-6, abs_tol=1e-6):
        return f"expected {expected:.4f} dB, got {float(got):.4f} dB"
    return None


def psnr(fn) -> CheckResult:
    """Check ``fn(predicted, target, data_range) -> float``: ``10 log10(data_range^2 / MSE)`` in dB (NumPy arrays)."""
    rng = np.random.default_rng(2)
    clean = rng.random((4, 8, 8))
    cases = [
        Case((np.full((2, 2), 0.1), np.zeros((2, 2)), 1.0), name="every pixel off by 0.1: MSE 0.01 -> 20 dB",
             hint="10 * log10(1 / 0.01) = 20: use the MSE, not its square root, with 10 * log10"),
        Case((clean + rng.normal(0, 0.05, clean.shape), clean, 1.0), name="Gaussian noise of std 0.05"),
        Case((np.full((3, 3), 25.5), np.zeros((3, 3)), 255.0), name="8-bit images: data_range 255",
             hint="the peak is data_range: 10 * log10(data_range ** 2 / mse)"),
        Case((clean, clean.copy(), 1.0), name="identical images: infinite PSNR",
             hint="MSE 0: return math.inf instead of dividing by zero"),
    ]
    return check_function(fn, cases, title="psnr", reference=_reference_psnr, compare_fn=_compare_db,
                          hint="mse = mean((predicted - target) ** 2); 10 * log10(data_range ** 2 / mse)")
