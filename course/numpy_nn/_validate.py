"""Argument checking shared by the NumPy ops: int-or-tuple arguments and float arrays of a given rank."""
from __future__ import annotations

import numbers

import numpy as np


def as_tuple(value, n: int, name: str, *, minimum: int = 0) -> tuple[int, ...]:
    """Turn an int or a length-``n`` tuple into a tuple of ``n`` ints >= ``minimum`` (torch's int-or-tuple rule).

    >>> as_tuple(2, 2, "stride", minimum=1)
    (2, 2)
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        values = (int(value),) * n
    elif isinstance(value, (tuple, list)) and len(value) == n and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        values = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{name}: expected an int or a tuple of {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        what = "positive" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{name}: expected {what} values, got {value!r}")
    return values


def float_array(x, name: str, ndim: int, layout: str) -> np.ndarray:
    """Check that ``x`` is a floating-point NumPy array with ``ndim`` dims (``layout`` names them, e.g. "(N, C, H, W)")."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array {layout}, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dims {layout}, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: expected a floating-point array (float32/float64), got dtype {x.dtype}; "
                        f"convert with {name}.astype(np.float64)")
    return x


def _no_empty_axis(name: str, a: np.ndarray, layout: str) -> None:
    """ValueError if an axis of ``a`` has length 0 (no images, no filters, a 0-wide kernel...)."""
    if 0 in a.shape:
        raise ValueError(f"{name}: expected every axis of {layout} to be at least 1, got shape {a.shape}")


#: Layouts of the batch x, the filter bank w and the window axes, by number of spatial dims.
LAYOUTS = {
    2: ("(N, C, H, W)", "(F, C, KH, KW)", "(H, W)"),
    3: ("(N, C, T, H, W)", "(F, C, KT, KH, KW)", "(T, H, W)"),
}


def window_output_shape(name: str, spatial, kernel, padding, stride, dilation=None, axes: str = "") -> tuple[int, ...]:
    """Output size along each window axis (torch's floor rule); ValueError naming ``name`` if a kernel does not fit.

    spatial, kernel, padding, stride, dilation: one int per window axis. Output length per axis:
    ``(n + 2*p - d*(k - 1) - 1) // s + 1``.
    """
    dilation = dilation or (1,) * len(kernel)
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    padded = tuple(n + 2 * p for n, p in zip(spatial, padding))
    if any(s > n for s, n in zip(spans, padded)):
        dilated = f" (spanning {spans} with dilation {dilation})" if any(d != 1 for d in dilation) else ""
        raise ValueError(f"{name}: kernel {tuple(kernel)}{dilated} is larger than the padded input {padded} {axes}")
    return tuple((n - s) // st + 1 for n, s, st in zip(padded, spans, stride))


def check_conv_args(fn: str, x, w, b, stride, padding, dilation, dims: int):
    """Validate the arguments of a ``dims``-D convolution; returns x, w, b, stride, padding, dilation, output size."""
    x_layout, w_layout, axes = LAYOUTS[dims]
    x = float_array(x, f"{fn}(x)", dims + 2, x_layout)
    w = float_array(w, f"{fn}(w)", dims + 2, w_layout)
    _no_empty_axis(f"{fn}(x)", x, x_layout)
    _no_empty_axis(f"{fn}(w)", w, w_layout)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"{fn}(w): expected {x.shape[1]} input channels to match x of shape {x.shape}, "
                         f"got w of shape {w.shape} (w is {w_layout})")
    if b is not None:
        b = float_array(b, f"{fn}(b)", 1, "(F,)")
        if b.shape[0] != w.shape[0]:
            raise ValueError(f"{fn}(b): expected shape ({w.shape[0]},) (one bias per filter), got {b.shape}")
    stride = as_tuple(stride, dims, f"{fn}(stride)", minimum=1)
    padding = as_tuple(padding, dims, f"{fn}(padding)", minimum=0)
    dilation = as_tuple(dilation, dims, f"{fn}(dilation)", minimum=1)
    out = window_output_shape(f"{fn}(w)", x.shape[2:], w.shape[2:], padding, stride, dilation, axes)
    return x, w, b, stride, padding, dilation, out


def check_pool_args(fn: str, x, kernel_size, stride, padding, dims: int):
    """Validate the arguments of a ``dims``-D pooling; returns x, kernel, stride, padding, output size.

    stride defaults to the kernel size; padding may be at most half the kernel (torch's rule)."""
    x_layout, _, axes = LAYOUTS[dims]
    x = float_array(x, f"{fn}(x)", dims + 2, x_layout)
    _no_empty_axis(f"{fn}(x)", x, x_layout)
    kernel = as_tuple(kernel_size, dims, f"{fn}(kernel_size)", minimum=1)
    stride = kernel if stride is None else as_tuple(stride, dims, f"{fn}(stride)", minimum=1)
    padding = as_tuple(padding, dims, f"{fn}(padding)", minimum=0)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{fn}(padding): expected at most half the kernel size {kernel}, got {padding}")
    out = window_output_shape(f"{fn}(kernel_size)", x.shape[2:], kernel, padding, stride, axes=axes)
    return x, kernel, stride, padding, out
