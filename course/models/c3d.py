"""C3D (Tran et al., "Learning Spatiotemporal Features with 3D Convolutional Networks", ICCV 2015) and a small CPU C3D.

Both come from one builder, :class:`C3D`, so the small model has exactly the paper's structure — eight 3x3x3
convolutions in five blocks, pool1 1x2x2 (keep time early), pools 2–5 2x2x2, pool5 padded (0, 1, 1), then fc6, fc7
with dropout and the classifier fc8 — only with fewer channels, a smaller fc width and a smaller input:

==========  =============================  =============================
model       paper C3D (``C3D()``)          small C3D (``c3d_small()``)
==========  =============================  =============================
input       3 x 16 x 112 x 112             3 x 16 x 32 x 32
widths      64-128-256-256-512-512-512-512  8-16-32-32-64-64-64-64
fc6, fc7    4096                           256
after pool5 512 x 1 x 4 x 4 = 8192         64 x 1 x 2 x 2 = 256
parameters  78,409,573 (101 classes)       567,490 (10 classes)
==========  =============================  =============================

The small model adds batch normalisation after each convolution (``batch_norm=True``) so it trains in a minute on a
CPU; the paper's model has none.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from .blocks import (as_tuple, check_dropout, check_input, check_positive_int, check_widths, conv_stage)

#: Channels of the eight convolutions of the paper's C3D.
C3D_WIDTHS = (64, 128, 256, 256, 512, 512, 512, 512)
#: Conv names, grouped by block; each block ends with a pool of the same number.
_BLOCKS = (("conv1",), ("conv2",), ("conv3a", "conv3b"), ("conv4a", "conv4b"), ("conv5a", "conv5b"))


def _pooled(size: int, kernel: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // kernel + 1


class C3D(nn.Module):
    """C3D: (N, in_channels, T, H, W) -> logits (N, num_classes); the defaults are the paper's model (16 x 112 x 112).

    Attributes ``features`` (conv1 ... pool5, named as in the paper) and ``classifier`` (fc6, fc7, fc8) are
    ``nn.Sequential`` containers, so ``model.features.conv3a`` is the paper's conv3a.

    Args:
        num_classes: outputs of fc8.
        in_channels: channels of the input clip (3 for RGB).
        dropout: dropout probability after fc6 and fc7 (the paper uses 0.5).
        widths: channels of the eight convolutions (default: the paper's 64-128-256-256-512-512-512-512).
        fc_features: width of fc6 and fc7 (paper: 4096).
        input_size: (T, H, W) the model expects; fixes the size of fc6's input.
        batch_norm: add BatchNorm3d after each convolution (not in the paper).
    """

    def __init__(self, num_classes: int = 101, *, in_channels: int = 3, dropout: float = 0.5,
                 widths: Sequence[int] = C3D_WIDTHS, fc_features: int = 4096,
                 input_size: Sequence[int] = (16, 112, 112), batch_norm: bool = False):
        super().__init__()
        self.num_classes = check_positive_int(num_classes, "C3D(num_classes)")
        self.in_channels = check_positive_int(in_channels, "C3D(in_channels)")
        dropout = check_dropout(dropout, "C3D(dropout)")
        widths = check_widths(widths, "C3D(widths)")
        if len(widths) != 8:
            raise ValueError(f"C3D(widths): expected 8 channel counts (one per convolution), got {widths!r}")
        fc_features = check_positive_int(fc_features, "C3D(fc_features)")
        t, h, w = as_tuple(input_size, 3, "C3D(input_size)")
        if t < 16 or h < 16 or w < 16:
            raise ValueError(f"C3D(input_size={tuple(input_size)!r}): expected T, H, W >= 16 (four 2x poolings)")
        self.input_size = (t, h, w)
        self.widths = widths

        layers: list[tuple[str, nn.Module]] = []
        convs = iter(widths)
        c = self.in_channels
        for block, names in enumerate(_BLOCKS, start=1):
            for name in names:
                out = next(convs)
                layers.append((name, conv_stage(3, c, out, kernel_size=3, padding=1, batch_norm=batch_norm)))
                c = out
            if block == 1:
                pool = nn.MaxPool3d((1, 2, 2), stride=(1, 2, 2))     # keep temporal information early
            elif block == 5:
                pool = nn.MaxPool3d(2, stride=2, padding=(0, 1, 1))  # the paper's padded pool5
            else:
                pool = nn.MaxPool3d(2, stride=2)
            layers.append((f"pool{block}", pool))
        self.features = nn.Sequential(OrderedDict(layers))

        ft = _pooled(t // 8, 2, 0)
        fh, fw = (_pooled(s // 16, 2, 1) for s in (h, w))
        self.feature_shape = (c, ft, fh, fw)
        flat = c * ft * fh * fw
        self.classifier = nn.Sequential(OrderedDict([
            ("fc6", nn.Sequential(nn.Linear(flat, fc_features), nn.ReLU(inplace=True), nn.Dropout(dropout))),
            ("fc7", nn.Sequential(nn.Linear(fc_features, fc_features), nn.ReLU(inplace=True), nn.Dropout(dropout))),
            ("fc8", nn.Linear(fc_features, self.num_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "C3D", self.in_channels)
        if tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f"C3D.forward(x): expected clips of (T, H, W) = {self.input_size}, got shape "
                             f"{tuple(x.shape)}; resize/crop the clips or build C3D(input_size=...)")
        return self.classifier(self.features(x).flatten(1))

    def extract_features(self, x: torch.Tensor, layer: str = "fc6") -> torch.Tensor:
        """The paper's video descriptor: activations after ``fc6`` or ``fc7`` (N, fc_features), eval-mode friendly."""
        if layer not in ("fc6", "fc7"):
            raise ValueError(f"C3D.extract_features(layer={layer!r}): expected 'fc6' or 'fc7'")
        check_input(x, 5, "(N, C, T, H, W)", "C3D", self.in_channels)
        z = self.classifier.fc6(self.features(x).flatten(1))
        return self.classifier.fc7(z) if layer == "fc7" else z


def c3d_small(num_classes: int = 10, *, in_channels: int = 3, dropout: float = 0.5,
              input_size: Sequence[int] = (16, 32, 32), batch_norm: bool = True) -> C3D:
    """The CPU C3D: the paper's structure with widths 8-16-32-32-64-64-64-64, fc6/fc7 of 256 and batch norm.

    Input (N, in_channels, 16, 32, 32) by default -> logits (N, num_classes). ``batch_norm=False`` drops the
    BatchNorm3d layers (convolutions then get biases, as in the paper): chapter 08's ablation.
    """
    if not isinstance(batch_norm, bool):
        raise TypeError(f"c3d_small(batch_norm={batch_norm!r}): expected True or False")
    return C3D(num_classes, in_channels=in_channels, dropout=dropout, widths=(8, 16, 32, 32, 64, 64, 64, 64),
               fc_features=256, input_size=input_size, batch_norm=batch_norm)
