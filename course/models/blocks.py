"""Small builders that every model family of the course is assembled from.

A model is a stack of *stages*; a stage is convolution (+ batch norm) + ReLU, optionally followed by pooling. The same
two builders make 2D stacks (frame models) and 3D stacks (C3D, slow fusion), so the families differ only in their
configuration — which is the point chapters 06–09 make.
"""
from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from ..numpy_nn._validate import as_tuple  # the course's one int-or-tuple rule


def encode_frames(encoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Run a 2D ``encoder`` on every frame of a clip batch: (N, C, T, H, W) -> (N, T, F) features.

    The frames go through as one batch of N*T images (frame-major within each clip), so the encoder sees no time.
    """
    n, c, t, h, w = x.shape
    return encoder(x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w)).reshape(n, t, -1)


def check_widths(widths, name: str) -> tuple[int, ...]:
    """A non-empty sequence of positive ints (channel counts)."""
    if (not isinstance(widths, (tuple, list)) or not widths
            or not all(isinstance(w, numbers.Integral) and not isinstance(w, bool) and w > 0 for w in widths)):
        raise ValueError(f"{name}: expected a non-empty tuple of positive ints, got {widths!r}")
    return tuple(int(w) for w in widths)


def check_positive_int(value, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def check_dropout(value, name: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a probability in [0, 1), got {value!r}")
    return float(value)


def conv_stage(dims: int, in_channels: int, out_channels: int, *, kernel_size=3, stride=1, padding=None,
               batch_norm: bool = True) -> nn.Sequential:
    """Conv{dims}d (+ BatchNorm) + ReLU. ``padding=None`` keeps the size ("same" padding for odd kernels).

    Shapes: (N, C_in, [T,] H, W) -> (N, C_out, [T',] H', W').
    """
    if dims not in (2, 3):
        raise ValueError(f"conv_stage(dims={dims!r}): expected 2 or 3")
    kernel = as_tuple(kernel_size, dims, "conv_stage(kernel_size)")
    pad = tuple(k // 2 for k in kernel) if padding is None else as_tuple(padding, dims, "conv_stage(padding)")
    conv_cls, bn_cls = (nn.Conv2d, nn.BatchNorm2d) if dims == 2 else (nn.Conv3d, nn.BatchNorm3d)
    layers: list[tuple[str, nn.Module]] = [
        ("conv", conv_cls(in_channels, out_channels, kernel, stride=stride, padding=pad, bias=not batch_norm))]
    if batch_norm:
        layers.append(("bn", bn_cls(out_channels)))
    layers.append(("relu", nn.ReLU(inplace=True)))
    return nn.Sequential(OrderedDict(layers))


def conv_stack(dims: int, in_channels: int, widths: Sequence[int], *, kernel_size=3, pool=2,
               temporal_kernels: Sequence[int] | None = None, temporal_strides: Sequence[int] | None = None,
               batch_norm: bool = True) -> nn.Sequential:
    """A stack of ``len(widths)`` conv stages, each followed by max pooling ``pool`` (int/tuple, or 1 for none).

    For ``dims=3``, ``temporal_kernels``/``temporal_strides`` (one per stage) make the temporal extent of each stage
    explicit, with no temporal padding — that is how slow fusion merges time gradually. Stages are named
    ``stage1``, ``stage2``, ...
    """
    widths = check_widths(widths, "conv_stack(widths)")
    stages: list[tuple[str, nn.Module]] = []
    c = in_channels
    for i, w in enumerate(widths):
        if dims == 3 and temporal_kernels is not None:
            kt = temporal_kernels[i]
            st = temporal_strides[i] if temporal_strides is not None else 1
            k = (kt,) + as_tuple(kernel_size, 2, "conv_stack(kernel_size)")
            stage = conv_stage(3, c, w, kernel_size=k, stride=(st, 1, 1), padding=(0, k[1] // 2, k[2] // 2),
                               batch_norm=batch_norm)
        else:
            stage = conv_stage(dims, c, w, kernel_size=kernel_size, batch_norm=batch_norm)
        if pool != 1:
            stage.add_module("pool", (nn.MaxPool2d if dims == 2 else nn.MaxPool3d)(pool))
        stages.append((f"stage{i + 1}", stage))
        c = w
    return nn.Sequential(OrderedDict(stages))


class FrameEncoder(nn.Module):
    """A small per-frame 2D CNN: conv stages, then pooling to features. (N, C, H, W) -> (N, out_features).

    ``spatial=None`` (default): global average pooling, ``out_features = widths[-1]`` — *where* things are is lost.
    ``spatial=s``: adaptive average pooling to an s x s grid, flattened, then a linear layer + ReLU to
    ``out_features`` (default 128) — a coarse map of where things are survives, as in the fc layers of LRCN's AlexNet.
    """

    def __init__(self, in_channels: int = 3, widths: Sequence[int] = (16, 32, 64), *, batch_norm: bool = True,
                 spatial: int | None = None, out_features: int | None = None):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "FrameEncoder(in_channels)")
        self.widths = check_widths(widths, "FrameEncoder(widths)")
        self.features = conv_stack(2, self.in_channels, self.widths, batch_norm=batch_norm)
        if spatial is None:
            if out_features is not None:
                raise ValueError("FrameEncoder(out_features=...): only with spatial=<grid size>")
            self.pool = None
            self.out_features = self.widths[-1]
        else:
            spatial = check_positive_int(spatial, "FrameEncoder(spatial)")
            self.out_features = check_positive_int(128 if out_features is None else out_features,
                                                   "FrameEncoder(out_features)")
            self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(spatial), nn.Flatten(),
                                      nn.Linear(self.widths[-1] * spatial * spatial, self.out_features),
                                      nn.ReLU(inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 4, "(N, C, H, W)", type(self).__name__, self.in_channels)
        x = self.features(x)
        return x.mean(dim=(2, 3)) if self.pool is None else self.pool(x)


def check_tensor(x, ndim: int, layout: str, name: str, channels: int | None = None) -> torch.Tensor:
    """Return ``x`` if it is a float tensor with ``ndim`` dims (and ``channels`` channels in dim 1), else raise a
    clear error that starts with ``name`` (the function and argument, e.g. ``"psnr(predicted)"``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor {layout}, got {type(x).__name__}")
    if x.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dims {layout}, got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} channels in dim 1 {layout}, got shape {tuple(x.shape)}")
    return x


def check_input(x, ndim: int, layout: str, owner: str, channels: int | None = None) -> None:
    """Raise a clear error unless ``x`` is a float tensor with ``ndim`` dims (and ``channels`` channels in dim 1)."""
    check_tensor(x, ndim, layout, f"{owner}.forward(x)", channels)
