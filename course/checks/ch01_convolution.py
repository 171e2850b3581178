"""Checks for chapter 01 (images and convolution): output size, zero padding, 2D correlation, multi-channel conv."""
from __future__ import annotations

import numpy as np

from ..numpy_nn import conv2d
from ..numpy_nn import output_size as _output_size
from .core import Case, CheckResult, check_function, compare_ints

_EXAMPLE_KERNEL = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]])


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def output_size(fn) -> CheckResult:
    """Check ``fn(n, k, p, s, d=1)``: the output length of a convolution along one axis (torch's floor rule)."""
    cases = [
        Case((5, 3, 0, 1), name="valid 3x3 on 5 pixels"),
        Case((5, 3, 1, 1), name="'same' padding keeps the size"),
        Case((32, 3, 1, 2), name="stride 2 halves (32 -> 16)"),
        Case((7, 3, 0, 2), name="stride 2 on an odd size"),
        Case((8, 3, 0, 3), name="floor: the last partial window is dropped",
             hint="use floor division // — a window that does not fit is not counted"),
        Case((10, 3, 0, 1), kwargs={"d": 2}, name="dilation 2: a 3-tap kernel spans 5 pixels",
             hint="a dilated kernel spans d*(k-1)+1 pixels"),
        Case((224, 7, 3, 2), name="ResNet's first conv (224 -> 112)"),
    ]
    ref = lambda n, k, p, s, d=1: _output_size(n, k, p, s, d)  # noqa: E731
    return check_function(fn, cases, title="output_size", reference=ref, compare_fn=compare_ints,
                          hint="(n + 2*p - d*(k-1) - 1) // s + 1")


def _ref_zero_pad(image: np.ndarray, p: int) -> np.ndarray:
    return np.pad(image, p)


def zero_pad(fn) -> CheckResult:
    """Check ``fn(image, p)``: a (H, W) image surrounded by p rows/columns of zeros -> (H+2p, W+2p)."""
    cases = [
        Case((np.ones((3, 3)), 1), name="3x3 ones, p=1"),
        Case((_rng(0).standard_normal((2, 5)), 2), name="non-square image, p=2"),
        Case((_rng(1).standard_normal((4, 4)), 0), name="p=0 changes nothing"),
    ]
    return check_function(fn, cases, title="zero_pad", reference=_ref_zero_pad,
                          hint="make np.zeros((H + 2*p, W + 2*p)) and copy the image into its middle")


def _ref_correlate2d(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return conv2d(image[None, None].astype(np.float64), kernel[None, None].astype(np.float64))[0, 0]


def correlate2d(fn) -> CheckResult:
    """Check ``fn(image, kernel)``: 'valid' cross-correlation of a (H, W) image with a (KH, KW) kernel."""
    cases = [
        Case((np.ones((3, 3)), _EXAMPLE_KERNEL), name="the worked example, 'valid'", expected=np.array([[5.0]])),
        Case((np.pad(np.ones((3, 3)), 1), _EXAMPLE_KERNEL), name="the worked example, 'same' (padded first)",
             expected=np.array([[2.0, 3, 2], [3, 5, 3], [2, 3, 2]])),
        Case((_rng(2).standard_normal((6, 7)), _rng(3).standard_normal((3, 3))), name="random 6x7 image, 3x3 kernel"),
        Case((_rng(4).standard_normal((5, 8)), _rng(5).standard_normal((2, 4))), name="non-square kernel",
             hint="the output is (H-KH+1, W-KW+1); loop over rows with KH and over columns with KW"),
        Case((np.arange(16.0).reshape(4, 4), np.array([[0.0, 1.0], [0.0, 0.0]])), name="no kernel flip",
             hint="correlation does not flip the kernel: out[i, j] = sum(image[i:i+KH, j:j+KW] * kernel)"),
    ]
    return check_function(fn, cases, title="correlate2d", reference=_ref_correlate2d)


def _ref_conv_multichannel(x, w, b, stride=1, padding=0):
    return conv2d(x[None], w, b, stride=stride, padding=padding)[0]


def conv2d_multichannel(fn) -> CheckResult:
    """Check ``fn(x, w, b, stride=1, padding=0)``: x (C, H, W), w (F, C, KH, KW), b (F,) -> (F, H', W')."""
    r = _rng(6)
    x, w, b = r.standard_normal((3, 7, 6)), r.standard_normal((4, 3, 3, 3)), r.standard_normal(4)
    cases = [
        Case((x, w, b), name="3 channels in, 4 filters out"),
        Case((x, w, b), {"padding": 1}, name="padding 1", hint="pad H and W only, not the channel axis"),
        Case((x, w, b), {"stride": 2}, name="stride 2", hint="output pixel (i, j) starts at row i*stride"),
        Case((x, w, b), {"stride": 2, "padding": 2}, name="stride 2 and padding 2"),
        Case((x[:1], w[:2, :1, :2], b[:2]), name="one channel in, 2 filters, a 2x3 kernel"),
    ]
    return check_function(fn, cases, title="conv2d_multichannel", reference=_ref_conv_multichannel,
                          hint="out[f, i, j] = sum over c, u, v of x_padded[c, i*s+u, j*s+v] * w[f, c, u, v] + b[f]")
