"""CNN-LSTM (LRCN-style, Donahue et al. 2015): a 2D CNN encodes each frame, an LSTM reads the features in order."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .blocks import FrameEncoder, check_dropout, check_input, check_positive_int, encode_frames


def resnet18_trunk(in_channels: int = 3) -> nn.Module:
    """torchvision's ResNet-18 without its classifier, randomly initialised (no download): (N, C, H, W) -> (N, 512)."""
    from torchvision.models import resnet18

    trunk = resnet18(weights=None)
    if in_channels != 3:
        trunk.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
    trunk.fc = nn.Identity()
    trunk.out_features = 512
    trunk.in_channels = in_channels
    return trunk


class CNNLSTM(nn.Module):
    """Per-frame 2D CNN -> LSTM over time -> linear classifier. (N, C, T, H, W) -> logits (N, num_classes).

    Args:
        encoder: ``"small"`` (a :class:`~course.models.blocks.FrameEncoder` with ``widths`` that keeps a
            ``spatial`` x ``spatial`` map of where things are, projected to ``feature_size`` features) or
            ``"resnet18"`` (torchvision's trunk, random weights, 512 features).
        hidden_size, num_layers: of the ``nn.LSTM`` (batch_first).
        head: ``"last"`` classifies the last hidden state; ``"mean"`` the mean of the hidden states over time.
        dropout: before the classifier.
    """

    def __init__(self, num_classes: int, *, in_channels: int = 3, encoder: str = "small",
                 widths: Sequence[int] = (16, 32, 64), spatial: int = 4, feature_size: int = 128,
                 hidden_size: int = 128, num_layers: int = 1, head: str = "last", dropout: float = 0.0):
        super().__init__()
        check_positive_int(num_classes, "CNNLSTM(num_classes)")
        self.in_channels = check_positive_int(in_channels, "CNNLSTM(in_channels)")
        if encoder == "small":
            # Keep a coarse spatial map: global average pooling would hide *where* the shape is in each frame,
            # and with it the direction of a movement.
            self.encoder = FrameEncoder(self.in_channels, widths, spatial=spatial, out_features=feature_size)
        elif encoder == "resnet18":
            self.encoder = resnet18_trunk(self.in_channels)
        else:
            raise ValueError(f"CNNLSTM(encoder={encoder!r}): expected 'small' or 'resnet18'")
        if head not in ("last", "mean"):
            raise ValueError(f"CNNLSTM(head={head!r}): expected 'last' or 'mean'")
        self.head = head
        self.lstm = nn.LSTM(self.encoder.out_features, check_positive_int(hidden_size, "CNNLSTM(hidden_size)"),
                            num_layers=check_positive_int(num_layers, "CNNLSTM(num_layers)"), batch_first=True)
        self.dropout = nn.Dropout(check_dropout(dropout, "CNNLSTM(dropout)"))
        self.classifier = nn.Linear(hidden_size, num_classes)

    def frame_features(self, x: torch.Tensor) -> torch.Tensor:
        """Encoder features of every frame: (N, C, T, H, W) -> (N, T, F)."""
        check_input(x, 5, "(N, C, T, H, W)", "CNNLSTM", self.in_channels)
        return encode_frames(self.encoder, x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.lstm(self.frame_features(x))                          # (N, T, hidden)
        summary = states[:, -1] if self.head == "last" else states.mean(dim=1)
        return self.classifier(self.dropout(summary))
