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
