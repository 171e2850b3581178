"""Chapter 11: the non-local block (Wang, Girshick, Gupta & He, CVPR 2018) — space-time self-attention in a 3D CNN.

Every position of a (T, H, W) feature map is a query; its response is a weighted sum of *all* positions, in every
frame, so one block relates things that are far apart in space or time (a 3x3x3 convolution needs many layers for
that). The output convolution starts at zero, so a block dropped into a trained network changes nothing at first.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import check_input, check_positive_int

NONLOCAL_MODES = ("embedded_gaussian", "dot_product", "gaussian")


class NonLocalBlock(nn.Module):
    """z = x + W_z(y), y_i = sum_j f(x_i, x_j) g(x_j) / C(x): (N, C, T, H, W) -> (N, C, T, H, W).

    Args:
        channels: C, channels of the input (and output).
        inner_channels: channels of the embeddings theta, phi, g (default ``channels // 2``, at least 1).
        mode: the pairwise function f and its normalisation C(x), over the L = T*H*W positions —
            ``"embedded_gaussian"``: softmax_j(theta(x_i) . phi(x_j)) (self-attention);
            ``"dot_product"``: theta(x_i) . phi(x_j) / L;
            ``"gaussian"``: softmax_j(x_i . x_j) on the raw features (no theta, phi).
        zero_init: start W_z at zero (the batch norm after it has weight and bias 0), so that at initialisation the
            block is exactly the identity, in training and eval mode alike.

    :meth:`attention` gives the (N, L, L) weights f / C for plots; positions are flattened in (T, H, W) order.
    """

    def __init__(self, channels: int, *, inner_channels: int | None = None, mode: str = "embedded_gaussian",
                 zero_init: bool = True):
        super().__init__()
        self.channels = check_positive_int(channels, "NonLocalBlock(channels)")
        if inner_channels is None:
            inner_channels = max(1, self.channels // 2)
        self.inner_channels = check_positive_int(inner_channels, "NonLocalBlock(inner_channels)")
        if mode not in NONLOCAL_MODES:
            raise ValueError(f"NonLocalBlock(mode={mode!r}): expected one of {NONLOCAL_MODES}")
        if not isinstance(zero_init, bool):
            raise TypeError(f"NonLocalBlock(zero_init={zero_init!r}): expected True or False")
        self.mode = mode
        inner = self.inner_channels
        if mode == "gaussian":
            self.theta = self.phi = None
        else:
            self.theta = nn.Conv3d(self.channels, inner, 1)
            self.phi = nn.Conv3d(self.channels, inner, 1)
        self.g = nn.Conv3d(self.channels, inner, 1)
        self.out = nn.Sequential(nn.Conv3d(inner, self.channels, 1, bias=False), nn.BatchNorm3d(self.channels))
        if zero_init:
            nn.init.zeros_(self.out[1].weight)
            nn.init.zeros_(self.out[1].bias)

    def _check(self, x) -> None:
        check_input(x, 5, "(N, C, T, H, W)", "NonLocalBlock", self.channels)

    def _weights(self, x: torch.Tensor) -> torch.Tensor:
        """f(x_i, x_j) / C(x) as (N, L, L), row i = query position i."""
        if self.mode == "gaussian":
            q = k = x.flatten(2)                                         # (N, C, L)
        else:
            q, k = self.theta(x).flatten(2), self.phi(x).flatten(2)      # (N, C', L)
        scores = q.transpose(1, 2) @ k                                   # (N, L, L)
        if self.mode == "dot_product":
            return scores / scores.shape[-1]
        return F.softmax(scores, dim=-1)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """Attention weights (N, L, L) for input (N, C, T, H, W), L = T*H*W; row i is where position i looks.

        Reshape a row to (T, H, W) to see it as frames. Rows sum to 1 except in ``"dot_product"`` mode.
        """
        self._check(x)
        return self._weights(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        n, _, t, h, w = x.shape
        values = self.g(x).flatten(2)                                    # (N, C', L)
        y = values @ self._weights(x).transpose(1, 2)                    # (N, C', L): y_i = sum_j a_ij g_j
        return x + self.out(y.reshape(n, self.inner_channels, t, h, w))


def add_nonlocal(model: nn.Module, after, *, mode: str = "embedded_gaussian", inner_channels: int | None = None
                 ) -> nn.Module:
    """Insert a zero-initialised :class:`NonLocalBlock` after each submodule named in ``after``; in place.

    ``after``: names from ``dict(model.named_modules())`` whose output is (N, C, T, H, W) (e.g. ``["layer2"]`` of a
    VideoResNet). The block's channels are read from the submodule's last BatchNorm/convolution. Because the blocks
    start as the identity, the model computes exactly what it did before; training then decides what they add.
    Returns ``model``.
    """
    from .adapters import out_channels, set_submodule

    if not isinstance(model, nn.Module):
        raise TypeError(f"add_nonlocal(model): expected a torch.nn.Module, got {type(model).__name__}")
    if isinstance(after, str) or not isinstance(after, (list, tuple)) or not after:
        raise ValueError(f"add_nonlocal(after={after!r}): expected a non-empty list of submodule names")
    named = dict(model.named_modules())
    missing = [n for n in after if n not in named or n == ""]
    if missing:
        raise ValueError(f"add_nonlocal(after=...): the model has no submodule named {missing}")
    for name in after:
        block = named[name]
        nl = NonLocalBlock(out_channels(block), inner_channels=inner_channels, mode=mode)
        param = next(block.parameters(), None)
        set_submodule(model, name, nn.Sequential(block, nl.to(param.device) if param is not None else nl))
    return model
