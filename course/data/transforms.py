"""Clip transforms built on ``torchvision.transforms.v2``: decoded frames (T, H, W, C) uint8 -> float clip (C, T, H, W).

torchvision's v2 transforms treat a ``tv_tensors.Video`` of shape (T, C, H, W) as *one* sample: a random crop, flip
or colour jitter draws its random parameters once per call and applies them to every frame. That is what a video
needs — a crop that jumps around from frame to frame would invent motion that is not in the video.

:class:`ClipTransform` wraps any v2 transforms into that contract (and converts to float, normalises, and moves the
channel axis first, the layout ``nn.Conv3d`` expects). :func:`train_transform` and :func:`eval_transform` are the
usual recipes (resize, random/centre crop, flip, colour jitter, normalise).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

__all__ = ["ClipTransform", "train_transform", "eval_transform", "to_float_clip", "to_uint8_frames",
           "KINETICS_MEAN", "KINETICS_STD"]

#: Per-channel RGB mean and std of Kinetics-400, used by torchvision's pretrained video models (R3D, R(2+1)D...).
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def _as_frames(frames, fn: str) -> torch.Tensor:
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(frames)
    if not isinstance(frames, torch.Tensor):
        raise TypeError(f"{fn}(frames): expected a uint8 tensor (T, H, W, C), got {type(frames).__name__}")
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3):
        raise ValueError(f"{fn}(frames): expected shape (T, H, W, C) with C = 1 or 3, got {tuple(frames.shape)}")
    if frames.dtype != torch.uint8:
        raise TypeError(f"{fn}(frames): expected dtype torch.uint8 (decoded frames), got {frames.dtype}")
    return frames


def to_float_clip(frames) -> torch.Tensor:
    """uint8 frames (T, H, W, C) -> float32 clip (C, T, H, W) with values in [0, 1].

    The result is a permuted view (channels-last in memory): converting in memory order is faster, and batching
    (``torch.stack``, the DataLoader) makes it contiguous anyway.
    """
    frames = _as_frames(frames, "to_float_clip")
    # .to() then an in-place divide: mixed uint8/float arithmetic (frames / 255) takes a much slower path
    return frames.to(torch.float32).div_(255).permute(3, 0, 1, 2)


def to_uint8_frames(clip: torch.Tensor, mean: Sequence[float] | None = None,
                    std: Sequence[float] | None = None) -> torch.Tensor:
    """Undo :func:`to_float_clip` (and a normalisation with ``mean``/``std``) for display: (C, T, H, W) -> (T, H, W, C) uint8."""
    if not isinstance(clip, torch.Tensor) or clip.ndim != 4 or not clip.is_floating_point():
        raise ValueError(f"to_uint8_frames(clip): expected a float tensor (C, T, H, W), got "
                         f"{getattr(clip, 'shape', type(clip).__name__)}")
    clip = clip.detach().cpu()
    if (mean is None) != (std is None):
        raise ValueError("to_uint8_frames(mean, std): give both or neither")
    if mean is not None:
        shape = (-1, 1, 1, 1)
        clip = clip * torch.as_tensor(std, dtype=clip.dtype).view(shape) + torch.as_tensor(mean, dtype=clip.dtype).view(shape)
    return (clip.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 3, 0).contiguous()


def _channel_values(values, name: str) -> tuple[float, ...]:
    """``values`` as a tuple of 1 or 3 finite floats (one per channel), or ValueError naming ``name``."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray, torch.Tensor)):
        raise ValueError(f"ClipTransform({name}): expected 1 or 3 numbers (one per channel), got {values!r}")
    values = tuple(values.tolist() if isinstance(values, (np.ndarray, torch.Tensor)) else values)
    if len(values) not in (1, 3) or not all(
            isinstance(v, (int, float, np.number)) and not isinstance(v, bool) and np.isfinite(v) for v in values):
        raise ValueError(f"ClipTransform({name}): expected 1 or 3 finite numbers (one per channel), got {values!r}")
    return tuple(float(v) for v in values)


class ClipTransform:
    """Apply torchvision v2 transforms identically to every frame: uint8 (T, H, W, C) -> float32 (C, T, H, W).

    ``transforms`` run on the frames as a ``tv_tensors.Video`` (T, C, H, W) uint8, so random parameters are drawn
    once per clip. Then the frames become floats in [0, 1] and, if ``mean`` and ``std`` are given, are normalised
    per channel. Example::

        ClipTransform(v2.Resize(128), v2.RandomCrop(112), v2.RandomHorizontalFlip(), mean=KINETICS_MEAN, std=KINETICS_STD)
    """

    def __init__(self, *transforms, mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        for t in transforms:
            if not callable(t):
                raise TypeError(f"ClipTransform(transforms): expected callables (torchvision v2 transforms), got {t!r}")
        if (mean is None) != (std is None):
            raise ValueError("ClipTransform(mean, std): give both or neither")
        if mean is not None:
            mean, std = _channel_values(mean, "mean"), _channel_values(std, "std")
            if len(mean) != len(std):
                raise ValueError(f"ClipTransform(mean, std): expected one value per channel in both, got "
                                 f"{len(mean)} means and {len(std)} stds")
            if any(s <= 0 for s in std):
                raise ValueError(f"ClipTransform(std): expected positive values, got {std!r}")
        self.transforms = list(transforms)
        self.mean, self.std = (tuple(mean), tuple(std)) if mean is not None else (None, None)
        tail = [v2.ToDtype(torch.float32, scale=True)]
        if mean is not None:
            tail.append(v2.Normalize(mean=list(mean), std=list(std)))
        self._pipeline = v2.Compose(self.transforms + tail)

    def __call__(self, frames) -> torch.Tensor:
        frames = _as_frames(frames, "ClipTransform")
        if self.mean is not None and len(self.mean) not in (1, frames.shape[-1]):
            raise ValueError(f"ClipTransform: mean/std have {len(self.mean)} values but the frames have "
                             f"{frames.shape[-1]} channel(s)")
        video = tv_tensors.Video(frames.permute(0, 3, 1, 2))
        out = self._pipeline(video)
        return out.as_subclass(torch.Tensor).permute(1, 0, 2, 3).contiguous()

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        norm = f", mean={self.mean}, std={self.std}" if self.mean is not None else ""
        return f"ClipTransform({inner}{norm})"


def _size(value, name: str, fn: str):
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in value)):
        return [int(v) for v in value]
    raise ValueError(f"{fn}({name}): expected a positive int or (height, width), got {value!r}")


def train_transform(size=112, *, resize=128, flip: bool = True, color_jitter: float = 0.0,
                    mean: Sequence[float] | None = KINETICS_MEAN, std: Sequence[float] | None = KINETICS_STD) -> ClipTransform:
    """Training recipe: resize (short side to ``resize``, or to (h, w)), random crop ``size``, random horizontal flip,
    optional colour jitter (brightness/contrast/saturation strength ``color_jitter``, hue ``color_jitter / 4``),
    normalise. uint8 (T, H, W, C) -> float32 (C, T, size, size); the same random draw for every frame of a clip.
    """
    size, resize = _size(size, "size", "train_transform"), _size(resize, "resize", "train_transform")
    if isinstance(color_jitter, bool) or not isinstance(color_jitter, (int, float)) or not 0 <= color_jitter <= 1:
        raise ValueError(f"train_transform(color_jitter): expected a strength in [0, 1], got {color_jitter!r}")
    steps = [v2.Resize(resize, antialias=True), v2.RandomCrop(size)]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    if color_jitter:
        steps.append(v2.ColorJitter(brightness=color_jitter, contrast=color_jitter, saturation=color_jitter,
                                    hue=min(0.5, color_jitter / 4)))
    return ClipTransform(*steps, mean=mean, std=std)


def eval_transform(size=112, *, resize=128, mean: Sequence[float] | None = KINETICS_MEAN,
                   std: Sequence[float] | None = KINETICS_STD) -> ClipTransform:
    """Evaluation recipe: resize, centre crop ``size``, normalise. uint8 (T, H, W, C) -> float32 (C, T, size, size)."""
    size, resize = _size(size, "size", "eval_transform"), _size(resize, "resize", "eval_transform")
    return ClipTransform(v2.Resize(resize, antialias=True), v2.CenterCrop(size), mean=mean, std=std)
