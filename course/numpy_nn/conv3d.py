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

from ._validate import check_conv_args, check_pool_args
from .conv2d import pad_spatial, sliding_windows

def conv3d_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray | None = None, *, stride=1, padding=0) -> np.ndarray:
    """3D cross-correlation with explicit loops over output voxels (slow; for reading, not for running).

    x: (N, C, T, H, W) float array; w: (F, C, KT, KH, KW); b: (F,) or None.
    stride, padding: int or (t, h, w) tuple, as in torch. Zero padding.
    Returns (N, F, T', H', W') with T' = (T + 2*pt - KT) // st + 1 (same rule for H', W').
    """
    x, w, b, (st, sh, sw), padding, _, (to, ho, wo) = check_conv_args("conv3d_naive", x, w, b, stride, padding,
                                                                      1, dims=3)
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
    x, w, b, stride, padding, _, _ = check_conv_args("conv3d", x, w, b, stride, padding, 1, dims=3)
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
    x, kernel, stride, padding, _ = check_pool_args("max_pool3d", x, kernel_size, stride, padding, dims=3)
    win = sliding_windows(pad_spatial(x, padding, value=-np.inf), kernel, stride)
    return win.max(axis=(5, 6, 7))
