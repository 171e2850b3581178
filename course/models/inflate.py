"""I3D inflation (Carreira & Zisserman, "Quo Vadis, Action Recognition?", CVPR 2017): 2D weights -> a 3D network.

A k x k image filter becomes a t x k x k video filter by repeating it t times along time and dividing by t
(``init="mean"``), or by putting it in the middle time slice with zeros around (``init="center"``). Either way, on a
*boring video* — one image repeated T times — every inflated convolution computes exactly what the 2D one computes
on that image, so the inflated network reproduces the 2D network's logits before any video training.

**Temporal padding.** That holds at the first and last frames only if the frames the kernel reads "before the start"
and "after the end" look like the clip. With zero padding, a mean-inflated 3-tap kernel at the first frame sees
(0, x, x) and computes 2/3 of the 2D response (for a t-tap kernel with (t - 1)/2 frames of padding, (t + 1)/(2t) at the very
first frame), and the error travels through the network. :class:`InflatedConv3d` therefore pads time by *replicating* the
edge frames (``time_padding="replicate"``, the default), while space keeps the 2D layer's zero padding.
``time_padding="zeros"`` gives the plain behaviour so you can measure the edge effect (chapter 10's exercise).

:func:`inflate_resnet` applies this to a whole torchvision-style 2D ResNet, with the course's choice of where time
kernels go: the stem and the first convolution of every residual block get ``time_kernel`` taps, every other
convolution gets one (1 x k x k, a per-frame 2D conv). (I3D inflated Inception-v1; the ResNet-50 I3D of Wang et al.,
"Non-local Neural Networks", uses a 5x7x7 stem and inflates one kernel in every other residual block.) Time is never strided, so T frames in give T frames out of every stage.
"""
from __future__ import annotations

import copy
import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .blocks import check_input, check_positive_int, check_widths

__all__ = ["InflatedConv3d", "InflatedResNet", "inflate_batchnorm2d", "inflate_conv2d", "inflate_resnet",
           "resnet2d_small"]

_TIME_PADDINGS = ("replicate", "zeros")
_INITS = ("mean", "center")


def _check_time_kernel(time_kernel, owner: str) -> int:
    if not isinstance(time_kernel, numbers.Integral) or isinstance(time_kernel, bool) or time_kernel < 1 \
            or time_kernel % 2 == 0:
        raise ValueError(f"{owner}(time_kernel): expected a positive odd int (1, 3, 5, ...), got {time_kernel!r}")
    return int(time_kernel)


def _check_choice(value, choices, name: str) -> str:
    if value not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {value!r}")
    return value


class InflatedConv3d(nn.Conv3d):
    """A Conv3d that pads time itself (replicate or zeros) and space with zeros: (N, C, T, H, W) -> (N, F, T', H', W').

    ``time_padding`` frames are added at each end of the clip before the convolution; the Conv3d's own padding is
    (0, ph, pw). With ``time_padding_mode="replicate"`` the added frames copy the first/last frame.
    """

    def __init__(self, *args, time_padding: int = 0, time_padding_mode: str = "replicate", **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding[0] != 0:
            raise ValueError(f"InflatedConv3d(padding={self.padding}): temporal padding goes in time_padding")
        self.time_padding = check_positive_int(time_padding + 1, "InflatedConv3d(time_padding)") - 1
        self.time_padding_mode = _check_choice(time_padding_mode, _TIME_PADDINGS, "InflatedConv3d(time_padding_mode)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "InflatedConv3d", channels=self.in_channels)
        if self.time_padding:
            pad = (0, 0, 0, 0, self.time_padding, self.time_padding)
            x = F.pad(x, pad, mode="replicate") if self.time_padding_mode == "replicate" else F.pad(x, pad)
        return super().forward(x)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", time_padding={self.time_padding}, "
                f"time_padding_mode={self.time_padding_mode!r}")


def inflate_conv2d(conv2d: nn.Conv2d, time_kernel: int, *, init: str = "mean",
                   time_padding: str = "replicate") -> InflatedConv3d:
    """Turn ``conv2d`` (weights (F, C, kh, kw)) into a 3D convolution with weights (F, C, time_kernel, kh, kw).

    ``init="mean"`` repeats the 2D filter over time and divides by ``time_kernel`` (I3D); ``init="center"`` puts the
    2D filter in the middle slice and zeros elsewhere. Stride, dilation, groups and bias are kept for H and W; time
    gets stride 1 and ``time_kernel // 2`` frames of padding on each side, so (N, C, T, H, W) -> (N, F, T, H', W')
    with H', W' as the 2D layer gives. ``time_padding`` ("replicate" or "zeros") is how those frames are filled; with
    "replicate", a clip repeating one image gives, at every frame, the 2D layer's output on that image.
    """
    if not isinstance(conv2d, nn.Conv2d):
        raise TypeError(f"inflate_conv2d(conv2d): expected a torch.nn.Conv2d, got {type(conv2d).__name__}")
    kt = _check_time_kernel(time_kernel, "inflate_conv2d")
    _check_choice(init, _INITS, "inflate_conv2d(init)")
    _check_choice(time_padding, _TIME_PADDINGS, "inflate_conv2d(time_padding)")
    if isinstance(conv2d.padding, str) or conv2d.padding_mode != "zeros":
        raise ValueError(f"inflate_conv2d(conv2d): expected numeric zero padding, got padding={conv2d.padding!r}, "
                         f"padding_mode={conv2d.padding_mode!r}")
    conv3d = InflatedConv3d(
        conv2d.in_channels, conv2d.out_channels, (kt, *conv2d.kernel_size), stride=(1, *conv2d.stride),
        padding=(0, *conv2d.padding), dilation=(1, *conv2d.dilation), groups=conv2d.groups,
        bias=conv2d.bias is not None, time_padding=kt // 2, time_padding_mode=time_padding,
    ).to(device=conv2d.weight.device, dtype=conv2d.weight.dtype)
    with torch.no_grad():
        w2d = conv2d.weight.detach()
        if init == "mean":
            conv3d.weight.copy_(w2d.unsqueeze(2).expand(-1, -1, kt, -1, -1) / kt)
        else:
            conv3d.weight.zero_()
            conv3d.weight[:, :, kt // 2].copy_(w2d)
        if conv2d.bias is not None:
            conv3d.bias.copy_(conv2d.bias.detach())
    return conv3d


def inflate_batchnorm2d(bn: nn.BatchNorm2d) -> nn.BatchNorm3d:
    """BatchNorm2d -> BatchNorm3d with the same affine parameters, running statistics and settings (C channels)."""
    if not isinstance(bn, nn.BatchNorm2d):
        raise TypeError(f"inflate_batchnorm2d(bn): expected a torch.nn.BatchNorm2d, got {type(bn).__name__}")
    bn3d = nn.BatchNorm3d(bn.num_features, eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                          track_running_stats=bn.track_running_stats)
    bn3d.load_state_dict(bn.state_dict())
    return bn3d.to(device=bn.running_mean.device if bn.running_mean is not None else "cpu")


_RESNET_PARTS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc")


def _inflate_leaf(module: nn.Module) -> nn.Module:
    """One 2D layer without children -> its 3D counterpart (convolutions are handled by :func:`inflate_conv2d`)."""
    if isinstance(module, nn.BatchNorm2d):
        return inflate_batchnorm2d(module)
    if isinstance(module, nn.MaxPool2d):
        k, s, p, d = (m if isinstance(m, tuple) else (m, m) for m in
                      (module.kernel_size, module.stride, module.padding, module.dilation))
        return nn.MaxPool3d((1, *k), stride=(1, *s), padding=(0, *p), dilation=(1, *d), ceil_mode=module.ceil_mode)
    if isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size in (1, (1, 1)):
        return nn.AdaptiveAvgPool3d((1, 1, 1))
    if isinstance(module, (nn.ReLU, nn.Identity, nn.Linear, nn.Dropout)):
        return module
    raise TypeError(f"inflate_resnet(resnet2d): don't know how to inflate a {module!r}")


class InflatedResNet(nn.Module):
    """A 2D ResNet inflated to 3D: (N, in_channels, T, H, W) -> (N, num_classes); built by :func:`inflate_resnet`.

    It has the 2D ResNet's module names (``conv1``, ``bn1``, ``layer1`` ... ``fc``), so its state_dict keys are the 2D
    ones; only the convolution weights gained a time axis. Time is never strided; ``avgpool`` averages over T, H, W.
    Replace ``fc`` (``model.fc = nn.Linear(model.fc.in_features, k)``) to fine-tune on k video classes.
    """

    def __init__(self, parts: dict[str, nn.Module], in_channels: int):
        super().__init__()
        for name in _RESNET_PARTS:
            setattr(self, name, parts[name])
        self.in_channels = in_channels

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features: (N, in_channels, T, H, W) -> (N, fc.in_features)."""
        check_input(x, 5, "(N, C, T, H, W)", type(self).__name__, self.in_channels)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))


def _block_first_convs(resnet2d: nn.Module) -> set[int]:
    """ids of the convolutions I3D gives a time kernel: the stem and the first conv (conv1) of every block."""
    chosen = {id(resnet2d.conv1)}
    for stage in (resnet2d.layer1, resnet2d.layer2, resnet2d.layer3, resnet2d.layer4):
        for block in stage.children():
            if not isinstance(getattr(block, "conv1", None), nn.Conv2d):
                raise TypeError(f"inflate_resnet(resnet2d): expected residual blocks with a conv1 Conv2d (torchvision "
                                f"BasicBlock / Bottleneck), got {type(block).__name__}")
            chosen.add(id(block.conv1))
    return chosen


def inflate_resnet(resnet2d: nn.Module, *, time_kernel: int = 3, init: str = "mean",
                   time_padding: str = "replicate") -> InflatedResNet:
    """Inflate a torchvision 2D ResNet (resnet18/34/50/..., or :func:`resnet2d_small`) into an :class:`InflatedResNet`.

    Input (N, C, T, H, W) -> logits (N, num_classes of ``resnet2d.fc``). Where the time kernels go is the course's
    rule (not the papers'): the stem conv and the first conv of every residual block become ``time_kernel`` x k x k
    (for a Bottleneck that is its 1x1 conv, giving ``time_kernel`` x 1 x 1); all other convs become 1 x k x k.
    BatchNorm2d -> BatchNorm3d with the same statistics, MaxPool2d -> 1 x k x k MaxPool3d, the adaptive average pool
    -> AdaptiveAvgPool3d(1) (average over T too), ``fc`` copied. ``resnet2d`` itself is not modified.

    With ``time_padding="replicate"`` (default) a clip repeating one image T times gives the 2D network's logits on
    that image (eval mode; tests/test_models_inflate.py checks it to 1e-4).
    """
    if not isinstance(resnet2d, nn.Module) or any(not hasattr(resnet2d, p) for p in _RESNET_PARTS):
        raise TypeError("inflate_resnet(resnet2d): expected a torchvision-style 2D ResNet with "
                        f"{', '.join(_RESNET_PARTS)}, got {type(resnet2d).__name__}")
    kt = _check_time_kernel(time_kernel, "inflate_resnet")
    _check_choice(init, _INITS, "inflate_resnet(init)")
    _check_choice(time_padding, _TIME_PADDINGS, "inflate_resnet(time_padding)")
    if not isinstance(resnet2d.conv1, nn.Conv2d):
        raise TypeError(f"inflate_resnet(resnet2d): expected conv1 to be a Conv2d, got {type(resnet2d.conv1).__name__}")
    with_time = _block_first_convs(resnet2d)
    in_channels = resnet2d.conv1.in_channels
    net = copy.deepcopy(resnet2d)
    # map each conv of the copy to its time kernel through the original's module order
    kernels = {id(copied): (kt if id(orig) in with_time else 1)
               for orig, copied in zip(resnet2d.modules(), net.modules()) if isinstance(orig, nn.Conv2d)}

    def convert(module: nn.Module) -> None:
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Conv2d):
                setattr(module, name, inflate_conv2d(child, kernels[id(child)], init=init, time_padding=time_padding))
            elif list(child.children()):
                convert(child)
            else:
                setattr(module, name, _inflate_leaf(child))

    convert(net)
    return InflatedResNet({p: getattr(net, p) for p in _RESNET_PARTS}, in_channels).train(resnet2d.training)


class _ResNet2d(nn.Module):
    """torchvision's ResNet layout (conv1, bn1, relu, maxpool, layer1-4, avgpool, fc) with any stage widths."""

    def __init__(self, num_classes: int, in_channels: int, widths: tuple[int, ...], layers: tuple[int, ...]):
        from torchvision.models.resnet import BasicBlock

        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = widths[0]
        for i, (width, blocks) in enumerate(zip(widths, layers), start=1):
            stride = 1 if i == 1 else 2
            downsample = None
            if stride != 1 or inplanes != width:
                downsample = nn.Sequential(nn.Conv2d(inplanes, width, 1, stride=stride, bias=False),
                                           nn.BatchNorm2d(width))
            stage = [BasicBlock(inplanes, width, stride, downsample)] + [BasicBlock(width, width)
                                                                         for _ in range(1, blocks)]
            setattr(self, f"layer{i}", nn.Sequential(*stage))
            inplanes = width
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        self.in_channels = in_channels
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 4, "(N, C, H, W)", "resnet2d_small", self.in_channels)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet2d_small(num_classes: int, *, in_channels: int = 3, widths=(16, 32, 64, 128),
                   layers=(1, 1, 1, 1)) -> nn.Module:
    """A narrow 2D ResNet for 32 x 32 frames, laid out exactly like torchvision's (torchvision's BasicBlock, the same
    module names), so :func:`inflate_resnet` inflates it like ``torchvision.models.resnet18``.

    (N, in_channels, H, W) -> logits (N, num_classes).
    """
    num_classes = check_positive_int(num_classes, "resnet2d_small(num_classes)")
    in_channels = check_positive_int(in_channels, "resnet2d_small(in_channels)")
    widths = check_widths(widths, "resnet2d_small(widths)")
    layers = check_widths(layers, "resnet2d_small(layers)")
    if len(widths) != 4 or len(layers) != 4:
        raise ValueError(f"resnet2d_small(widths, layers): expected 4 of each, got {widths!r}, {layers!r}")
    return _ResNet2d(num_classes, in_channels, widths, layers)
