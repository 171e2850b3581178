"""Checks for chapter 03 (pooling and a NumPy CNN): max pooling forward and backward, softmax cross-entropy, the
backward pass of a linear layer."""
from __future__ import annotations

import numpy as np

from ..numpy_nn import max_pool2d as _max_pool2d
from ..numpy_nn import max_pool2d_backward as _max_pool2d_backward
from ..numpy_nn.cnn import softmax_cross_entropy as _softmax_cross_entropy
from .core import Case, CheckResult, check_function


def _x(seed: int, shape=(2, 3, 6, 4)) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


def max_pool2d(fn) -> CheckResult:
    """Check ``fn(x, k)``: non-overlapping k x k max pooling (stride k, no padding).

    x: (N, C, H, W) -> (N, C, H//k, W//k).
    """
    cases = [
        Case((np.arange(16.0).reshape(1, 1, 4, 4), 2), name="4x4 ramp, 2x2 windows"),
        Case((_x(0), 2), name="2 images, 3 channels"),
        Case((_x(1, (1, 2, 7, 5)), 2), name="odd sizes: the last row/column is dropped",
             hint="the output is H//k by W//k; leftover rows and columns are ignored"),
        Case((_x(2), 3), name="3x3 windows"),
    ]
    return check_function(fn, cases, title="max_pool2d", reference=lambda x, k: _max_pool2d(x, k))


def max_pool2d_backward(fn) -> CheckResult:
    """Check ``fn(dout, x, k) -> dx``: each window's gradient goes to the position of its maximum."""
    cases = []
    for seed, (name, shape, k) in enumerate([("2x2 windows", (2, 3, 6, 4), 2), ("3x3 windows", (1, 2, 6, 6), 3),
                                             ("odd sizes", (1, 1, 5, 7), 2)]):
        x = _x(10 + seed, shape)
        dout = _x(20 + seed, shape[:2] + (shape[2] // k, shape[3] // k))
        cases.append(Case((dout, x, k), name=name))
    return check_function(fn, cases, title="max_pool2d_backward",
                          reference=lambda d, x, k: _max_pool2d_backward(d, x, k),
                          hint="dx is zero except at each window's argmax, which receives that window's dout")


def softmax_cross_entropy(fn) -> CheckResult:
    """Check ``fn(logits, labels) -> (loss, dlogits)``: mean cross-entropy of softmax and its gradient."""
    r = np.random.default_rng(3)
    cases = [
        Case((r.standard_normal((5, 10)), r.integers(0, 10, size=5)), name="5 examples, 10 classes"),
        Case((np.zeros((2, 4)), np.array([0, 3])), name="all-zero logits: loss is log(4)"),
        Case((np.array([[1000.0, 0.0, -1000.0]]), np.array([0])), name="huge logits (numerical stability)",
             hint="subtract each row's maximum before exp, or exp(1000) overflows to inf"),
    ]
    return check_function(fn, cases, title="softmax_cross_entropy", reference=_softmax_cross_entropy, rtol=1e-6,
                          hint="loss = mean(-log softmax(logits)[n, labels[n]]); "
                               "dlogits = (softmax(logits) - onehot(labels)) / N")


def _linear_backward_numerical(dout, x, w):
    """dx, dw, db of ``y = x @ w + b`` by centred differences (the gradient check the exercise is judged by)."""
    from ..numpy_nn import numerical_gradient

    b = np.zeros(w.shape[1])
    dx = numerical_gradient(lambda v: v @ w + b, x.copy(), dout)
    dw = numerical_gradient(lambda v: x @ v + b, w.copy(), dout)
    db = numerical_gradient(lambda v: x @ w + v, b.copy(), dout)
    return dx, dw, db


def linear_backward(fn) -> CheckResult:
    """Check ``fn(dout, x, w) -> (dx, dw, db)``, the backward pass of a fully connected layer ``y = x @ w + b``.

    x: (N, D), w: (D, K), dout: (N, K) -> dx (N, D), dw (D, K), db (K,). Judged against centred differences.
    """
    r = np.random.default_rng(4)
    cases = [
        Case((np.ones((1, 2)), np.ones((1, 2)), np.array([[1.0, 2.0], [3.0, 4.0]])), name="one example, by hand"),
        Case((r.standard_normal((5, 3)), r.standard_normal((5, 4)), r.standard_normal((4, 3))),
             name="5 examples, D=4, K=3"),
        Case((r.standard_normal((2, 10)), r.standard_normal((2, 256)), r.standard_normal((256, 10))),
             name="the digits CNN's last layer (D=256, K=10)"),
    ]
    return check_function(fn, cases, title="linear_backward", reference=_linear_backward_numerical, rtol=1e-6,
                          atol=1e-8, hint="for y = x @ w + b: dx = dout @ w.T (shape of x), dw = x.T @ dout (shape of w), "
                               "db = dout.sum(axis=0) (one number per output)")
