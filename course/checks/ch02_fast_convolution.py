"""Checks for chapter 02 (fast convolution and backprop): im2col, convolution as a matrix product, the backward pass."""
from __future__ import annotations

import numpy as np

from ..numpy_nn import conv2d, conv2d_backward
from ..numpy_nn import im2col as _im2col
from .core import Case, CaseResult, CheckResult, check_function


def _data(seed: int, n=2, c=3, h=6, w=5, f=4, kh=3, kw=2):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, c, h, w)), r.standard_normal((f, c, kh, kw)), r.standard_normal(f)


def im2col(fn) -> CheckResult:
    """Check ``fn(x, kh, kw, stride=1)``: x (N, C, H, W) -> columns (N, C*KH*KW, H'*W'), rows ordered (c, i, j)."""
    x, _, _ = _data(0)
    cases = [
        Case((np.arange(16.0).reshape(1, 1, 4, 4), 2, 2), name="4x4 ramp, 2x2 windows"),
        Case((x, 3, 2), name="3 channels, 3x2 windows",
             hint="row index = c*KH*KW + i*KW + j, the order of w.reshape(F, -1)"),
        Case((x, 2, 2), {"stride": 2}, name="stride 2"),
        Case((x[:1, :1], 1, 1), name="1x1 windows are just the pixels"),
    ]
    ref = lambda x, kh, kw, stride=1: _im2col(x, (kh, kw), stride=stride)  # noqa: E731
    return check_function(fn, cases, title="im2col", reference=ref)


def conv2d_matmul(fn) -> CheckResult:
    """Check ``fn(x, w, b)``: stride-1, unpadded conv2d via im2col and one matrix product -> (N, F, H', W')."""
    x, w, b = _data(1)
    cases = [
        Case((x, w, b), name="2 images, 3 channels, 4 filters, 3x2 kernel"),
        Case((x[:1], w[:, :, :1, :1], b), name="1x1 kernel"),
        Case((np.random.default_rng(2).standard_normal((3, 1, 5, 5)), np.ones((2, 1, 5, 5)), np.zeros(2)),
             name="kernel as large as the image"),
    ]
    return check_function(fn, cases, title="conv2d_matmul", reference=lambda x, w, b: conv2d(x, w, b),
                          hint="y = w.reshape(F, -1) @ im2col(x, KH, KW), then add b[:, None] and reshape")


def conv2d_backward_simple(fn) -> CheckResult:
    """Check ``fn(dout, x, w) -> (dx, dw, db)`` for a stride-1, unpadded convolution."""
    cases = []
    for seed, (name, shape) in enumerate([("3x2 kernel", {}), ("1x1 kernel", {"kh": 1, "kw": 1}),
                                          ("one image, one channel", {"n": 1, "c": 1, "f": 2})]):
        x, w, _ = _data(10 + seed, **shape)
        dout = np.random.default_rng(20 + seed).standard_normal(conv2d(x, w).shape)
        cases.append(Case((dout, x, w), name=name))
    return check_function(fn, cases, title="conv2d_backward", reference=lambda d, x, w: conv2d_backward(d, x, w),
                          rtol=1e-6, hint="db sums dout over N, H', W'; dw[f,c,u,v] = sum x[n,c,i+u,j+v]*dout[n,f,i,j];"
                                          " dx adds w[f,c,u,v]*dout[n,f,i,j] into x's pixel (i+u, j+v)")


def _broken_backward(dout, x, w):
    """A plausible mistake: dx computed with the kernel not flipped (every gradient check should catch it)."""
    dx, dw, db = conv2d_backward(dout, x, w)
    dx_wrong, _, _ = conv2d_backward(dout, x, w[:, :, ::-1, ::-1].copy())
    return dx_wrong, dw, db


def gradient_check(fn) -> CheckResult:
    """Check ``fn(backward, x, w) -> (err_dx, err_dw)``: relative errors between ``backward``'s gradients and
    numerical ones. It must report tiny errors for a correct backward and large ones for a broken backward."""
    x, w, _ = _data(30, n=2, c=2, h=5, w=5, f=3, kh=3, kw=3)

    def within(limit_ok: bool):
        def compare_fn(got, _expected):
            try:
                errs = [float(e) for e in got]
            except Exception:  # noqa: BLE001 — the learner may return anything
                return f"expected a pair of numbers (err_dx, err_dw), got {got!r}"
            if len(errs) != 2:
                return f"expected 2 numbers (err_dx, err_dw), got {len(errs)}"
            if limit_ok and not max(errs) < 1e-6:
                return f"a correct backward should give errors below 1e-6, got {errs}"
            if not limit_ok and not errs[0] > 1e-3:
                return f"the broken backward's dx is wrong, so err_dx should be large (> 1e-3), got {errs[0]:.2e}"
            return None
        return compare_fn

    correct = check_function(fn, [Case((lambda d, x, w: conv2d_backward(d, x, w), x, w), name="a correct backward",
                                       expected=None)],
                             title="gradient_check (correct backward)", compare_fn=within(True), report=False)
    broken_case = Case((_broken_backward, x, w), name="a backward that forgets to flip the kernel", expected=None)
    if correct.stopped:   # the first call ran out of time: do not wait for a second one
        broken = [CaseResult(broken_case.name, False, "not run: the case above did not finish")]
    else:
        broken = check_function(fn, [broken_case], title="gradient_check (broken backward)",
                                compare_fn=within(False), report=False).cases
    return CheckResult("gradient_check", correct.cases + broken).report()
