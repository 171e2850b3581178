"""Checks for chapter 10 (residual 3D CNNs and inflation).

References are independent of the learner's code: parameter counts are counted from torch modules, the residual
block's output comes from the course's :class:`~course.models.BasicBlock`, inflated weights from
:func:`~course.models.inflate_conv2d`, and edge ratios from running torch's conv3d on a boring clip.
"""
from __future__ import annotations

import numpy as np

from .core import Case, CheckResult, array_problem, check_function, compare, compare_ints


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def _midplanes_reference(in_planes: int, out_planes: int) -> int:
    """The largest M with in*9*M + M*3*out <= in*out*27, found by counting real modules (not by the formula)."""
    import torch

    full = in_planes * out_planes * 27
    m = 1
    while True:
        with torch.device("meta"):
            spatial = torch.nn.Conv3d(in_planes, m + 1, (1, 3, 3), bias=False)
            temporal = torch.nn.Conv3d(m + 1, out_planes, (3, 1, 1), bias=False)
        if _count(spatial) + _count(temporal) > full:
            return m
        m += 1


def midplanes(fn) -> CheckResult:
    """Check ``fn(in_planes, out_planes) -> int``: the (2+1)D block's middle width."""
    cases = [Case((64, 64), name="64 -> 64 (layer1 of R(2+1)D-18)"),
             Case((64, 128), name="64 -> 128 (first block of layer2)"),
             Case((128, 128), name="128 -> 128"),
             Case((8, 16), name="a small network: 8 -> 16"),
             Case((3, 5), name="odd sizes: round down", hint="use integer division //")]
    return check_function(fn, cases, title="midplanes", reference=_midplanes_reference, compare_fn=compare_ints,
                          hint="solve in*out*27 = in*9*M + M*3*out for M and round down")


def _factorised_reference(in_planes: int, out_planes: int, mid: int) -> tuple[int, int]:
    import torch

    with torch.device("meta"):
        full = torch.nn.Conv3d(in_planes, out_planes, 3, bias=False)
        spatial = torch.nn.Conv3d(in_planes, mid, (1, 3, 3), bias=False)
        temporal = torch.nn.Conv3d(mid, out_planes, (3, 1, 1), bias=False)
    return _count(full), _count(spatial) + _count(temporal)


def factorised_param_counts(fn) -> CheckResult:
    """Check ``fn(in_planes, out_planes, mid) -> (params of a 3x3x3 conv, params of 1x3x3 + 3x1x1 via mid)``."""
    cases = [Case((64, 64, 144), name="64 -> 64 with M = 144"),
             Case((64, 128, 230), name="64 -> 128 with M = 230"),
             Case((3, 8, 4), name="3 -> 8 with M = 4"),
             Case((16, 16, 1), name="M = 1: a tiny bottleneck")]
    return check_function(fn, cases, title="factorised_param_counts", reference=_factorised_reference,
                          compare_fn=compare_ints,
                          hint="no biases: 3x3x3 has in*out*27; 1x3x3 has in*M*9; 3x1x1 has M*out*3")


def _blocks():
    import torch

    from ..models import BasicBlock, Conv2Plus1D, Conv3DSimple

    torch.manual_seed(0)
    plain = BasicBlock(4, 4, Conv3DSimple).eval()
    down = torch.nn.Sequential(torch.nn.Conv3d(4, 6, 1, stride=2, bias=False), torch.nn.BatchNorm3d(6))
    strided = BasicBlock(4, 6, Conv2Plus1D, stride=2, downsample=down).eval()
    x = torch.randn(2, 4, 4, 6, 6)
    return [(plain, x), (strided, x)]


def residual_forward(fn) -> CheckResult:
    """Check ``fn(block, x) -> relu(block.residual(x) + shortcut(x))`` against the course's BasicBlock."""
    import torch

    blocks = _blocks()

    def reference(block, x):
        with torch.no_grad():
            return block(x)

    cases = [Case(blocks[0], name="identity shortcut (same shape, stride 1)"),
             Case(blocks[1], name="downsample shortcut (stride 2, 4 -> 6 channels)",
                  hint="when block.downsample is not None, the shortcut is block.downsample(x), not x")]
    with torch.no_grad():
        return check_function(fn, cases, title="residual_forward", reference=reference,
                              rtol=1e-5, atol=1e-6, hint="out = block.relu(block.residual(x) + shortcut)")


def _inflate_reference(w2d, time_kernel: int, init: str):
    import torch

    from ..models import inflate_conv2d

    conv = torch.nn.Conv2d(w2d.shape[1], w2d.shape[0], tuple(w2d.shape[2:]), bias=False)
    with torch.no_grad():
        conv.weight.copy_(w2d)
    return inflate_conv2d(conv, time_kernel, init=init).weight.detach()


def inflate_weight(fn) -> CheckResult:
    """Check ``fn(w2d (F, C, kh, kw), time_kernel, init) -> w3d (F, C, time_kernel, kh, kw)``."""
    import torch

    g = torch.Generator().manual_seed(3)
    w = torch.randn(4, 2, 3, 3, generator=g)
    cases = [Case((w, 3, "mean"), name="mean, 3 taps: repeat and divide by 3"),
             Case((w, 5, "mean"), name="mean, 5 taps"),
             Case((w, 3, "center"), name="center, 3 taps: the filter in the middle slice, zeros elsewhere"),
             Case((torch.randn(2, 3, 7, 7, generator=g), 1, "mean"), name="1 tap: just a new axis")]
    return check_function(fn, cases, title="inflate_weight", reference=_inflate_reference, rtol=1e-6, atol=1e-7,
                          hint="w2d.unsqueeze(2) adds the time axis; .repeat(1, 1, t, 1, 1) copies it t times")


def _edge_ratios_reference(conv2d, image, num_frames: int) -> np.ndarray:
    import torch

    from ..models import inflate_conv2d

    with torch.no_grad():
        out2d = conv2d(image)
        clip = image.unsqueeze(2).expand(-1, -1, num_frames, -1, -1)
        kt = 3
        out3d = inflate_conv2d(conv2d, kt, time_padding="zeros")(clip)
        ratios = [(out3d[:, :, t] * out2d).sum() / (out2d * out2d).sum() for t in range(num_frames)]
    return np.array([float(r) for r in ratios])


def zero_padding_edge_ratios(fn) -> CheckResult:
    """Check ``fn(conv2d, image (1, C, H, W), num_frames) -> (num_frames,) ratios``, a NumPy array (as the exercise
    asks; a tensor is refused): the zero-padded 3-tap inflated conv's output at each frame of a boring clip, relative
    to the 2D output."""
    import torch

    torch.manual_seed(5)
    cases = []
    for frames, channels in ((6, 3), (3, 2), (1, 3)):
        conv = torch.nn.Conv2d(channels, 4, 3, padding=1, bias=False)
        image = torch.randn(1, channels, 8, 8)
        cases.append(Case((conv, image, frames), name=f"{frames} frame(s), {channels} channels",
                          hint="a single frame has zeros on both sides: 1 of 3 taps sees the image"
                          if frames == 1 else None))
    return check_function(fn, cases, title="zero_padding_edge_ratios", reference=_edge_ratios_reference,
                          compare_fn=lambda got, exp: array_problem(got) or compare(got, exp, rtol=1e-4, atol=1e-5),
                          hint="inflate with inflate_conv2d(conv2d, 3, time_padding='zeros'), run it on the "
                               "boring clip, and divide each frame's output by the 2D output (use the projection "
                               "sum(a*b)/sum(b*b))")
