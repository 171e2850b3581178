"""3D convolution and 3D max pooling over video batches in NumPy (chapter 07).

A video batch is (N, C, T, H, W). A 3D kernel slides over time as well as over space, so one output voxel sees
KT frames x KH rows x KW columns of every input channel. Semantics match ``torch.nn.functional.conv3d`` (a
cross-correlation: the kernel is not flipped) and ``torch.nn.functional.max_pool3d``.

``conv3d_naive`` is the loop you would write on paper; ``conv3d`` gathers every window at once with the
n-dimensional :func:`~course.numpy_nn.conv2d.sliding_windows` of chapter 02 (a strided view, no copy) and turns the
whole convolution into one ``tensordot`` — the 3D version of im2col.
"""
from __future__ import annotations

import numpy as np

from ._validate import as_tuple, float_array
from .conv2d import pad_spatial, sliding_windows

_X_LAYOUT = "(N, C, T, H, W)"
_W_LAYOUT = "(F, C, KT, KH, KW)"


def _output_size(n: int, k: int, p: int, s: int) -> int:
    return (n + 2 * p - k) // s + 1


def _check_conv3d_args(fn: str, x, w, b, stride, padding):
    x = float_array(x, f"{fn}(x)", 5, _X_LAYOUT)
    w = float_array(w, f"{fn}(w)", 5, _W_LAYOUT)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"{fn}(w): expected {x.shape[1]} input channels to match x {x.shape}, "
                         f"got w of shape {w.shape}")
    if b is not None:
        b = float_array(b, f"{fn}(b)", 1, "(F,)")
        if b.shape[0] != w.shape[0]:
            raise ValueError(f"{fn}(b): expected shape ({w.shape[0]},) (one bias per filter), got {b.shape}")
    stride = as_tuple(stride, 3, f"{fn}(stride)", minimum=1)
    padding = as_tuple(padding, 3, f"{fn}(padding)", minimum=0)
    out = tuple(_output_size(n, k, p, s) for n, k, p, s in zip(x.shape[2:], w.shape[2:], padding, stride))
    if min(out) < 1:
        raise ValueError(f"{fn}(w): kernel {w.shape[2:]} is larger than the padded input "
                         f"{tuple(n + 2 * p for n, p in zip(x.shape[2:], padding))} (T, H, W)")
    return x, w, b, stride, padding, out


def conv3d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride=1, padding=0) -> np.ndarray:
    """3D cross-correlation with explicit loops over output voxels (slow; for reading, not for running).

    x: (N, C, T, H, W) float array; w: (F, C, KT, KH, KW); b: (F,) or None.
    stride, padding: int or (t, h, w) tuple, as in torch. Zero padding.
    Returns (N, F, T', H', W') with T' = (T + 2*pt - KT) // st + 1 (same rule for H', W').
    """
    x, w, b, (st, sh, sw), padding, (to, ho, wo) = _check_conv3d_args("conv3d_naive", x, w, b, stride, padding)
    n, f = x.shape[0], w.shape[0]
    kt, kh, kw = w.shape[2:]
    xp = pad_spatial(x, padding)
    out = np.zeros((n, f, to, ho, wo), dtype=np.result_type(x, w))
    for i in range(n):
        for j in range(f):
            for t in range(to):
                for r in range(ho):
                    for c in range(wo):
                        window = xp[i, :, t * st:t * st + kt, r * sh:r * sh + kh, c * sw:c * sw + kw]
                        out[i, j, t, r, c] = np.sum(window * w[j])
            if b is not None:
                out[i, j] += b[j]
    return out


def conv3d(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride=1, padding=0) -> np.ndarray:
    """3D cross-correlation, vectorized: same arguments and result as :func:`conv3d_naive`, much faster.

    x: (N, C, T, H, W) float array; w: (F, C, KT, KH, KW); b: (F,) or None.
    stride, padding: int or (t, h, w) tuple, as in ``torch.nn.functional.conv3d``. Zero padding.
    Returns (N, F, T', H', W').
    """
    x, w, b, stride, padding, _ = _check_conv3d_args("conv3d", x, w, b, stride, padding)
    win = sliding_windows(pad_spatial(x, padding), w.shape[2:], stride)  # (N, C, T', H', W', KT, KH, KW)
    out = np.tensordot(win, w, axes=([1, 5, 6, 7], [1, 2, 3, 4]))  # (N, T', H', W', F)
    if b is not None:
        out = out + b
    return np.ascontiguousarray(out.transpose(0, 4, 1, 2, 3))


def max_pool3d(x: np.ndarray, kernel_size, stride=None, padding=0) -> np.ndarray:
    """3D max pooling: the largest value of each (KT, KH, KW) window, channel by channel.

    x: (N, C, T, H, W) float array. kernel_size, stride, padding: int or (t, h, w) tuple; stride defaults to
    kernel_size; padding (at most half the kernel, as in torch) pads with -inf so it never wins.
    Returns (N, C, T', H', W') with T' = (T + 2*pt - KT) // st + 1 (same rule for H', W').
    """
    x = float_array(x, "max_pool3d(x)", 5, _X_LAYOUT)
    kernel = as_tuple(kernel_size, 3, "max_pool3d(kernel_size)", minimum=1)
    stride = kernel if stride is None else as_tuple(stride, 3, "max_pool3d(stride)", minimum=1)
    padding = as_tuple(padding, 3, "max_pool3d(padding)", minimum=0)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"max_pool3d(padding): expected at most half the kernel size {kernel}, got {padding}")
    out = tuple(_output_size(n, k, p, s) for n, k, p, s in zip(x.shape[2:], kernel, padding, stride))
    if min(out) < 1:
        raise ValueError(f"max_pool3d(kernel_size): kernel {kernel} is larger than the padded input "
                         f"{tuple(n + 2 * p for n, p in zip(x.shape[2:], padding))} (T, H, W)")
    win = sliding_windows(pad_spatial(x, padding, value=-np.inf), kernel, stride)
    return win.max(axis=(5, 6, 7))
