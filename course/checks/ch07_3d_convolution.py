"""Checks for chapter 07 (3D convolution).

References are independent of the learner's code: torch for shapes, values and FLOPs; the autograd-verified
geometry in ``course.viz.receptive_field`` for receptive fields; and behaviour on moving clips for the motion kernel.
"""
from __future__ import annotations

import numpy as np

from ..viz.motion import kernel_response, moving_clip, random_pattern, square_pattern
from ..viz.receptive_field import Layer3d, receptive_field_size as _rf_size
from .core import Case, CheckResult, check_function, compare_ints


def _torch_conv3d(x, w, b=None, stride=(1, 1, 1), padding=(0, 0, 0)):
    import torch
    import torch.nn.functional as F

    tb = None if b is None else torch.from_numpy(b)
    return F.conv3d(torch.from_numpy(x), torch.from_numpy(w), tb, stride=stride, padding=padding).numpy()


def _torch_output_shape(x_shape, w_shape, stride=1, padding=0):
    import torch
    import torch.nn.functional as F

    x = torch.empty(x_shape, device="meta")
    w = torch.empty(w_shape, device="meta")
    return tuple(F.conv3d(x, w, stride=stride, padding=padding).shape)


def conv3d_output_shape(fn) -> CheckResult:
    """Check ``fn(x_shape, w_shape, stride, padding) -> (N, F, T', H', W')``; stride/padding are ints or 3-tuples."""
    cases = [
        Case(((1, 3, 16, 112, 112), (64, 3, 3, 3, 3), 1, 1), name="C3D conv1: 'same' padding keeps T, H, W"),
        Case(((2, 1, 8, 20, 20), (4, 1, 3, 3, 3), 1, 0), name="no padding shrinks each axis by k - 1"),
        Case(((1, 3, 16, 32, 32), (8, 3, 3, 5, 5), (1, 2, 2), (1, 2, 2)), name="per-axis stride and padding",
             hint="apply (n + 2p - k) // s + 1 to T, H and W separately, each with its own k, s, p"),
        Case(((4, 2, 9, 15, 11), (6, 2, 2, 4, 3), (2, 3, 1), 0), name="odd sizes: floor division",
             hint="use integer (floor) division: windows that do not fit are dropped"),
        Case(((1, 1, 5, 5, 5), (1, 1, 5, 5, 5), 1, 0), name="kernel as big as the input -> 1 x 1 x 1"),
    ]
    return check_function(fn, cases, title="conv3d_output_shape", reference=_torch_output_shape,
                          compare_fn=compare_ints,
                          hint="output = (N, F, T', H', W') with T' = (T + 2*pt - KT) // st + 1, and so on")


def conv3d_loops(fn) -> CheckResult:
    """Check ``fn(x, w, b=None, stride=(1,1,1), padding=(0,0,0))`` against ``torch.nn.functional.conv3d``."""
    rng = np.random.default_rng(7)

    def arrays(x_shape, w_shape, bias):
        x = rng.standard_normal(x_shape)
        w = rng.standard_normal(w_shape)
        return x, w, (rng.standard_normal(w_shape[0]) if bias else None)

    cases = [
        Case(arrays((1, 1, 3, 3, 3), (1, 1, 3, 3, 3), False), name="one window: a single dot product"),
        Case(arrays((1, 2, 4, 5, 5), (3, 2, 2, 3, 3), False), name="several channels and filters"),
        Case(arrays((2, 2, 4, 5, 6), (3, 2, 3, 2, 3), True), name="with a bias",
             hint="add b[f] to every output of filter f"),
        Case(arrays((1, 1, 6, 7, 7), (2, 1, 3, 3, 3), True), kwargs=dict(stride=(2, 2, 1)), name="per-axis stride",
             hint="output voxel (t, i, j) starts at input (t*st, i*sh, j*sw)"),
        Case(arrays((1, 2, 3, 4, 4), (2, 2, 3, 3, 3), True), kwargs=dict(padding=(1, 1, 1)),
             name="zero padding",
             hint="pad T, H and W with zeros first: np.pad(x, ((0, 0), (0, 0), (pt, pt), (ph, ph), (pw, pw)))"),
        Case(arrays((1, 1, 5, 6, 6), (1, 1, 2, 3, 3), False), kwargs=dict(stride=(1, 2, 2), padding=(0, 1, 1)),
             name="stride and padding together"),
    ]
    return check_function(fn, cases, title="conv3d (loops)", reference=_torch_conv3d, rtol=1e-7, atol=1e-9,
                          hint="it is a cross-correlation: do not flip the kernel")


def _motion_probe(kernel_fn, velocity, pattern_name):
    kernel = np.asarray(kernel_fn(), dtype=np.float64)
    if kernel.shape != (3, 3, 3):
        raise ValueError(f"the kernel must have shape (3, 3, 3) = (KT, KH, KW), got {kernel.shape}")
    pattern = square_pattern() if pattern_name == "square" else random_pattern(seed=int(pattern_name[-1]))
    peak = float(kernel_response(moving_clip(pattern, velocity, 8), kernel).max())
    return "fires" if peak > 1e-6 * max(np.abs(kernel).sum(), 1e-12) else "silent"


def rightward_motion_kernel(fn) -> CheckResult:
    """Check ``fn() -> (3, 3, 3)`` kernel: ReLU(kernel * clip) > 0 somewhere for rightward motion at 1 px/frame and
    == 0 everywhere for leftward motion and for a still pattern, on a square and on random textures."""
    cases = []
    for pattern in ("square", "texture 1", "texture 2"):
        cases += [
            Case((fn, 1, pattern), name=f"{pattern} moving right: fires", expected="fires",
                 hint="weights along the rightward diagonal (t=0 left, t=1 middle, t=2 right) should add up to > 0"),
            Case((fn, -1, pattern), name=f"{pattern} moving left: silent", expected="silent",
                 hint="every leftward diagonal of the (t, x) weights must add up to <= 0, even the short ones"),
            Case((fn, 0, pattern), name=f"{pattern} standing still: silent", expected="silent",
                 hint="for a still pattern only the sum over t of each (row, col) position matters: make it <= 0"),
        ]
    return check_function(_motion_probe, cases, title="rightward motion kernel")


def _reference_rf(layers):
    return _rf_size([Layer3d(f"layer{i}", kernel, stride) for i, (kernel, stride) in enumerate(layers)])


def receptive_field_size(fn) -> CheckResult:
    """Check ``fn(layers) -> (frames, rows, cols)`` with ``layers`` a list of ((kt, kh, kw), (st, sh, sw)) pairs."""
    k3, s1 = (3, 3, 3), (1, 1, 1)
    cases = [
        Case(([(k3, s1)],), name="one 3x3x3 conv sees 3x3x3"),
        Case(([(k3, s1)] * 4,), name="four 3x3x3 convs, stride 1", hint="each stride-1 layer adds k - 1"),
        Case(([(k3, s1), ((1, 2, 2), (1, 2, 2)), (k3, s1)],), name="conv, pool 1x2x2, conv (C3D's start)",
             hint="after a stride-2 pool one step in the next layer is 2 input pixels: it adds (k - 1) * 2"),
        Case(([(k3, s1), ((1, 2, 2), (1, 2, 2)), (k3, s1), ((2, 2, 2), (2, 2, 2)), (k3, s1), (k3, s1)],),
             name="deeper: strides multiply", hint="keep a running product of the strides (the 'jump')"),
        Case(([((5, 1, 1), s1), ((1, 3, 3), (1, 2, 2)), ((3, 1, 1), (2, 1, 1))],), name="separable-style kernels"),
    ]
    return check_function(fn, cases, title="receptive_field_size", reference=_reference_rf, compare_fn=compare_ints)


def _torch_conv_flops(c_in, c_out, kernel, out_size):
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    dims = len(kernel)
    conv = (torch.nn.Conv2d if dims == 2 else torch.nn.Conv3d)(c_in, c_out, kernel, bias=False, device="meta")
    x = torch.empty((1, c_in) + tuple(o + k - 1 for o, k in zip(out_size, kernel)), device="meta")
    with FlopCounterMode(display=False) as counter:
        conv(x)
    return int(counter.get_total_flops())


def conv_flops(fn) -> CheckResult:
    """Check ``fn(c_in, c_out, kernel, out_size) -> FLOPs`` (an int, compared exactly) of one conv (no bias, batch 1)
    as torch's flop counter counts them (a multiply and an add = 2 FLOPs); ``kernel`` and ``out_size`` are 2- or
    3-tuples."""
    cases = [
        Case((1, 1, (3, 3), (1, 1)), name="one 3x3 window, one channel"),
        Case((3, 64, (3, 3), (112, 112)), name="2D conv on one 112x112 frame"),
        Case((3, 64, (3, 3, 3), (16, 112, 112)), name="3D conv on a 16-frame clip"),
        Case((64, 128, (3, 3, 3), (8, 28, 28)), name="a deeper 3D layer"),
        Case((16, 8, (1, 3, 3), (4, 10, 10)), name="a 1x3x3 (spatial-only) 3D kernel"),
    ]
    return check_function(fn, cases, title="conv_flops", reference=_torch_conv_flops, compare_fn=compare_ints,
                          hint="FLOPs = 2 * c_out * (output positions) * c_in * (kernel volume)")
