"""Checks for chapter 08 (C3D).

References are independent of the learner's code: shapes and parameter counts come from PyTorch modules built on the
``meta`` device (no memory, no compute), the filter display from :func:`course.viz.c3d.filter_frames`.
"""
from __future__ import annotations

import numpy as np

from ..viz.c3d import filter_frames as _filter_frames
from .core import Case, CheckResult, check_function, compare_ints


def _meta_pool_shape(shape, kernel, stride, padding):
    import torch

    x = torch.empty((1,) + tuple(shape), device="meta")
    return tuple(torch.nn.functional.max_pool3d(x, kernel, stride, padding).shape[1:])


def pooled_shape(fn) -> CheckResult:
    """Check ``fn(shape, kernel, stride, padding) -> (C, T', H', W')`` for a max-pool over (C, T, H, W)."""
    cases = [
        Case(((64, 16, 112, 112), (1, 2, 2), (1, 2, 2), (0, 0, 0)), name="C3D pool1 keeps time"),
        Case(((128, 16, 56, 56), (2, 2, 2), (2, 2, 2), (0, 0, 0)), name="C3D pool2 halves T, H and W"),
        Case(((512, 2, 7, 7), (2, 2, 2), (2, 2, 2), (0, 1, 1)), name="C3D pool5 with padding (0, 1, 1)",
             hint="padding adds p on both sides: (n + 2p - k) // s + 1"),
        Case(((8, 5, 9, 3), (2, 3, 3), (2, 3, 3), (0, 0, 0)), name="odd sizes: floor division",
             hint="a window that does not fit entirely is dropped: use // "),
    ]
    return check_function(fn, cases, title="pooled_shape", reference=_meta_pool_shape, compare_fn=compare_ints,
                          hint="the channel count C does not change; each of T, H, W uses (n + 2p - k) // s + 1")


def _reference_feature_shape(t, h, w, channels=512):
    import torch

    from ..models import C3D

    with torch.device("meta"):
        return C3D(input_size=(t, h, w), widths=(8, 8, 8, 8, 8, 8, 8, channels), fc_features=8).feature_shape


def c3d_feature_shape(fn) -> CheckResult:
    """Check ``fn(t, h, w, channels=512) -> (C, T5, H5, W5)``: the shape after pool5 for a (T, H, W) input."""
    cases = [
        Case((16, 112, 112), name="the paper's input: 512 x 1 x 4 x 4 = 8192 features"),
        Case((16, 32, 32), {"channels": 64}, name="the small C3D's input"),
        Case((32, 128, 171), name="longer clips, non-square frames",
             hint="pool1 does not pool time; pools 2-5 do; pool5 pads H and W by 1"),
        Case((16, 16, 16), {"channels": 8}, name="the smallest input C3D accepts"),
    ]
    return check_function(fn, cases, title="c3d_feature_shape", reference=_reference_feature_shape,
                          compare_fn=compare_ints)


def _reference_num_parameters(num_classes, in_channels=3):
    import torch

    from ..models import C3D, count_parameters

    with torch.device("meta"):
        return count_parameters(C3D(num_classes, in_channels=in_channels))


def c3d_num_parameters(fn) -> CheckResult:
    """Check ``fn(num_classes, in_channels=3) -> int``: parameters of the paper's C3D, computed by hand."""
    cases = [
        Case((101,), name="UCF101: the paper's 78,409,573"),
        Case((51,), name="HMDB51", hint="only fc8 depends on the number of classes: 4096 weights + 1 bias each"),
        Case((10,), {"in_channels": 1}, name="grey-scale input, 10 classes",
             hint="conv1 has in_channels * 64 * 27 weights + 64 biases"),
        Case((487,), {"in_channels": 3}, name="Sports-1M (487 classes)"),
    ]
    return check_function(fn, cases, title="c3d_num_parameters", reference=_reference_num_parameters,
                          hint="a Conv3d has C_in*C_out*3*3*3 weights + C_out biases; a Linear in*out + out")


def filter_frames(fn) -> CheckResult:
    """Check ``fn(weight) -> (F, KT, KH, KW, C)`` in [0, 1] with 0 weight at 0.5, each filter scaled on its own."""
    rng = np.random.default_rng(8)
    w1 = rng.standard_normal((4, 3, 3, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((2, 1, 2, 5, 5)).astype(np.float32) * np.array([1, 100], np.float32)[:, None, None,
                                                                                                    None, None]
    w3 = np.zeros((1, 3, 3, 3, 3), np.float32)
    w3[0, 0, 1, 1, 1] = -2.0
    cases = [
        Case((w1,), name="C3D-like conv1 filters (4, 3, 3, 3, 3)"),
        Case((w2,), name="one channel, filters of very different magnitudes",
             hint="scale each filter by its own largest absolute weight"),
        Case((w3,), name="a single negative weight maps to 0, everything else to 0.5"),
    ]
    return check_function(fn, cases, title="filter_frames", reference=_filter_frames, atol=1e-5,
                          hint="move the channel axis last: (F, C, KT, KH, KW) -> (F, KT, KH, KW, C), then "
                               "0.5 + 0.5 * w / max|w|")
