"""Video denoisers for chapter 17's enhancement section: one frame at a time vs neighbouring frames together.

Both are the same residual stack of 3D conv stages (:func:`course.models.blocks.conv_stage`) that predicts the noise
and subtracts it (as DnCNN does for images: Zhang, Zuo, Chen, Meng and Zhang, *Beyond a Gaussian Denoiser*, 2017).
The only difference is the temporal extent of the kernels: ``temporal_kernel=1`` gives a single-frame denoiser (each
output frame sees only its own noisy frame), ``temporal_kernel=3`` lets every layer look one frame back and one
ahead.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from .blocks import check_input, check_positive_int, conv_stage

__all__ = ["VideoDenoiser"]


class VideoDenoiser(nn.Module):
    """Residual denoiser: noisy clips (N, C, T, H, W) -> denoised clips (N, C, T, H, W), ``noisy - net(noisy)``.

    ``depth`` conv stages of ``width`` channels (kernel ``(temporal_kernel, 3, 3)``, "same" padding, no batch norm),
    then a convolution back to ``channels``. ``temporal_kernel`` must be odd; through these ``depth + 1`` convolutions
    each output frame sees ``(depth + 1) * (temporal_kernel - 1) + 1`` input frames (:attr:`frames_seen`; zeros
    beyond the ends of the clip).
    """

    def __init__(self, channels: int = 1, *, width: int = 16, depth: int = 3, temporal_kernel: int = 3):
        super().__init__()
        self.channels = check_positive_int(channels, "VideoDenoiser(channels)")
        width = check_positive_int(width, "VideoDenoiser(width)")
        depth = check_positive_int(depth, "VideoDenoiser(depth)")
        kt = check_positive_int(temporal_kernel, "VideoDenoiser(temporal_kernel)")
        if kt % 2 == 0:
            raise ValueError(f"VideoDenoiser(temporal_kernel): expected an odd int (same padding), got {kt!r}")
        self.temporal_kernel = kt
        stages = [(f"stage{k + 1}", conv_stage(3, self.channels if k == 0 else width, width, kernel_size=(kt, 3, 3),
                                               batch_norm=False)) for k in range(depth)]
        stages.append(("noise", nn.Conv3d(width, self.channels, (kt, 3, 3), padding=(kt // 2, 1, 1))))
        self.net = nn.Sequential(OrderedDict(stages))

    @property
    def frames_seen(self) -> int:
        """How many input frames each output frame depends on."""
        return len(self.net) * (self.temporal_kernel - 1) + 1

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        check_input(noisy, 5, "(N, C, T, H, W)", type(self).__name__, self.channels)
        return noisy - self.net(noisy)
