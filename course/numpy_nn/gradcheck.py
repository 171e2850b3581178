"""Numerical gradients by centred differences: the referee for every hand-written backward pass (chapter 02)."""
from __future__ import annotations

import numbers
from typing import Callable

import numpy as np


def numerical_gradient(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, dout: np.ndarray,
                       h: float = 1e-5) -> np.ndarray:
    """Estimate the gradient of ``sum(f(x) * dout)`` with respect to x, one element at a time.

    f: a function of x returning an array (any shape); x: float array (any shape; float64 recommended — in float32
    the difference quotient loses most of its digits); dout: array of f(x)'s shape, the upstream gradient dL/df.
    h: step size. For each element, ``(sum(f(x+h)*dout) - sum(f(x-h)*dout)) / (2h)``, an O(h^2)-accurate estimate.
    Returns an array of x's shape. x is changed during the call and restored afterwards.
    """
    if not callable(f):
        raise TypeError(f"numerical_gradient(f): expected a function of x, got {type(f).__name__}")
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient(x): expected a floating-point NumPy array, got "
                        f"{type(x).__name__ if not isinstance(x, np.ndarray) else x.dtype}")
    if not isinstance(h, numbers.Real) or isinstance(h, bool) or not h > 0:
        raise ValueError(f"numerical_gradient(h): expected a positive step, got {h!r}")
    dout = np.asarray(dout)
    out_shape = np.shape(f(x))
    if dout.shape != out_shape:
        raise ValueError(f"numerical_gradient(dout): expected the shape of f(x), {out_shape}, got {dout.shape}")
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient(x): expected a contiguous array (use np.ascontiguousarray(x))")
    for i in range(flat.size):
        old = flat[i]
        try:
            flat[i] = old + h
            plus = np.sum(f(x) * dout)
            flat[i] = old - h
            minus = np.sum(f(x) * dout)
        finally:  # x is the caller's array: restore it even when f raises
            flat[i] = old
        gflat[i] = (plus - minus) / (2 * h)
    return grad


def relative_error(got, expected) -> float:
    """Largest absolute difference between two arrays, relative to the largest magnitude of ``expected``.

    got, expected: arrays of the same shape (any shape). Returns a float: about 1e-16 means "equal up to float64
    rounding", 1e-7 "equal up to float32 rounding"; the scale is that of the whole reference, so entries near zero
    do not blow the error up.
    """
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        raise ValueError(f"relative_error(got): expected shape {expected.shape} (the shape of expected), "
                         f"got {got.shape}")
    scale = max(float(np.abs(expected).max(initial=0.0)), 1e-300)
    return float(np.abs(got - expected).max(initial=0.0) / scale)
