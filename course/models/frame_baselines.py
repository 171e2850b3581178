"""Chapter 06: the ways to feed a video to a 2D CNN (after Karpathy et al., CVPR 2014), from order-blind to order-aware.

All take clips (N, C, T, H, W) and return logits (N, num_classes):

- :class:`SingleFrameCNN` — a 2D CNN on frames: ``frame="random"`` trains on one random frame per clip,
  ``"average"`` averages the per-frame predictions, ``"middle"`` or an int uses one frame. Order-blind.
- :class:`LateFusion` — a per-frame encoder, features pooled over time (mean or max), then a classifier. Order-blind.
- :class:`EarlyFusion` — frames stacked as channels (C*T) into one 2D CNN: the first layer sees all of time.
- :class:`SlowFusion` — 3D convolutions with a small temporal extent and temporal stride, so time is merged
  gradually through the layers.

Every model is built from the same :mod:`course.models.blocks` builders and a ``widths`` tuple.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch
from torch import nn

from .blocks import FrameEncoder, check_input, check_positive_int, check_widths, conv_stack, encode_frames


class SingleFrameCNN(nn.Module):
    """A 2D CNN that looks at single frames. (N, C, T, H, W) -> (N, num_classes).

    Args:
        frame: which frame(s) to classify — ``"random"``: one random frame per clip in training and the average of
            per-frame predictions in eval mode; ``"average"``: average the logits of all frames; ``"middle"``: the
            middle frame only; an int: that frame index.
        widths: channels of the 2D conv stages of the encoder.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64),
                 frame: str | int = "random"):
        super().__init__()
        check_positive_int(num_classes, "SingleFrameCNN(num_classes)")
        if not (frame in ("random", "average", "middle") or (isinstance(frame, numbers.Integral)
                                                              and not isinstance(frame, bool))):
            raise ValueError(f"SingleFrameCNN(frame={frame!r}): expected 'random', 'average', 'middle' or an int")
        self.frame = frame
        self.encoder = FrameEncoder(in_channels, widths)
        self.head = nn.Linear(self.encoder.out_features, num_classes)

    def frame_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of every frame: (N, C, T, H, W) -> (N, T, num_classes)."""
        check_input(x, 5, "(N, C, T, H, W)", "SingleFrameCNN", self.encoder.in_channels)
        return self.head(encode_frames(self.encoder, x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "SingleFrameCNN", self.encoder.in_channels)
        t = x.shape[2]
        if self.frame == "random" and self.training:
            idx = torch.randint(t, (x.shape[0],), device=x.device)
            frames = x[torch.arange(x.shape[0], device=x.device), :, idx]          # (N, C, H, W)
            return self.head(self.encoder(frames))
        if self.frame in ("random", "average"):
            return self.frame_logits(x).mean(dim=1)
        index = t // 2 if self.frame == "middle" else int(self.frame)
        if not -t <= index < t:
            raise ValueError(f"SingleFrameCNN.forward(x): frame={self.frame} but the clip has only {t} frames")
        return self.head(self.encoder(x[:, :, index]))


class LateFusion(nn.Module):
    """Per-frame 2D encoder, features pooled over time, then a linear classifier. (N, C, T, H, W) -> (N, classes).

    ``pool="mean"`` or ``"max"``: either way the result does not depend on the order of the frames.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64),
                 pool: str = "mean"):
        super().__init__()
        check_positive_int(num_classes, "LateFusion(num_classes)")
        if pool not in ("mean", "max"):
            raise ValueError(f"LateFusion(pool={pool!r}): expected 'mean' or 'max'")
        self.pool = pool
        self.encoder = FrameEncoder(in_channels, widths)
        self.head = nn.Linear(self.encoder.out_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "LateFusion", self.encoder.in_channels)
        feats = encode_frames(self.encoder, x)                                   # (N, T, F)
        pooled = feats.mean(dim=1) if self.pool == "mean" else feats.amax(dim=1)
        return self.head(pooled)


class EarlyFusion(nn.Module):
    """Frames stacked as channels: (N, C, T, H, W) -> (N, C*T, H, W) -> 2D CNN -> (N, num_classes).

    The first convolution mixes all ``num_frames`` frames, so the model can see motion; ``num_frames`` is fixed.
    """

    def __init__(self, num_classes: int, *, num_frames: int, in_channels: int = 3,
                 widths: Sequence[int] = (32, 64, 64)):
        super().__init__()
        check_positive_int(num_classes, "EarlyFusion(num_classes)")
        self.num_frames = check_positive_int(num_frames, "EarlyFusion(num_frames)")
        self.in_channels = check_positive_int(in_channels, "EarlyFusion(in_channels)")
        self.encoder = FrameEncoder(self.in_channels * self.num_frames, widths)
        self.head = nn.Linear(self.encoder.out_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "EarlyFusion", self.in_channels)
        if x.shape[2] != self.num_frames:
            raise ValueError(f"EarlyFusion.forward(x): expected T={self.num_frames} frames, got shape {tuple(x.shape)}")
        return self.head(self.encoder(x.flatten(1, 2)))


class SlowFusion(nn.Module):
    """3D conv stages with temporal kernel ``temporal_kernels[i]`` and stride ``temporal_strides[i]`` (no temporal
    padding), so each stage sees a longer stretch of time; then global average pooling and a linear classifier.

    (N, C, T, H, W) -> (N, num_classes). With the defaults a 16-frame clip goes 16 -> 7 -> 3 -> 1 frames.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64),
                 temporal_kernels: Sequence[int] = (4, 3, 3), temporal_strides: Sequence[int] = (2, 2, 1)):
        super().__init__()
        check_positive_int(num_classes, "SlowFusion(num_classes)")
        self.in_channels = check_positive_int(in_channels, "SlowFusion(in_channels)")
        widths = check_widths(widths, "SlowFusion(widths)")
        temporal_kernels = check_widths(temporal_kernels, "SlowFusion(temporal_kernels)")
        temporal_strides = check_widths(temporal_strides, "SlowFusion(temporal_strides)")
        if not len(widths) == len(temporal_kernels) == len(temporal_strides):
            raise ValueError("SlowFusion: widths, temporal_kernels and temporal_strides need one entry per stage, got "
                             f"{len(widths)}, {len(temporal_kernels)} and {len(temporal_strides)}")
        self.features = conv_stack(3, self.in_channels, widths, pool=(1, 2, 2), temporal_kernels=temporal_kernels,
                                   temporal_strides=temporal_strides)
        self.head = nn.Linear(widths[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "SlowFusion", self.in_channels)
        return self.head(self.features(x).mean(dim=(2, 3, 4)))
