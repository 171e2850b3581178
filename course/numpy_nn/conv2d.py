"""2D convolution in NumPy: the readable loop, the fast im2col version, and the backward pass (chapters 01–02).

An image batch is (N, C, H, W) and a filter bank (F, C, KH, KW). Semantics match ``torch.nn.functional.conv2d``:
a cross-correlation (the kernel is *not* flipped), zero padding, and the floor output size

    H' = (H + 2*padding - dilation*(KH - 1) - 1) // stride + 1        (the same rule for W')

``conv2d_naive`` loops over every output pixel. ``conv2d`` copies every receptive field of the whole batch into the
columns of one matrix (*im2col*: (C*KH*KW, N*H'*W')) and replaces all those loops by a single matrix product with
the filters reshaped to (F, C*KH*KW). The copy is done with one strided slice per kernel offset (KH*KW slices), not
one per pixel. The backward pass is two more products and the adjoint copy, *col2im*.

The helpers :func:`im2col_nd`, :func:`col2im_nd` and :func:`sliding_windows` work for any number of spatial dims, so
3D (video) code can reuse them.
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._validate import as_tuple, check_conv_args, float_array, window_output_shape

_X_LAYOUT = "(N, C, H, W)"


def output_size(size: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Length of a convolution's output along one axis (torch's floor rule).

    ``(size + 2*padding - dilation*(kernel - 1) - 1) // stride + 1``; e.g. ``output_size(32, 3, 1) == 32``.
    Raises ValueError when the (dilated) kernel does not fit in the padded input.
    """
    for name, value, minimum in (("size", size, 1), ("kernel", kernel, 1), ("padding", padding, 0),
                                 ("stride", stride, 1), ("dilation", dilation, 1)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool):
            raise TypeError(f"output_size({name}): expected an int, got {value!r}")
        if value < minimum:
            raise ValueError(f"output_size({name}): expected an int >= {minimum}, got {value!r}")
    span = dilation * (kernel - 1) + 1
    if span > size + 2 * padding:
        raise ValueError(f"output_size(kernel): the dilated kernel spans {span} pixels, more than the padded input "
                         f"{size + 2 * padding}")
    return (size + 2 * padding - span) // stride + 1


def pad_spatial(x: np.ndarray, padding: tuple[int, ...], value: float = 0.0) -> np.ndarray:
    """Pad the last ``len(padding)`` axes of ``x`` by ``padding[i]`` on both sides with ``value`` (no copy if all 0)."""
    if not any(padding):
        return x
    lead = ((0, 0),) * (x.ndim - len(padding))
    return np.pad(x, lead + tuple((p, p) for p in padding), constant_values=value)


def sliding_windows(xp: np.ndarray, kernel: tuple[int, ...], stride: tuple[int, ...],
                    dilation: tuple[int, ...] | None = None) -> np.ndarray:
    """Every window of the last ``len(kernel)`` axes of an (already padded) array, as a strided *view* (no copy).

    For xp (N, C, H, W) and a 2D kernel the result is (N, C, H', W', KH, KW): ``view[n, c, i, j]`` is the patch
    that output pixel (i, j) sees. Works the same for (N, C, T, H, W) with a 3D kernel.
    """
    d = len(kernel)
    dilation = dilation or (1,) * d
    span = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation))
    axes = tuple(range(xp.ndim - d, xp.ndim))
    view = sliding_window_view(xp, span, axis=axes)
    keep = (slice(None),) * (xp.ndim - d)
    return view[keep + tuple(slice(None, None, s) for s in stride) + tuple(slice(None, None, dl) for dl in dilation)]


def _offset_slices(offset, out, stride, dilation):
    """Slices picking, for one kernel offset, the input pixel under it for every output pixel."""
    return tuple(slice(o * dl, o * dl + s * (n - 1) + 1, s) for o, n, s, dl in zip(offset, out, stride, dilation))


def im2col_nd(xp: np.ndarray, kernel, stride, dilation, out) -> np.ndarray:
    """Patches of a padded (A, B, *spatial) array as (A, *kernel, B, *out): one strided copy per kernel offset.

    With A = C and B = N (pass ``xp.transpose(1, 0, ...)``, a view) the result reshapes to the (C*KH*KW, N*H'*W')
    matrix that turns a whole batch's convolution into one matrix product.
    """
    a, b = xp.shape[:2]
    cols = np.empty((a,) + tuple(kernel) + (b,) + tuple(out), dtype=xp.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        cols[(slice(None),) + offset] = xp[(slice(None), slice(None)) + _offset_slices(offset, out, stride, dilation)]
    return cols


def col2im_nd(cols: np.ndarray, padded_shape, kernel, stride, dilation) -> np.ndarray:
    """The adjoint of :func:`im2col_nd`: add each column entry back to the input pixel it came from.

    cols: (A, *kernel, B, *out) -> (A, B, *padded spatial) = ``padded_shape``. A pixel seen by several windows gets
    the sum.
    """
    d = len(kernel)
    out = cols.shape[2 + d:]
    xp = np.zeros(padded_shape, dtype=cols.dtype)
    for offset in itertools.product(*(range(k) for k in kernel)):
        xp[(slice(None), slice(None)) + _offset_slices(offset, out, stride, dilation)] += cols[(slice(None),) + offset]
    return xp


def _batch_columns(x, kernel, stride, padding, dilation, out):
    """The im2col matrix of a whole batch: x (N, C, H, W) -> (C*KH*KW, N*H'*W')."""
    xp = pad_spatial(x, padding).transpose(1, 0, 2, 3)             # (C, N, H+2p, W+2p), a view
    cols = im2col_nd(xp, kernel, stride, dilation, out)            # (C, KH, KW, N, H', W')
    return cols.reshape(-1, x.shape[0] * out[0] * out[1])


def conv2d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride=1, padding=0,
                 dilation=1) -> np.ndarray:
    """2D cross-correlation with explicit loops over output pixels: the readable reference (slow).

    x: (N, C, H, W) float array; w: (F, C, KH, KW); b: (F,) or None.
    stride, padding, dilation: int or (h, w) tuple, as in ``torch.nn.functional.conv2d``. Zero padding.
    Returns (N, F, H', W') with H' = (H + 2*ph - dh*(KH-1) - 1) // sh + 1 (same rule for W').
    """
    x, w, b, (sh, sw), padding, (dh, dw), (ho, wo) = check_conv_args(
        "conv2d_naive", x, w, b, stride, padding, dilation, dims=2)
    n, f = x.shape[0], w.shape[0]
    kh, kw = w.shape[2:]
    xp = pad_spatial(x, padding)
    out = np.zeros((n, f, ho, wo), dtype=np.result_type(x, w))
    for i in range(n):
        for j in range(f):
            for r in range(ho):
                for c in range(wo):
                    # the patch under the kernel: rows r*sh, r*sh + dh, ..., (KH of them); the same for columns
                    patch = xp[i, :, r * sh:r * sh + dh * (kh - 1) + 1:dh, c * sw:c * sw + dw * (kw - 1) + 1:dw]
                    out[i, j, r, c] = np.sum(patch * w[j])
            if b is not None:
                out[i, j] += b[j]
    return out


def im2col(x: np.ndarray, kernel_size, *, stride=1, padding=0, dilation=1) -> np.ndarray:
    """Unfold every receptive field of x into a column: (N, C, H, W) -> (N, C*KH*KW, H'*W').

    Row ``c*KH*KW + i*KW + j`` holds channel c at kernel offset (i, j), matching ``w.reshape(F, -1)``, so
    ``w.reshape(F, -1) @ im2col(x, ...)`` is the convolution (reshaped to (N, F, H', W')). Same as torch's ``unfold``.
    """
    x = float_array(x, "im2col(x)", 4, _X_LAYOUT)
    kernel = as_tuple(kernel_size, 2, "im2col(kernel_size)", minimum=1)
    stride = as_tuple(stride, 2, "im2col(stride)", minimum=1)
    padding = as_tuple(padding, 2, "im2col(padding)", minimum=0)
    dilation = as_tuple(dilation, 2, "im2col(dilation)", minimum=1)
    out = window_output_shape("im2col(kernel_size)", x.shape[2:], kernel, padding, stride, dilation, "(H, W)")
    cols = _batch_columns(x, kernel, stride, padding, dilation, out)          # (C*KH*KW, N*H'*W')
    return np.ascontiguousarray(cols.reshape(-1, x.shape[0], out[0] * out[1]).transpose(1, 0, 2))


def conv2d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride=1, padding=0,
           dilation=1) -> np.ndarray:
    """2D cross-correlation, vectorized (im2col + one matrix product): same result as :func:`conv2d_naive`.

    x: (N, C, H, W) float array; w: (F, C, KH, KW); b: (F,) or None.
    stride, padding, dilation: int or (h, w) tuple, as in ``torch.nn.functional.conv2d``. Zero padding.
    Returns (N, F, H', W') with H' = (H + 2*ph - dh*(KH-1) - 1) // sh + 1 (same rule for W').
    """
    x, w, b, stride, padding, dilation, out = check_conv_args("conv2d", x, w, b, stride, padding, dilation, dims=2)
    n, f = x.shape[0], w.shape[0]
    dtype = np.result_type(x, w) if b is None else np.result_type(x, w, b)
    cols = _batch_columns(x, w.shape[2:], stride, padding, dilation, out)       # (C*KH*KW, N*H'*W')
    y = w.reshape(f, -1).astype(dtype, copy=False) @ cols                       # (F, N*H'*W'): the one product
    if b is not None:
        y += b.astype(dtype, copy=False)[:, None]
    return np.ascontiguousarray(y.reshape(f, n, *out).transpose(1, 0, 2, 3))


def conv2d_backward(dout: np.ndarray, x: np.ndarray, w: np.ndarray, *, stride=1, padding=0,
                    dilation=1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of ``y = conv2d(x, w, b, ...)`` given dL/dy: returns (dx, dw, db).

    dout: (N, F, H', W'); x: (N, C, H, W); w: (F, C, KH, KW). Returns dx (N, C, H, W), dw (F, C, KH, KW), db (F,).
    dw correlates x with dout; dx is a "full" correlation of dout with the flipped kernel. In matrix form, with
    Y = W @ cols: dW = dY @ cols^T and dx = col2im(W^T @ dY), which handles stride and dilation too.
    """
    x, w, _, stride, padding, dilation, out = check_conv_args("conv2d_backward", x, w, None, stride, padding,
                                                              dilation, dims=2)
    dout = float_array(dout, "conv2d_backward(dout)", 4, "(N, F, H', W')")
    n, f = x.shape[0], w.shape[0]
    expected = (n, f) + tuple(out)
    if dout.shape != expected:
        raise ValueError(f"conv2d_backward(dout): expected shape {expected} (the shape of conv2d's output), "
                         f"got {dout.shape}")
    c = x.shape[1]
    cols = _batch_columns(x, w.shape[2:], stride, padding, dilation, out)       # (C*KH*KW, N*P)
    d2 = np.ascontiguousarray(dout.transpose(1, 0, 2, 3)).reshape(f, -1)        # (F, N*P)
    db = d2.sum(axis=1)
    dw = (d2 @ cols.T).reshape(w.shape)
    # dx = col2im(W^T dY), done one kernel offset at a time: each (C, F) @ (F, N*P) product is added straight into
    # the pixels it belongs to, so the (C*KH*KW, N*P) matrix of column gradients is never built (it is as large as
    # im2col, and allocating it on every call costs about as much as the arithmetic).
    padded = tuple(s + 2 * p for s, p in zip(x.shape[2:], padding))
    dxp = np.zeros((c, n) + padded, dtype=np.result_type(d2, w))               # (C, N, H+2p, W+2p)
    for offset in itertools.product(*(range(k) for k in w.shape[2:])):
        w_offset = w[(slice(None), slice(None)) + offset]                       # (F, C)
        dxp[(slice(None), slice(None)) + _offset_slices(offset, out, stride, dilation)] += (
            (w_offset.T @ d2).reshape((c, n) + tuple(out)))
    ph, pw = padding
    dx = dxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]].transpose(1, 0, 2, 3)
    return np.ascontiguousarray(dx), dw, db
