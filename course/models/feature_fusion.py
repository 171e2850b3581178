"""Chapter 11: multi-level feature fusion — classify from features of several depths, not only the last one.

Early stages keep fine detail in space and time (short motions, thin edges), late stages hold abstract, coarse
features. :class:`MultiLevelFusion` globally pools the outputs of several stages of a trunk and concatenates them
before one linear head, so the classifier can use both.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from .adapters import out_channels
from .blocks import check_input, check_positive_int


class MultiLevelFusion(nn.Module):
    """A trunk of named stages, run in order; the stages named in ``fuse`` are pooled and concatenated.

    (N, C, T, H, W) -> (N, num_classes). ``trunk``: an ``nn.Sequential`` whose children are the stages (for a
    VideoResNet: stem, layer1, ..., layer4; see :func:`video_resnet_trunk`). Each fused stage's output (N, C_i, T_i,
    H_i, W_i) is averaged over (T, H, W) to (N, C_i); the head sees sum(C_i) features. ``fuse=[last stage]`` is the
    usual single-level model, the baseline to compare with.
    """

    def __init__(self, trunk: nn.Sequential, num_classes: int, *, fuse: Sequence[str], dropout: float = 0.0):
        super().__init__()
        if not isinstance(trunk, nn.Sequential):
            raise TypeError(f"MultiLevelFusion(trunk): expected an nn.Sequential of named stages, got "
                            f"{type(trunk).__name__}")
        check_positive_int(num_classes, "MultiLevelFusion(num_classes)")
        names = [n for n, _ in trunk.named_children()]
        if isinstance(fuse, str) or not fuse or any(f not in names for f in fuse):
            raise ValueError(f"MultiLevelFusion(fuse={fuse!r}): expected a non-empty list of stage names from {names}")
        self.trunk = trunk
        self.fuse = tuple(n for n in names if n in fuse)
        last = names.index(self.fuse[-1])
        self.stages = names[: last + 1]                       # stages after the last fused one are never run
        self.feature_channels = {n: out_channels(trunk.get_submodule(n)) for n in self.fuse}
        self.in_channels = next(m.in_channels for m in trunk.modules() if isinstance(m, nn.modules.conv._ConvNd))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(sum(self.feature_channels.values()), num_classes)

    def fused_features(self, x: torch.Tensor) -> torch.Tensor:
        """The concatenated pooled features (N, sum of the fused stages' channels)."""
        check_input(x, 5, "(N, C, T, H, W)", "MultiLevelFusion", self.in_channels)
        pooled = []
        for name in self.stages:
            x = self.trunk.get_submodule(name)(x)
            if name in self.fuse:
                pooled.append(x.mean(dim=(2, 3, 4)))
        return torch.cat(pooled, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.fused_features(x)))


def video_resnet_trunk(model: nn.Module) -> nn.Sequential:
    """The stages ``stem, layer1, ..., layer4`` of a VideoResNet (course or torchvision) as a named nn.Sequential.

    The modules are shared, not copied: the trunk uses (and trains) the model's own weights.
    """
    names = ("stem", "layer1", "layer2", "layer3", "layer4")
    children = dict(model.named_children()) if isinstance(model, nn.Module) else {}
    missing = [n for n in names if n not in children]
    if missing:
        raise ValueError(f"video_resnet_trunk(model={type(model).__name__}): expected a VideoResNet with children "
                         f"{names}, missing {missing}")
    return nn.Sequential(OrderedDict((n, children[n]) for n in names))
