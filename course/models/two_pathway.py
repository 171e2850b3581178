"""Chapter 11: two streams and two speeds — models that see a clip through two pathways.

- :class:`TwoStream` (after Simonyan & Zisserman 2014): an *appearance* stream that sees frames one at a time and a
  *motion* stream that sees the stacked differences of consecutive frames (a cheap stand-in for the optical flow of
  the paper), fused before one linear classifier. ``streams=("appearance",)`` or ``("motion",)`` builds one part.
- :class:`SlowFast` (after Feichtenhofer et al. 2019): a *slow* pathway at a low frame rate with many channels, a
  *fast* pathway at the full frame rate with few channels, and lateral connections from fast to slow.
  ``pathways="slow"`` or ``"fast"`` builds one part.

Both are assembled from the builders of :mod:`course.models.blocks` (FrameEncoder, conv_stage).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from .blocks import FrameEncoder, check_input, check_positive_int, check_widths, conv_stage, encode_frames

TWO_STREAM_STREAMS = ("appearance", "motion")


def frame_differences(x: torch.Tensor) -> torch.Tensor:
    """Differences of consecutive frames: (N, C, T, H, W) -> (N, C, T-1, H, W), frame t+1 minus frame t.

    Zero where nothing changes, so static background and clutter vanish; the sign says which way an edge moved.
    """
    check_input(x, 5, "(N, C, T, H, W)", "frame_differences")
    if x.shape[2] < 2:
        raise ValueError(f"frame_differences(x): expected at least 2 frames, got shape {tuple(x.shape)}")
    return x[:, :, 1:] - x[:, :, :-1]


class TwoStream(nn.Module):
    """Appearance (frames) + motion (frame differences) streams, features concatenated, one linear head.

    (N, C, T, H, W) with T = ``num_frames`` -> (N, num_classes).

    - appearance: a 2D :class:`FrameEncoder` on every frame, features averaged over time (order-blind, like the
      spatial stream of the paper, which saw single frames);
    - motion: the T-1 frame differences stacked as channels, C*(T-1), into a 2D :class:`FrameEncoder` (like the
      paper's temporal stream, which stacked optical-flow fields the same way).
    """

    def __init__(self, num_classes: int, *, num_frames: int = 16, in_channels: int = 3,
                 streams: Sequence[str] = TWO_STREAM_STREAMS, appearance_widths: Sequence[int] = (16, 32, 64),
                 motion_widths: Sequence[int] = (32, 64, 64)):
        super().__init__()
        check_positive_int(num_classes, "TwoStream(num_classes)")
        self.num_frames = check_positive_int(num_frames, "TwoStream(num_frames)")
        if self.num_frames < 2:
            raise ValueError(f"TwoStream(num_frames={num_frames}): the motion stream needs at least 2 frames")
        self.in_channels = check_positive_int(in_channels, "TwoStream(in_channels)")
        if (isinstance(streams, str) or not streams or len(set(streams)) != len(streams)
                or any(s not in TWO_STREAM_STREAMS for s in streams)):
            raise ValueError(f"TwoStream(streams={streams!r}): expected a non-empty subset of {TWO_STREAM_STREAMS}")
        self.streams = tuple(s for s in TWO_STREAM_STREAMS if s in streams)
        features = 0
        self.appearance = self.motion = None
        if "appearance" in self.streams:
            self.appearance = FrameEncoder(self.in_channels, check_widths(appearance_widths,
                                                                          "TwoStream(appearance_widths)"))
            features += self.appearance.out_features
        if "motion" in self.streams:
            self.motion = FrameEncoder(self.in_channels * (self.num_frames - 1),
                                       check_widths(motion_widths, "TwoStream(motion_widths)"))
            features += self.motion.out_features
        self.head = nn.Linear(features, num_classes)

    def stream_features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each stream's clip features: {"appearance": (N, F_a), "motion": (N, F_m)} (the streams built)."""
        check_input(x, 5, "(N, C, T, H, W)", "TwoStream", self.in_channels)
        if x.shape[2] != self.num_frames:
            raise ValueError(f"TwoStream.forward(x): expected T={self.num_frames} frames, got shape {tuple(x.shape)}")
        out = {}
        if self.appearance is not None:
            out["appearance"] = encode_frames(self.appearance, x).mean(dim=1)
        if self.motion is not None:
            out["motion"] = self.motion(frame_differences(x).flatten(1, 2))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat(list(self.stream_features(x).values()), dim=1))


SLOWFAST_PATHWAYS = ("both", "slow", "fast")


def _pathway_stage(in_channels: int, out_channels: int, temporal_kernel: int) -> nn.Sequential:
    """conv (temporal_kernel x 3 x 3, same padding) + BN + ReLU, then 1x2x2 max pooling: time is never pooled."""
    stage = conv_stage(3, in_channels, out_channels, kernel_size=(temporal_kernel, 3, 3))
    stage.add_module("pool", nn.MaxPool3d((1, 2, 2)))
    return stage


class SlowFast(nn.Module):
    """A small SlowFast network: (N, C, T, H, W) -> (N, num_classes), T divisible by ``alpha``.

    - slow pathway: every ``alpha``-th frame (T / alpha frames), channels ``slow_widths``, temporal kernel 1 in the
      first stage and 3 after it (as in the paper, the slow pathway looks at appearance first);
    - fast pathway: all T frames, channels ``fast_widths`` (the paper uses 1/8 of the slow channels; here 1/4),
      temporal kernel 3 everywhere;
    - lateral connections: after each stage but the last, the fast features go through a time-strided convolution
      (kernel 5x1x1, stride alpha, 2x the fast channels) and are concatenated to the slow features;
    - head: both pathways globally average-pooled, concatenated, one linear layer.

    ``pathways="slow"`` or ``"fast"`` keeps one pathway (and no laterals): the single-pathway parts to compare with.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, alpha: int = 4,
                 slow_widths: Sequence[int] = (16, 32, 64), fast_widths: Sequence[int] = (4, 8, 16),
                 pathways: str = "both"):
        super().__init__()
        check_positive_int(num_classes, "SlowFast(num_classes)")
        self.in_channels = check_positive_int(in_channels, "SlowFast(in_channels)")
        self.alpha = check_positive_int(alpha, "SlowFast(alpha)")
        slow_widths = check_widths(slow_widths, "SlowFast(slow_widths)")
        fast_widths = check_widths(fast_widths, "SlowFast(fast_widths)")
        if len(slow_widths) != len(fast_widths):
            raise ValueError(f"SlowFast: slow_widths and fast_widths need one entry per stage, got {slow_widths!r} "
                             f"and {fast_widths!r}")
        if pathways not in SLOWFAST_PATHWAYS:
            raise ValueError(f"SlowFast(pathways={pathways!r}): expected one of {SLOWFAST_PATHWAYS}")
        self.pathways = pathways
        use_slow, use_fast = pathways in ("both", "slow"), pathways in ("both", "fast")
        lateral = pathways == "both"
        slow, fast, laterals = [], [], []
        c_slow = c_fast = self.in_channels
        for i, (ws, wf) in enumerate(zip(slow_widths, fast_widths)):
            if use_slow:
                extra = 2 * fast_widths[i - 1] if lateral and i > 0 else 0
                slow.append((f"stage{i + 1}", _pathway_stage(c_slow + extra, ws, 1 if i == 0 else 3)))
                c_slow = ws
            if use_fast:
                fast.append((f"stage{i + 1}", _pathway_stage(c_fast, wf, 3)))
                c_fast = wf
            if lateral and i < len(slow_widths) - 1:
                laterals.append((f"stage{i + 1}", nn.Conv3d(wf, 2 * wf, (5, 1, 1), stride=(self.alpha, 1, 1),
                                                            padding=(2, 0, 0), bias=False)))
        self.slow = nn.Sequential(OrderedDict(slow)) if use_slow else None
        self.fast = nn.Sequential(OrderedDict(fast)) if use_fast else None
        self.laterals = nn.Sequential(OrderedDict(laterals)) if lateral else None
        self.head = nn.Linear((c_slow if use_slow else 0) + (c_fast if use_fast else 0), num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "SlowFast", self.in_channels)
        if x.shape[2] % self.alpha:
            raise ValueError(f"SlowFast.forward(x): expected T divisible by alpha={self.alpha}, got shape "
                             f"{tuple(x.shape)}")
        slow = x[:, :, :: self.alpha] if self.slow is not None else None
        fast = x if self.fast is not None else None
        stages = len(self.slow) if self.slow is not None else len(self.fast)
        for i in range(stages):
            if fast is not None:
                fast = self.fast[i](fast)
            if slow is not None:
                slow = self.slow[i](slow)
                if self.laterals is not None and i < len(self.laterals):
                    slow = torch.cat([slow, self.laterals[i](fast)], dim=1)
        pooled = [z.mean(dim=(2, 3, 4)) for z in (slow, fast) if z is not None]
        return self.head(torch.cat(pooled, dim=1))
