"""2D max and average pooling in NumPy, forward and backward, and global average pooling (chapter 03).

x is (N, C, H, W); pooling works channel by channel over (KH, KW) windows. Semantics match
``torch.nn.functional.max_pool2d`` / ``avg_pool2d`` with their defaults: stride defaults to kernel_size, the output
size is floored, padding is at most half the kernel, max pooling pads with -inf (padding never wins) and average
pooling counts the zero padding in the divisor (``count_include_pad=True``).

The windows come from the same im2col helper as the convolution; the backward passes send each output's gradient
back through its window: all of it to the argmax for max pooling, an equal share 1/(KH*KW) to every pixel for
average pooling.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_pool_args, float_array
from .conv2d import col2im_nd, im2col_nd, pad_spatial

_X_LAYOUT = "(N, C, H, W)"


def _check_dout(fn: str, dout, x, out):
    dout = float_array(dout, f"{fn}(dout)", 4, "(N, C, H', W')")
    expected = x.shape[:2] + tuple(out)
    if dout.shape != expected:
        raise ValueError(f"{fn}(dout): expected shape {expected} (the pooling output's shape), got {dout.shape}")
    return dout


def _crop(xp: np.ndarray, padding, shape) -> np.ndarray:
    ph, pw = padding
    return np.ascontiguousarray(xp[:, :, ph:ph + shape[2], pw:pw + shape[3]])


def _max_windows(x, kernel, stride, padding, out):
    """Windows as (N, KH*KW, C, H', W') and the index of each window's maximum, (N, C, H', W')."""
    cols = im2col_nd(pad_spatial(x, padding, value=-np.inf), kernel, stride, (1, 1), out)   # (N, KH, KW, C, H', W')
    cols = cols.reshape((x.shape[0], kernel[0] * kernel[1]) + x.shape[1:2] + tuple(out))
    return cols, cols.argmax(axis=1)


def max_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Max pooling: the largest value of each (KH, KW) window, channel by channel.

    x: (N, C, H, W) float array; kernel_size, stride, padding: int or (h, w) tuple (stride defaults to kernel_size).
    Returns (N, C, H', W') with H' = (H + 2*ph - KH) // sh + 1 (same rule for W').
    """
    x, kernel, stride, padding, out = check_pool_args("max_pool2d", x, kernel_size, stride, padding, dims=2)
    cols, _ = _max_windows(x, kernel, stride, padding, out)
    return cols.max(axis=1)


def max_pool2d_backward(dout: np.ndarray, x: np.ndarray, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to x: each output's gradient goes to its window's argmax.

    dout: (N, C, H', W'); x: (N, C, H, W) (the forward input). Returns dx (N, C, H, W). Where a pixel is the maximum
    of several overlapping windows it collects the sum; on ties the first maximum in the window wins (as in torch).
    """
    x, kernel, stride, padding, out = check_pool_args("max_pool2d_backward", x, kernel_size, stride, padding, dims=2)
    dout = _check_dout("max_pool2d_backward", dout, x, out)
    _, argmax = _max_windows(x, kernel, stride, padding, out)
    k = kernel[0] * kernel[1]
    routed = (np.arange(k)[:, None, None, None] == argmax[:, None]) * dout[:, None]   # (N, KH*KW, C, H', W')
    padded_shape = x.shape[:2] + tuple(n + 2 * p for n, p in zip(x.shape[2:], padding))
    dxp = col2im_nd(routed.reshape((x.shape[0],) + kernel + x.shape[1:2] + tuple(out)).astype(dout.dtype, copy=False),
                    padded_shape, kernel, stride, (1, 1))
    return _crop(dxp, padding, x.shape)


def avg_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Average pooling: the mean of each (KH, KW) window (zero padding counts in the mean, as torch's default).

    x: (N, C, H, W) float array; kernel_size, stride, padding: int or (h, w) tuple (stride defaults to kernel_size).
    Returns (N, C, H', W') with H' = (H + 2*ph - KH) // sh + 1 (same rule for W').
    """
    x, kernel, stride, padding, out = check_pool_args("avg_pool2d", x, kernel_size, stride, padding, dims=2)
    cols = im2col_nd(pad_spatial(x, padding), kernel, stride, (1, 1), out)   # (N, KH, KW, C, H', W')
    return cols.mean(axis=(1, 2))


def avg_pool2d_backward(dout: np.ndarray, x: np.ndarray, kernel_size, stride=None, padding=0) -> np.ndarray:
    """Gradient of :func:`avg_pool2d` with respect to x: every pixel of a window gets dout / (KH*KW).

    dout: (N, C, H', W'); x: (N, C, H, W) (the forward input, for its shape). Returns dx (N, C, H, W).
    """
    x, kernel, stride, padding, out = check_pool_args("avg_pool2d_backward", x, kernel_size, stride, padding, dims=2)
    dout = _check_dout("avg_pool2d_backward", dout, x, out)
    share = dout / (kernel[0] * kernel[1])
    cols = np.broadcast_to(share[:, None, None], (x.shape[0],) + kernel + x.shape[1:2] + tuple(out))
    padded_shape = x.shape[:2] + tuple(n + 2 * p for n, p in zip(x.shape[2:], padding))
    return _crop(col2im_nd(cols, padded_shape, kernel, stride, (1, 1)), padding, x.shape)


def global_avg_pool2d(x: np.ndarray) -> np.ndarray:
    """Global average pooling: the mean of each channel over all positions, (N, C, H, W) -> (N, C)."""
    x = float_array(x, "global_avg_pool2d(x)", 4, _X_LAYOUT)
    return x.mean(axis=(2, 3))


def global_avg_pool2d_backward(dout: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`global_avg_pool2d`: dout (N, C) spread evenly, dx (N, C, H, W) = dout / (H*W)."""
    x = float_array(x, "global_avg_pool2d_backward(x)", 4, _X_LAYOUT)
    dout = float_array(dout, "global_avg_pool2d_backward(dout)", 2, "(N, C)")
    if dout.shape != x.shape[:2]:
        raise ValueError(f"global_avg_pool2d_backward(dout): expected shape {x.shape[:2]}, got {dout.shape}")
    h, w = x.shape[2:]
    return np.broadcast_to((dout / (h * w))[:, :, None, None], x.shape).copy()
