"""GAN models of chapter 17: a 3D-convolutional video generator and discriminator, and the MLPs of the 1-D toy.

The video pair follows the DCGAN recipe (Radford et al., 2016) in three dimensions, as in Vondrick et al.'s *Generating
Videos with Scene Dynamics* (2016): the generator turns a noise vector into a small (C', T', H', W') volume with a
linear layer, then doubles time, height and width with each strided transposed convolution; the discriminator halves
them with each strided convolution and ends in one logit ("real" when positive). Both are stacks of the same two
builders, :func:`up_stage` and :func:`down_stage`, so a wider or deeper model is a different ``widths`` tuple.
"""
from __future__ import annotations

import numbers
from collections import OrderedDict
from typing import Sequence

import torch
from torch import nn

from .blocks import check_input, check_positive_int, check_widths

__all__ = ["VideoGenerator", "VideoDiscriminator", "MinibatchStdDev", "up_stage", "down_stage", "mlp",
           "toy_generator", "toy_discriminator"]


def up_stage(in_channels: int, out_channels: int, *, last: bool = False, squash: bool = True) -> nn.Sequential:
    """ConvTranspose3d(kernel 4, stride 2, padding 1) that doubles T, H and W, then BatchNorm3d + ReLU; the ``last``
    stage has neither, and ends in a sigmoid (pixels in [0, 1]) if ``squash``, else is linear.
    Shapes: (N, C_in, T, H, W) -> (N, C_out, 2T, 2H, 2W)."""
    layers: list[tuple[str, nn.Module]] = [
        ("deconv", nn.ConvTranspose3d(in_channels, out_channels, 4, stride=2, padding=1, bias=last))]
    if last:
        if squash:
            layers.append(("sigmoid", nn.Sigmoid()))
    else:
        layers += [("bn", nn.BatchNorm3d(out_channels)), ("relu", nn.ReLU(inplace=True))]
    return nn.Sequential(OrderedDict(layers))


def down_stage(in_channels: int, out_channels: int, *, spectral_norm: bool = True) -> nn.Sequential:
    """Conv3d(kernel 4, stride 2, padding 1) that halves T, H and W, then LeakyReLU(0.2) (no batch norm: the
    discriminator then judges each clip on its own). ``spectral_norm`` divides the weight by its largest singular
    value (Miyato et al., 2018), which keeps the discriminator from becoming too sharp too fast.
    Shapes: (N, C_in, T, H, W) -> (N, C_out, T/2, H/2, W/2)."""
    conv = nn.Conv3d(in_channels, out_channels, 4, stride=2, padding=1)
    if spectral_norm:
        conv = nn.utils.parametrizations.spectral_norm(conv)
    return nn.Sequential(OrderedDict([
        ("conv", conv),
        ("lrelu", nn.LeakyReLU(0.2, inplace=True))]))


class MinibatchStdDev(nn.Module):
    """Append one channel holding the batch's average standard deviation (Karras et al., 2018, *Progressive Growing of
    GANs*): a batch of near-identical fakes then looks different from a batch of varied real clips, which lets the
    discriminator punish mode collapse. Shapes: (N, C, ...) -> (N, C + 1, ...); needs N >= 2."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] < 2:
            raise ValueError(f"MinibatchStdDev: expected a batch of at least 2, got shape {tuple(x.shape)}")
        spread = x.std(dim=0).mean().expand(x.shape[0], 1, *x.shape[2:])
        return torch.cat([x, spread], dim=1)


def _check_clip_size(clip_size, levels: int, owner: str) -> tuple[int, int, int]:
    if (not isinstance(clip_size, (tuple, list)) or len(clip_size) != 3
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in clip_size)):
        raise ValueError(f"{owner}(clip_size): expected (T, H, W) as three positive ints, got {clip_size!r}")
    step = 2 ** levels
    if any(s % step for s in clip_size):
        raise ValueError(f"{owner}(clip_size={tuple(clip_size)}): with {levels} stride-2 stages every size must be a "
                         f"multiple of {step}")
    return tuple(int(s) for s in clip_size)


def _init_dcgan(module: nn.Module) -> None:
    """DCGAN initialisation: conv weights N(0, 0.02), batch-norm scales N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class VideoGenerator(nn.Module):
    """Noise (N, latent_dim) -> clips (N, out_channels, T, H, W): in [0, 1] through a sigmoid with ``squash=True``
    (default); with ``squash=False`` the last layer is linear and the clips are clamped to [0, 1] only to be shown or
    judged (chapter 17 trains that way: a sigmoid that must output 0 for mostly black clips saturates).

    A linear layer makes a (widths[0], T/2^k, H/2^k, W/2^k) volume (k = len(widths)), then ``k - 1`` :func:`up_stage`
    blocks go through ``widths[1:]`` and a last one to ``out_channels``. With the defaults:
    64-dim noise -> (64, 2, 2, 2) -> (32, 4, 4, 4) -> (16, 8, 8, 8) -> (3, 16, 16, 16).
    """

    def __init__(self, latent_dim: int = 64, *, out_channels: int = 3, widths: Sequence[int] = (64, 32, 16),
                 clip_size: Sequence[int] = (16, 16, 16), squash: bool = True):
        super().__init__()
        if not isinstance(squash, bool):
            raise TypeError(f"VideoGenerator(squash={squash!r}): expected True or False")
        self.latent_dim = check_positive_int(latent_dim, "VideoGenerator(latent_dim)")
        self.out_channels = check_positive_int(out_channels, "VideoGenerator(out_channels)")
        self.widths = check_widths(widths, "VideoGenerator(widths)")
        self.clip_size = _check_clip_size(clip_size, len(self.widths), "VideoGenerator")
        self.base = tuple(s // 2 ** len(self.widths) for s in self.clip_size)
        base_volume = self.widths[0] * self.base[0] * self.base[1] * self.base[2]
        self.project = nn.Sequential(nn.Linear(self.latent_dim, base_volume, bias=False), nn.BatchNorm1d(base_volume),
                                     nn.ReLU(inplace=True))
        outs = list(self.widths[1:]) + [self.out_channels]
        self.stages = nn.Sequential(OrderedDict(
            (f"up{i + 1}", up_stage(c_in, c_out, last=i == len(outs) - 1, squash=squash))
            for i, (c_in, c_out) in enumerate(zip(self.widths, outs))))
        _init_dcgan(self)

    def sample_noise(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal noise (n, latent_dim) on the model's device (``generator`` fixes it)."""
        n = check_positive_int(n, "VideoGenerator.sample_noise(n)")
        device = next(self.parameters()).device
        return torch.randn(n, self.latent_dim, generator=generator).to(device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_input(z, 2, "(N, latent_dim)", "VideoGenerator", self.latent_dim)
        x = self.project(z).view(z.shape[0], self.widths[0], *self.base)
        return self.stages(x)


class VideoDiscriminator(nn.Module):
    """Clips (N, in_channels, T, H, W) -> logits (N,): positive means "real".

    ``len(widths)`` :func:`down_stage` blocks halve T, H and W each, then a linear layer reads the flattened volume.
    With the defaults: (3, 16, 16, 16) -> (16, 8, 8, 8) -> (32, 4, 4, 4) -> (64, 2, 2, 2) (+ the minibatch
    standard deviation, :class:`MinibatchStdDev`) -> 1 logit.
    """

    def __init__(self, in_channels: int = 3, *, widths: Sequence[int] = (16, 32, 64),
                 clip_size: Sequence[int] = (16, 16, 16), spectral_norm: bool = True, minibatch_std: bool = True):
        super().__init__()
        for name, flag in (("spectral_norm", spectral_norm), ("minibatch_std", minibatch_std)):
            if not isinstance(flag, bool):
                raise TypeError(f"VideoDiscriminator({name}={flag!r}): expected True or False")
        self.minibatch_std = MinibatchStdDev() if minibatch_std else nn.Identity()
        self.in_channels = check_positive_int(in_channels, "VideoDiscriminator(in_channels)")
        self.widths = check_widths(widths, "VideoDiscriminator(widths)")
        self.clip_size = _check_clip_size(clip_size, len(self.widths), "VideoDiscriminator")
        ins = [self.in_channels] + list(self.widths[:-1])
        self.stages = nn.Sequential(OrderedDict(
            (f"down{i + 1}", down_stage(c_in, c_out, spectral_norm=spectral_norm))
            for i, (c_in, c_out) in enumerate(zip(ins, self.widths))))
        last = [s // 2 ** len(self.widths) for s in self.clip_size]
        self.head = nn.Linear((self.widths[-1] + int(minibatch_std)) * last[0] * last[1] * last[2], 1)
        if not spectral_norm:
            _init_dcgan(self)
        else:
            self.head = nn.utils.parametrizations.spectral_norm(self.head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "VideoDiscriminator", self.in_channels)
        if tuple(x.shape[2:]) != self.clip_size:
            raise ValueError(f"VideoDiscriminator.forward(x): expected clips of (T, H, W) = {self.clip_size}, got "
                             f"shape {tuple(x.shape)}")
        return self.head(self.minibatch_std(self.stages(x)).flatten(1)).squeeze(1)


def mlp(in_features: int, widths: Sequence[int], out_features: int, *, activation=nn.LeakyReLU) -> nn.Sequential:
    """Linear + activation for each of ``widths``, then a last Linear to ``out_features``.
    Shapes: (N, in_features) -> (N, out_features)."""
    in_features = check_positive_int(in_features, "mlp(in_features)")
    out_features = check_positive_int(out_features, "mlp(out_features)")
    widths = check_widths(widths, "mlp(widths)")
    layers: list[nn.Module] = []
    for w in widths:
        layers += [nn.Linear(in_features, w), activation()]
        in_features = w
    layers.append(nn.Linear(in_features, out_features))
    return nn.Sequential(*layers)


def toy_generator(latent_dim: int = 4, *, width: int = 32, out_features: int = 1) -> nn.Sequential:
    """The 1-D (or n-D) toy's generator: noise (N, latent_dim) -> samples (N, out_features)."""
    return mlp(latent_dim, (width, width), out_features)


def toy_discriminator(in_features: int = 1, *, width: int = 32) -> nn.Sequential:
    """The toy's discriminator: samples (N, in_features) -> logits (N, 1)."""
    return mlp(in_features, (width, width), 1)
