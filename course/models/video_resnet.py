"""Residual 3D CNNs (Tran et al., "A Closer Look at Spatiotemporal Convolutions for Action Recognition", CVPR 2018).

One class, :class:`VideoResNet`, is assembled from three kinds of small builders, as torchvision builds its video
models — so R3D, MC3 and R(2+1)D differ only in which builders they are given:

- a **stem** (:class:`BasicStem`, :class:`R2Plus1dStem`): the first convolution, spatial stride 2, time kept;
- a **block** (:class:`BasicBlock`, :class:`Bottleneck`): two (or three) convolutions plus the identity shortcut
  ``out = relu(F(x) + x)``, the residual connection that lets the network grow deep;
- a **conv builder** per stage (:class:`Conv3DSimple` 3x3x3, :class:`Conv2Plus1D` 1x3x3 then 3x1x1,
  :class:`Conv3DNoTemporal` 1x3x3): the convolution inside the blocks.

==============  ================  =====================================  ===========================
model           stem              conv builders of stages 1-4            parameters (400 classes)
==============  ================  =====================================  ===========================
``r3d_18``      BasicStem         3D, 3D, 3D, 3D                         33,371,472
``mc3_18``      BasicStem         3D, 2D, 2D, 2D  (mixed convolutions)   11,695,440
``r2plus1d_18`` R2Plus1dStem      (2+1)D x 4                             31,505,325
==============  ================  =====================================  ===========================

The module names match torchvision's, so ``r3d_18().load_state_dict(torchvision.models.video.r3d_18()
.state_dict())`` loads strictly and gives the same outputs (tests/test_models_video_resnet.py checks all three) —
which is how :func:`course.models.load_kinetics400` puts torchvision's Kinetics-400 weights into these models.

The ``*_small`` variants use the same builders with fewer channels and one block per stage, for 3 x 16 x 32 x 32
clips on a CPU.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn

from .blocks import check_input, check_positive_int, check_widths

__all__ = [
    "BasicBlock", "BasicStem", "Bottleneck", "Conv2Plus1D", "Conv3DNoTemporal", "Conv3DSimple", "R2Plus1dStem",
    "VideoResNet", "midplanes", "mc3_18", "mc3_small", "r2plus1d_18", "r2plus1d_small", "r3d_18", "r3d_small",
]


def midplanes(in_planes: int, out_planes: int) -> int:
    """Channels between the 1x3x3 and the 3x1x1 convolution of a (2+1)D block.

    Chosen so the factorised pair has (about) the parameters of one 3x3x3 convolution ``in_planes -> out_planes``:
    ``in*out*27 = in*9*M + M*3*out``  =>  ``M = floor(27*in*out / (9*in + 3*out))``.
    """
    in_planes = check_positive_int(in_planes, "midplanes(in_planes)")
    out_planes = check_positive_int(out_planes, "midplanes(out_planes)")
    return (in_planes * out_planes * 3 * 3 * 3) // (in_planes * 3 * 3 + 3 * out_planes)


# ---------------------------------------------------------------------------------------------------------------------
# Conv builders: (in_planes, out_planes, midplanes, stride) -> module; (N, C_in, T, H, W) -> (N, C_out, T', H', W')
# ---------------------------------------------------------------------------------------------------------------------

class Conv3DSimple(nn.Conv3d):
    """A full 3x3x3 convolution (R3D). Stride ``s`` applies to time and space: (T, H, W) -> (T/s, H/s, W/s).

    ``midplanes`` is accepted (and ignored) so every conv builder has the same signature.
    """

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1,
                 padding: int = 1):
        super().__init__(in_planes, out_planes, kernel_size=(3, 3, 3), stride=stride, padding=padding, bias=False)

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        """The stride of the 1x1x1 shortcut convolution that matches this conv's output size."""
        return (stride, stride, stride)


class Conv2Plus1D(nn.Sequential):
    """A (2+1)D convolution (R(2+1)D): 1x3x3 spatial conv -> BatchNorm -> ReLU -> 3x1x1 temporal conv.

    ``midplanes`` channels sit in between (see :func:`midplanes`); the extra ReLU doubles the nonlinearities at about
    the same parameter count. Stride ``s`` applies to space in the first conv and to time in the second.
    """

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1, padding: int = 1):
        super().__init__(
            nn.Conv3d(in_planes, midplanes, kernel_size=(1, 3, 3), stride=(1, stride, stride),
                      padding=(0, padding, padding), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, out_planes, kernel_size=(3, 1, 1), stride=(stride, 1, 1), padding=(padding, 0, 0),
                      bias=False),
        )

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (stride, stride, stride)


class Conv3DNoTemporal(nn.Conv3d):
    """A 1x3x3 convolution: a 2D convolution applied to every frame (the upper stages of MC3). Time is never strided."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1,
                 padding: int = 1):
        super().__init__(in_planes, out_planes, kernel_size=(1, 3, 3), stride=(1, stride, stride),
                         padding=(0, padding, padding), bias=False)

    @staticmethod
    def downsample_stride(stride: int) -> tuple[int, int, int]:
        return (1, stride, stride)


ConvBuilder = Callable[..., nn.Module]


def _conv_bn(conv: nn.Module, channels: int, relu: bool) -> nn.Sequential:
    layers = [conv, nn.BatchNorm3d(channels)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------------------------------
# Stems: (N, in_channels, T, H, W) -> (N, out_channels, T, H/2, W/2)
# ---------------------------------------------------------------------------------------------------------------------

class BasicStem(nn.Sequential):
    """R3D/MC3 stem: 3x7x7 convolution, stride (1, 2, 2), BatchNorm, ReLU."""

    def __init__(self, in_channels: int = 3, out_channels: int = 64):
        super().__init__(
            nn.Conv3d(in_channels, out_channels, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3),
                      bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


class R2Plus1dStem(nn.Sequential):
    """R(2+1)D stem: 1x7x7 conv (stride (1, 2, 2)) to ``midplanes`` channels, BN, ReLU, then 3x1x1 conv, BN, ReLU.

    ``midplanes=None`` uses the paper's 45 for 64 output channels, scaled in proportion for other widths.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 64, midplanes: int | None = None):
        mid = max(1, round(45 * out_channels / 64)) if midplanes is None else midplanes
        super().__init__(
            nn.Conv3d(in_channels, mid, kernel_size=(1, 7, 7), stride=(1, 2, 2), padding=(0, 3, 3), bias=False),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, out_channels, kernel_size=(3, 1, 1), stride=(1, 1, 1), padding=(1, 0, 0), bias=False),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )


# ---------------------------------------------------------------------------------------------------------------------
# Residual blocks: (N, inplanes, T, H, W) -> (N, planes * expansion, T', H', W')
# ---------------------------------------------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    """Two convolutions from ``conv_builder`` (each + BN; ReLU after the first) plus the shortcut, then ReLU.

    ``downsample`` (a 1x1x1 conv + BN) reshapes the shortcut when the stride or channel count changes; otherwise the
    shortcut is the identity, so gradients reach early layers through ``+ x`` undiminished.
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, conv_builder: ConvBuilder, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        mid = midplanes(inplanes, planes)
        self.conv1 = _conv_bn(conv_builder(inplanes, planes, mid, stride), planes, relu=True)
        self.conv2 = _conv_bn(conv_builder(planes, planes, mid), planes, relu=False)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """F(x), the branch the block learns (without the shortcut)."""
        return self.conv2(self.conv1(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + shortcut)


class Bottleneck(nn.Module):
    """1x1x1 reduce -> ``conv_builder`` (3x3x3 or (2+1)D) -> 1x1x1 expand (x4), each + BN, plus the shortcut."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, conv_builder: ConvBuilder, stride: int = 1,
                 downsample: nn.Module | None = None):
        super().__init__()
        mid = midplanes(inplanes, planes)
        self.conv1 = _conv_bn(nn.Conv3d(inplanes, planes, kernel_size=1, bias=False), planes, relu=True)
        self.conv2 = _conv_bn(conv_builder(planes, planes, mid, stride), planes, relu=True)
        self.conv3 = _conv_bn(nn.Conv3d(planes, planes * self.expansion, kernel_size=1, bias=False),
                              planes * self.expansion, relu=False)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.residual(x) + shortcut)


# ---------------------------------------------------------------------------------------------------------------------
# The network
# ---------------------------------------------------------------------------------------------------------------------

_CONV_BUILDERS = (Conv3DSimple, Conv2Plus1D, Conv3DNoTemporal)


class VideoResNet(nn.Module):
    """stem -> layer1..layer4 (residual stages) -> global average pool -> fc: (N, in_channels, T, H, W) -> (N, classes).

    Stage ``i`` has ``layers[i]`` blocks of width ``widths[i]`` (times ``block.expansion``); stages 2-4 start with
    stride 2, so a 16 x 112 x 112 clip leaves layer4 as 2 x 7 x 7 with the 3D builders (1 x 7 x 7 ... for 2D ones).

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        conv_makers: four conv builders, one per stage (:class:`Conv3DSimple`, :class:`Conv2Plus1D`,
            :class:`Conv3DNoTemporal`).
        layers: four block counts.
        stem: a stem builder called as ``stem(in_channels, widths[0])`` (:class:`BasicStem`, :class:`R2Plus1dStem`).
        num_classes: outputs of ``fc``.
        in_channels: channels of the input clip.
        widths: channels of the four stages (torchvision: 64, 128, 256, 512).
        zero_init_residual: start every block's last BatchNorm at zero, so each block is the identity at first.
    """

    def __init__(self, block: type[nn.Module], conv_makers: Sequence[ConvBuilder], layers: Sequence[int],
                 stem: Callable[[int, int], nn.Module], num_classes: int = 400, *, in_channels: int = 3,
                 widths: Sequence[int] = (64, 128, 256, 512), zero_init_residual: bool = False):
        super().__init__()
        if block not in (BasicBlock, Bottleneck):
            raise ValueError(f"VideoResNet(block): expected BasicBlock or Bottleneck, got {block!r}")
        if not isinstance(conv_makers, (tuple, list)) or len(conv_makers) != 4 or any(
                c not in _CONV_BUILDERS for c in conv_makers):
            raise ValueError("VideoResNet(conv_makers): expected 4 conv builders from Conv3DSimple, Conv2Plus1D, "
                             f"Conv3DNoTemporal, got {conv_makers!r}")
        layers = check_widths(layers, "VideoResNet(layers)")
        if len(layers) != 4:
            raise ValueError(f"VideoResNet(layers): expected 4 block counts, got {layers!r}")
        widths = check_widths(widths, "VideoResNet(widths)")
        if len(widths) != 4:
            raise ValueError(f"VideoResNet(widths): expected 4 stage widths, got {widths!r}")
        if not callable(stem):
            raise TypeError(f"VideoResNet(stem): expected a stem builder such as BasicStem, got {stem!r}")
        self.num_classes = check_positive_int(num_classes, "VideoResNet(num_classes)")
        self.in_channels = check_positive_int(in_channels, "VideoResNet(in_channels)")
        self.widths = widths

        self.stem = stem(self.in_channels, widths[0])
        self.inplanes = widths[0]
        self.layer1 = self._make_layer(block, conv_makers[0], widths[0], layers[0], stride=1)
        self.layer2 = self._make_layer(block, conv_makers[1], widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(block, conv_makers[2], widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(block, conv_makers[3], widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.fc = nn.Linear(widths[3] * block.expansion, self.num_classes)
        self._init_weights(zero_init_residual)

    def _make_layer(self, block, conv_builder, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        out = planes * block.expansion
        if stride != 1 or self.inplanes != out:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, out, kernel_size=1, stride=conv_builder.downsample_stride(stride),
                          bias=False),
                nn.BatchNorm3d(out))
        stage = [block(self.inplanes, planes, conv_builder, stride, downsample)]
        self.inplanes = out
        stage += [block(self.inplanes, planes, conv_builder) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def _init_weights(self, zero_init_residual: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    last = m.conv3 if isinstance(m, Bottleneck) else m.conv2
                    nn.init.zeros_(last[1].weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled layer4 features: (N, in_channels, T, H, W) -> (N, widths[3] * expansion)."""
        check_input(x, 5, "(N, C, T, H, W)", type(self).__name__, self.in_channels)
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def _video_resnet(owner: str, conv_makers, stem, num_classes, layers, widths, **kwargs) -> VideoResNet:
    try:
        return VideoResNet(BasicBlock, conv_makers, layers, stem, num_classes, widths=widths, **kwargs)
    except (ValueError, TypeError) as err:
        raise type(err)(str(err).replace("VideoResNet(", f"{owner}(")) from None


_R3D = [Conv3DSimple] * 4
_MC3 = [Conv3DSimple] + [Conv3DNoTemporal] * 3
_R2PLUS1D = [Conv2Plus1D] * 4


def r3d_18(num_classes: int = 400, *, in_channels: int = 3, zero_init_residual: bool = False) -> VideoResNet:
    """R3D-18: 3x3x3 convolutions everywhere. (N, 3, T, H, W) -> (N, num_classes); 33,371,472 parameters at 400."""
    return _video_resnet("r3d_18", _R3D, BasicStem, num_classes, (2, 2, 2, 2), (64, 128, 256, 512),
                         in_channels=in_channels, zero_init_residual=zero_init_residual)


def mc3_18(num_classes: int = 400, *, in_channels: int = 3, zero_init_residual: bool = False) -> VideoResNet:
    """MC3-18: 3D convolutions in the stem and layer1, 2D (1x3x3) above. 11,695,440 parameters at 400 classes."""
    return _video_resnet("mc3_18", _MC3, BasicStem, num_classes, (2, 2, 2, 2), (64, 128, 256, 512),
                         in_channels=in_channels, zero_init_residual=zero_init_residual)


def r2plus1d_18(num_classes: int = 400, *, in_channels: int = 3, zero_init_residual: bool = False) -> VideoResNet:
    """R(2+1)D-18: every 3x3x3 conv factorised into 1x3x3 + 3x1x1. 31,505,325 parameters at 400 classes."""
    return _video_resnet("r2plus1d_18", _R2PLUS1D, R2Plus1dStem, num_classes, (2, 2, 2, 2), (64, 128, 256, 512),
                         in_channels=in_channels, zero_init_residual=zero_init_residual)


#: Stage widths of the CPU variants (one block per stage).
SMALL_WIDTHS = (8, 16, 32, 64)


def r3d_small(num_classes: int, *, in_channels: int = 3, widths: Sequence[int] = SMALL_WIDTHS,
              layers: Sequence[int] = (1, 1, 1, 1), zero_init_residual: bool = False) -> VideoResNet:
    """A CPU R3D: ``r3d_18``'s builders with narrow stages and one block each. For (N, 3, 16, 32, 32) clips."""
    return _video_resnet("r3d_small", _R3D, BasicStem, num_classes, layers, widths, in_channels=in_channels,
                         zero_init_residual=zero_init_residual)


def mc3_small(num_classes: int, *, in_channels: int = 3, widths: Sequence[int] = SMALL_WIDTHS,
              layers: Sequence[int] = (1, 1, 1, 1), zero_init_residual: bool = False) -> VideoResNet:
    """A CPU MC3: ``mc3_18``'s builders (3D below, 2D above) with narrow stages and one block each."""
    return _video_resnet("mc3_small", _MC3, BasicStem, num_classes, layers, widths, in_channels=in_channels,
                         zero_init_residual=zero_init_residual)


def r2plus1d_small(num_classes: int, *, in_channels: int = 3, widths: Sequence[int] = SMALL_WIDTHS,
                   layers: Sequence[int] = (1, 1, 1, 1), zero_init_residual: bool = False) -> VideoResNet:
    """A CPU R(2+1)D: ``r2plus1d_18``'s builders with narrow stages; no more parameters than :func:`r3d_small`."""
    return _video_resnet("r2plus1d_small", _R2PLUS1D, R2Plus1dStem, num_classes, layers, widths,
                         in_channels=in_channels, zero_init_residual=zero_init_residual)
