"""Masked tube autoencoding: VideoMAE in miniature (chapter 18).

He et al. 2022 (MAE) hide most patches of an image and train a network to paint them back; Tong et al. 2022
(VideoMAE) do the same with video and make two changes that matter for clips:

- **tube masking**: one random set of spatial positions is hidden in *every* token frame, so a hidden patch cannot be
  copied from the same place in a neighbouring frame (with per-token *random* masking it nearly always can, and the
  task becomes "copy", not "understand");
- a **very high masking ratio** (90%): video is redundant, so little is left to see, which also makes the encoder
  cheap — it runs on the visible tokens only.

The pieces reuse chapter 12: tokens come from :class:`course.models.TubeletEmbedding`, the encoder and the light
decoder are stacks of :class:`course.models.transformer.VideoTransformerBlock` in the "joint" layout, fed a token
sequence of shape (N, 1, L, D) — joint attention treats it as one sequence, so any subset of tokens can go in.

Shapes: clips (N, C, T, H, W); token grid (T', H', W') = (T / t, H / h, W / w) for tubelets (t, h, w); L = T' H' W'
tokens per clip, in row-major order (token frame, row, column); masks (N, L) booleans, True = hidden; patches
(N, L, P) with P = t h w C values per token, ordered (t, h, w, C).
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..models.transformer import MultiHeadSelfAttention, TubeletEmbedding, VideoTransformerBlock

__all__ = ["MASKINGS", "TARGETS", "num_masked", "make_mask", "patchify", "unpatchify", "normalise_patches", "masked_loss",
           "MaskedVideoEncoder", "MAEDecoder", "MaskedAutoencoder", "copy_nearest_visible", "reconstruction_report",
           "encoder_cost", "sinusoid_positions", "train_masked_autoencoder", "pretrain_mae", "MAEHistory"]

MASKINGS = ("tube", "random")
TARGETS = ("patch", "pixels")


def _check_grid(grid, name: str) -> tuple[int, int, int]:
    if (not isinstance(grid, (tuple, list)) or len(grid) != 3
            or not all(isinstance(g, numbers.Integral) and not isinstance(g, bool) and g > 0 for g in grid)):
        raise ValueError(f"{name}: expected a token grid (T', H', W') of 3 positive ints, got {grid!r}")
    return tuple(int(g) for g in grid)


def _check_masking(masking, name: str) -> str:
    if masking not in MASKINGS:
        raise ValueError(f"{name}: expected one of {MASKINGS}, got {masking!r}")
    return masking


def num_masked(grid, ratio: float, masking: str = "tube") -> int:
    """How many of the L = T' H' W' tokens of one clip ``make_mask`` hides.

    tube: ``round(ratio * H' W')`` spatial positions, hidden in each of the T' token frames -> T' times that;
    random: ``round(ratio * L)`` tokens. At least one token must stay visible and at least one be hidden.
    """
    T, H, W = _check_grid(grid, "num_masked(grid)")
    _check_masking(masking, "num_masked(masking)")
    if not isinstance(ratio, numbers.Real) or isinstance(ratio, bool) or not 0 < ratio < 1:
        raise ValueError(f"num_masked(ratio): expected a number in (0, 1), got {ratio!r}")
    per, frames = (H * W, T) if masking == "tube" else (T * H * W, 1)
    hidden = int(round(ratio * per))
    if not 1 <= hidden < per:
        raise ValueError(f"num_masked(ratio={ratio}): hides {hidden} of {per} {'positions' if frames > 1 else 'tokens'}"
                         f" for grid {grid} and {masking} masking; at least one must be hidden and one visible")
    return hidden * frames


def make_mask(batch: int, grid, ratio: float, *, masking: str = "tube",
              generator: torch.Generator | None = None) -> torch.Tensor:
    """Random masks for ``batch`` clips: a bool tensor (batch, L), True = hidden, L = T' H' W' (row-major).

    ``masking="tube"``: each clip draws its own set of spatial positions and hides them in every token frame
    (``mask.view(batch, T', H' W')`` is the same in every frame). ``"random"``: each clip hides
    ``round(ratio * L)`` tokens anywhere. Every clip hides exactly :func:`num_masked` tokens.
    """
    if not isinstance(batch, numbers.Integral) or isinstance(batch, bool) or batch < 1:
        raise ValueError(f"make_mask(batch): expected a positive int, got {batch!r}")
    T, H, W = _check_grid(grid, "make_mask(grid)")
    _check_masking(masking, "make_mask(masking)")
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"make_mask(generator): expected a torch.Generator or None, got {type(generator).__name__}")
    hidden = num_masked((T, H, W), ratio, masking)
    if masking == "tube":
        per, hidden = H * W, hidden // T
    else:
        per = T * H * W
    order = torch.rand(batch, per, generator=generator).argsort(dim=1)
    mask = torch.zeros(batch, per, dtype=torch.bool)
    mask.scatter_(1, order[:, :hidden], True)
    if masking == "tube":
        mask = mask[:, None, :].expand(batch, T, per).reshape(batch, T * per)
    return mask


def _check_clips(clips, owner: str) -> None:
    if not torch.is_tensor(clips):
        raise TypeError(f"{owner}: expected a float tensor (N, C, T, H, W), got {type(clips).__name__}")
    if clips.ndim != 5 or not clips.is_floating_point():
        raise ValueError(f"{owner}: expected a float tensor (N, C, T, H, W), got {clips.dtype} of shape "
                         f"{tuple(clips.shape)}")


def patchify(clips: torch.Tensor, tubelet) -> torch.Tensor:
    """Cut clips (N, C, T, H, W) into tubelets: (N, L, P), P = t h w C values ordered (t, h, w, C).

    Token l = (t', h', w') in row-major order, the same order as ``TubeletEmbedding``'s tokens.
    """
    _check_clips(clips, "patchify(clips)")
    t, h, w = _check_grid(tubelet, "patchify(tubelet)")
    N, C, T, H, W = clips.shape
    if T % t or H % h or W % w:
        raise ValueError(f"patchify(clips): (T, H, W) = {(T, H, W)} must be multiples of the tubelet {(t, h, w)}")
    x = clips.reshape(N, C, T // t, t, H // h, h, W // w, w)
    return x.permute(0, 2, 4, 6, 3, 5, 7, 1).reshape(N, (T // t) * (H // h) * (W // w), t * h * w * C)


def unpatchify(patches: torch.Tensor, tubelet, size, channels: int = 3) -> torch.Tensor:
    """The inverse of :func:`patchify`: (N, L, P) -> clips (N, C, T, H, W) for ``size = (T, H, W)``."""
    if not torch.is_tensor(patches) or patches.ndim != 3:
        raise ValueError(f"unpatchify(patches): expected a tensor (N, L, P), got "
                         f"{tuple(patches.shape) if torch.is_tensor(patches) else type(patches).__name__}")
    t, h, w = _check_grid(tubelet, "unpatchify(tubelet)")
    T, H, W = _check_grid(size, "unpatchify(size)")
    grid = (T // t, H // h, W // w)
    if T % t or H % h or W % w or patches.shape[1:] != (math.prod(grid), t * h * w * channels):
        raise ValueError(f"unpatchify(patches): expected (N, {math.prod(grid)}, {t * h * w * channels}) for size "
                         f"{(T, H, W)}, tubelet {(t, h, w)}, {channels} channels; got {tuple(patches.shape)}")
    N = patches.shape[0]
    x = patches.reshape(N, *grid, t, h, w, channels)
    return x.permute(0, 7, 1, 4, 2, 5, 3, 6).reshape(N, channels, T, H, W)


def normalise_patches(patches: torch.Tensor, channels: int = 3, eps: float = 1e-6):
    """VideoMAE's targets: each patch normalised per channel by its own mean and standard deviation.

    patches (N, L, P) with P ordered (t, h, w, C) -> (normalised (N, L, P), mean (N, L, 1, C), std (N, L, 1, C));
    normalised = (patch - mean) / std with std = sqrt(var + eps) (population variance over the patch's t h w
    voxels). ``normalised * std + mean`` gives the patch back. A flat patch (var 0) becomes all zeros.
    """
    if not torch.is_tensor(patches) or patches.ndim != 3 or patches.shape[-1] % channels:
        raise ValueError(f"normalise_patches(patches): expected a tensor (N, L, P) with P a multiple of "
                         f"channels={channels}, got {tuple(patches.shape) if torch.is_tensor(patches) else patches!r}")
    x = patches.reshape(*patches.shape[:2], -1, channels)
    mean = x.mean(dim=2, keepdim=True)
    std = (x.var(dim=2, unbiased=False, keepdim=True) + eps).sqrt()
    return ((x - mean) / std).reshape(patches.shape), mean, std


def masked_loss(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the hidden tokens only: prediction, target (N, L, P), mask (N, L) bool -> scalar.

    Every hidden token weighs the same; visible tokens do not count (the encoder saw them).
    """
    if not torch.is_tensor(prediction) or not torch.is_tensor(target) or prediction.shape != target.shape \
            or prediction.ndim != 3:
        raise ValueError(f"masked_loss(prediction, target): expected two tensors of the same shape (N, L, P), got "
                         f"{getattr(prediction, 'shape', prediction)!r} and {getattr(target, 'shape', target)!r}")
    if not torch.is_tensor(mask) or mask.dtype != torch.bool or mask.shape != prediction.shape[:2]:
        raise ValueError(f"masked_loss(mask): expected a bool tensor of shape {tuple(prediction.shape[:2])} (N, L), "
                         f"got {getattr(mask, 'dtype', type(mask).__name__)} {tuple(getattr(mask, 'shape', ()))}")
    if not mask.any():
        raise ValueError("masked_loss(mask): no token is hidden; the loss is over hidden tokens only")
    per_token = ((prediction - target) ** 2).mean(dim=-1)
    return per_token[mask].mean()


def _visible_index(mask: torch.Tensor, owner: str) -> torch.Tensor:
    """(N, L) mask -> (N, L_vis) indices of the visible tokens, in order; every clip must show as many."""
    visible = (~mask).sum(dim=1)
    if not (visible == visible[0]).all() or visible[0] == 0:
        raise ValueError(f"{owner}(mask): every clip must show the same number (>= 1) of tokens, got "
                         f"{sorted(set(visible.tolist()))}")
    return mask.to(torch.uint8).argsort(dim=1, stable=True)[:, :int(visible[0])]


def _gather(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return tokens.gather(1, index[..., None].expand(-1, -1, tokens.shape[-1]))


def _blocks(dim: int, depth: int, heads: int, mlp_ratio: float) -> nn.ModuleList:
    return nn.ModuleList(VideoTransformerBlock(dim, heads, "joint", mlp_ratio=mlp_ratio) for _ in range(depth))


def _run_blocks(blocks: nn.ModuleList, tokens: torch.Tensor) -> torch.Tensor:
    """(N, L, D) through joint-attention blocks, given to them as a one-frame grid (N, 1, L, D)."""
    x = tokens[:, None]
    for block in blocks:
        x, _ = block(x, None)
    return x[:, 0]


def _sinusoid(count: int, dim: int) -> torch.Tensor:
    """(count, dim): channel 2i is sin(p / 10000^(2i / dim)) of position p, channel 2i + 1 its cosine."""
    position = torch.arange(count, dtype=torch.float32)[:, None]
    frequency = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float32) / dim)
    table = torch.zeros(count, dim)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: dim // 2])
    return table


def sinusoid_positions(grid, dim: int) -> torch.Tensor:
    """Fixed space-time position embeddings (1, L, D) for a token grid (T', H', W'), L = T' H' W' row-major.

    The first D // 2 channels are a sinusoid of the token frame t, the others a sinusoid of the spatial index
    s = h W' + w. Fixed (as in VideoMAE) so the decoder knows where each mask token sits from the first step, and
    factorised so that "the same place in another frame" is easy for attention to find: those tokens share the
    spatial half. (VideoMAE uses one sinusoid over the flattened index; on a CPU budget of a few hundred steps the
    factorised table learns markedly faster.)
    """
    T, H, W = _check_grid(grid, "sinusoid_positions(grid)")
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool) or dim < 4 or dim % 4:
        raise ValueError(f"sinusoid_positions(dim): expected a positive multiple of 4, got {dim!r}")
    half = dim // 2
    time_part = _sinusoid(T, half)[:, None].expand(T, H * W, half)
    space_part = _sinusoid(H * W, half)[None].expand(T, H * W, half)
    return torch.cat([time_part, space_part], dim=-1).reshape(1, T * H * W, dim)


def _init_linear(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)


class MaskedVideoEncoder(nn.Module):
    """The MAE encoder: tubelet tokens + fixed sinusoidal position embeddings + joint-attention transformer blocks.

    ``forward(clips)`` (N, C, T, H, W) -> (N, embed_dim): the mean of the final token features with every token
    visible — the chapter's encoder interface. ``encode(clips, mask)`` -> (N, L_vis, embed_dim): the features of the
    visible tokens only (``mask`` (N, L), True = hidden); hidden tubelets are never even embedded, so the whole
    encoder's cost falls with the number of visible tokens.

    Clips in [0, 1] are centred with ``input_mean`` / ``input_std`` first (as chapter 12's VideoTransformer does).
    """

    def __init__(self, *, input_size=(16, 32, 32), tubelet=(2, 8, 8), dim: int = 64, depth: int = 3, heads: int = 4,
                 in_channels: int = 3, mlp_ratio: float = 2.0, input_mean=(0.45, 0.45, 0.45),
                 input_std=(0.225, 0.225, 0.225)):
        super().__init__()
        for name, value in (("dim", dim), ("depth", depth), ("heads", heads)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MaskedVideoEncoder({name}): expected a positive int, got {value!r}")
        if dim % heads:
            raise ValueError(f"MaskedVideoEncoder(heads={heads}): dim={dim} must be divisible by heads")
        self.embed = TubeletEmbedding(in_channels, dim, tubelet)
        self.input_size = _check_grid(input_size, "MaskedVideoEncoder(input_size)")
        try:
            self.grid = self.embed.grid(self.input_size)
        except ValueError:
            raise ValueError(f"MaskedVideoEncoder(input_size={self.input_size}): each of T, H, W must be a multiple "
                             f"of tubelet={self.embed.tubelet}") from None
        self.embed_dim = int(dim)
        self.tubelet = self.embed.tubelet
        self.in_channels = in_channels
        self.register_buffer("position", sinusoid_positions(self.grid, dim), persistent=False)
        self.blocks = _blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        shape = (1, in_channels, 1, 1, 1)
        self.register_buffer("input_mean", torch.tensor(input_mean, dtype=torch.float32).reshape(shape),
                             persistent=False)
        self.register_buffer("input_std", torch.tensor(input_std, dtype=torch.float32).reshape(shape),
                             persistent=False)
        self.apply(_init_linear)

    @property
    def num_tokens(self) -> int:
        """L = T' H' W' tokens per clip."""
        return math.prod(self.grid)

    def tokens(self, clips: torch.Tensor) -> torch.Tensor:
        """All tokens with position embeddings: (N, C, T, H, W) -> (N, L, D)."""
        _check_clips(clips, "MaskedVideoEncoder(clips)")
        if tuple(clips.shape[1:]) != (self.in_channels, *self.input_size):
            raise ValueError(f"MaskedVideoEncoder(clips): expected (N, {self.in_channels}, *{self.input_size}), got "
                             f"{tuple(clips.shape)}")
        tokens = self.embed((clips - self.input_mean) / self.input_std)   # (N, T', S, D)
        return tokens.flatten(1, 2) + self.position

    def visible_tokens(self, clips: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The visible tokens only, with position embeddings: clips (N, C, T, H, W), mask (N, L) -> (N, L_vis, D).

        Equal to ``tokens(clips)`` at the visible places, but hidden tubelets are never embedded: the visible
        patches go through the tubelet embedding's weights as one matrix product (a strided convolution with
        kernel = stride = tubelet is exactly that).
        """
        _check_clips(clips, "MaskedVideoEncoder(clips)")
        expected = (len(clips), self.num_tokens)
        if not torch.is_tensor(mask) or mask.dtype != torch.bool or tuple(mask.shape) != expected:
            raise ValueError(f"MaskedVideoEncoder(mask): expected a bool tensor (N, L) = {expected}, got "
                             f"{getattr(mask, 'dtype', type(mask).__name__)} {tuple(getattr(mask, 'shape', ()))}")
        if tuple(clips.shape[1:]) != (self.in_channels, *self.input_size):
            raise ValueError(f"MaskedVideoEncoder(clips): expected (N, {self.in_channels}, *{self.input_size}), got "
                             f"{tuple(clips.shape)}")
        index = _visible_index(mask, "MaskedVideoEncoder")
        patches = _gather(patchify((clips - self.input_mean) / self.input_std, self.tubelet), index)
        weight = self.embed.proj.weight.permute(0, 2, 3, 4, 1).reshape(self.embed_dim, -1)   # (D, t h w C)
        return F.linear(patches, weight, self.embed.proj.bias) + _gather(
            self.position.expand(len(clips), -1, -1), index)

    def encode(self, clips: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Features of the visible tokens: clips (N, C, T, H, W), mask (N, L) bool or None -> (N, L_vis, D)."""
        tokens = self.tokens(clips) if mask is None else self.visible_tokens(clips, mask)
        return self.norm(_run_blocks(self.blocks, tokens))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> (N, embed_dim): mean of all token features (nothing hidden)."""
        return self.encode(clips).mean(dim=1)


class MAEDecoder(nn.Module):
    """The light decoder: visible features + a shared learned mask token at each hidden place -> every token's patch.

    ``grid``: the token grid (T', H', W'), L = T' H' W'.
    ``forward(visible (N, L_vis, encoder_dim), mask (N, L))`` -> predictions (N, L, patch_dim) for all L tokens (the
    loss uses the hidden ones). Fixed sinusoidal position embeddings tell each mask token where it is.
    """

    def __init__(self, grid, encoder_dim: int, patch_dim: int, *, dim: int = 48, depth: int = 1,
                 heads: int = 4, mlp_ratio: float = 2.0):
        super().__init__()
        grid = _check_grid(grid, "MAEDecoder(grid)")
        num_tokens = math.prod(grid)
        for name, value in (("encoder_dim", encoder_dim), ("patch_dim", patch_dim),
                            ("dim", dim), ("depth", depth), ("heads", heads)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"MAEDecoder({name}): expected a positive int, got {value!r}")
        if dim % heads:
            raise ValueError(f"MAEDecoder(heads={heads}): dim={dim} must be divisible by heads")
        self.num_tokens = num_tokens
        self.proj = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("position", sinusoid_positions(grid, dim), persistent=False)
        self.blocks = _blocks(dim, depth, heads, mlp_ratio)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, patch_dim)
        nn.init.trunc_normal_(self.mask_token, std=0.02)
        self.apply(_init_linear)

    def forward(self, visible: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        N, L = mask.shape
        index = _visible_index(mask, "MAEDecoder")
        if L != self.num_tokens or visible.shape[:2] != index.shape:
            raise ValueError(f"MAEDecoder(visible, mask): expected mask (N, {self.num_tokens}) and visible "
                             f"(N, visible tokens, D), got {tuple(visible.shape)} and {tuple(mask.shape)}")
        x = self.proj(visible)
        full = self.mask_token.expand(N, L, x.shape[-1]).clone()
        full.scatter_(1, index[..., None].expand(-1, -1, x.shape[-1]), x)
        return self.head(self.norm(_run_blocks(self.blocks, full + self.position)))


class MaskedAutoencoder(nn.Module):
    """Encoder + decoder + the masking rule. ``forward(clips)`` -> dict of loss (scalar, hidden tokens only),
    prediction and target (N, L, P, normalised pixels), mask (N, L) — one new mask per call unless given.

    ``target="patch"``: VideoMAE's targets, each patch normalised by its own mean and std (:func:`normalise_patches`
    with ``target_eps``); ``"pixels"``: the pixels normalised like the encoder's input, ``(x - input_mean) /
    input_std`` (MAE's plain-pixel variant), so brightness and colour must be predicted too.
    """

    def targets(self, clips: torch.Tensor):
        """(target (N, L, P), mean, std) with ``target * std + mean`` = the patches of ``clips`` (N, C, T, H, W)."""
        patches = patchify(clips, self.encoder.tubelet)
        if self.target == "patch":
            return normalise_patches(patches, self.encoder.in_channels, self.target_eps)
        C = self.encoder.in_channels
        mean, std = self.encoder.input_mean.reshape(1, 1, 1, C), self.encoder.input_std.reshape(1, 1, 1, C)
        target = ((patches.reshape(*patches.shape[:2], -1, C) - mean) / std).reshape(patches.shape)
        return target, mean, std

    def __init__(self, encoder: MaskedVideoEncoder, *, mask_ratio: float = 0.9, masking: str = "tube",
                 decoder_dim: int = 48, decoder_depth: int = 1, heads: int = 4, target: str = "patch",
                 target_eps: float = 1e-6):
        super().__init__()
        if not isinstance(encoder, MaskedVideoEncoder):
            raise TypeError(f"MaskedAutoencoder(encoder): expected a MaskedVideoEncoder, got {type(encoder).__name__}")
        num_masked(encoder.grid, mask_ratio, masking)   # validates ratio and masking
        if not isinstance(target_eps, numbers.Real) or isinstance(target_eps, bool) or not target_eps > 0:
            raise ValueError(f"MaskedAutoencoder(target_eps): expected a positive number, got {target_eps!r}")
        if target not in TARGETS:
            raise ValueError(f"MaskedAutoencoder(target): expected one of {TARGETS}, got {target!r}")
        self.encoder, self.mask_ratio, self.masking = encoder, float(mask_ratio), masking
        self.target, self.target_eps = target, float(target_eps)
        patch_dim = math.prod(encoder.tubelet) * encoder.in_channels
        self.decoder = MAEDecoder(encoder.grid, encoder.embed_dim, patch_dim, dim=decoder_dim,
                                  depth=decoder_depth, heads=heads)

    def forward(self, clips: torch.Tensor, mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> dict:
        if mask is None:
            mask = make_mask(len(clips), self.encoder.grid, self.mask_ratio, masking=self.masking,
                             generator=generator)
        target, _, _ = self.targets(clips)
        prediction = self.decoder(self.encoder.encode(clips, mask), mask)
        return {"loss": masked_loss(prediction, target, mask), "prediction": prediction, "target": target,
                "mask": mask}

    @torch.no_grad()
    def reconstruct(self, clips: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Clips (N, C, T, H, W) with the hidden tubelets painted by the decoder, visible ones as they were.

        The decoder predicts normalised patches; with ``target="patch"`` they are scaled back with the true patch's
        mean and std (as VideoMAE's figures do) — the picture shows the predicted structure, not brightness.
        """
        was = self.training
        self.eval()
        try:
            out = self(clips, mask)
        finally:
            self.train(was)
        patches = patchify(clips, self.encoder.tubelet)
        _, mean, std = self.targets(clips)
        painted = (out["prediction"].reshape(mean.shape[:2] + (-1, mean.shape[-1])) * std + mean).reshape(
            patches.shape)
        patches = torch.where(mask[..., None], painted, patches)
        return unpatchify(patches, self.encoder.tubelet, self.encoder.input_size, self.encoder.in_channels)


def copy_nearest_visible(target: torch.Tensor, mask: torch.Tensor, grid, fallback=0.0) -> torch.Tensor:
    """The trivial baseline: predict each hidden token by copying the same spatial position from the nearest token
    frame where it is visible (the earlier one on a tie); where no frame shows it, predict ``fallback`` (a number or
    a tensor broadcastable to (N, L, P); 0 = the patch mean for per-patch normalised targets).

    target (N, L, P), mask (N, L) bool, grid (T', H', W') -> prediction (N, L, P). Under tube masking no frame shows
    a hidden position, so this baseline is the mean baseline; under random masking it usually finds one.
    """
    T, H, W = _check_grid(grid, "copy_nearest_visible(grid)")
    if not torch.is_tensor(mask) or mask.dtype != torch.bool or mask.shape != target.shape[:2] \
            or mask.shape[1] != T * H * W:
        raise ValueError(f"copy_nearest_visible(mask): expected a bool tensor (N, {T * H * W}) matching target "
                         f"{tuple(target.shape)}, got {tuple(getattr(mask, 'shape', ()))}")
    N, L, P = target.shape
    grid_target = target.reshape(N, T, H * W, P)
    hidden = mask.reshape(N, T, H * W)
    prediction = torch.zeros_like(grid_target)
    fallback = torch.as_tensor(fallback, dtype=target.dtype).expand(N, L, P).reshape(N, T, H * W, P)
    frames = torch.arange(T)
    distance = (frames[:, None] - frames[None, :]).abs().float() + frames[None, :] * 1e-3   # (t, t'): ties -> earlier
    for t in range(T):
        # nearest visible frame for every (clip, position): hidden frames get an infinite distance
        cost = distance[t][None, :, None].expand(N, T, H * W).masked_fill(hidden, float("inf"))
        best = cost.argmin(dim=1)                                                  # (N, S)
        found = torch.isfinite(cost.min(dim=1).values)
        copied = grid_target.gather(1, best[:, None, :, None].expand(N, 1, H * W, P))[:, 0]
        prediction[:, t] = torch.where(found[..., None], copied, fallback[:, t])
    return prediction.reshape(N, L, P)


def _visible_mean(target: torch.Tensor, mask: torch.Tensor, channels: int) -> torch.Tensor:
    """(N, 1, P): each clip's mean over its visible tokens' pixels, per channel, repeated over the patch."""
    N, L, P = target.shape
    values = target.reshape(N, L, -1, channels)
    weight = (~mask).to(target.dtype)[..., None, None]
    mean = (values * weight).sum(dim=(1, 2)) / (weight.sum(dim=(1, 2)) * values.shape[2])      # (N, C)
    return mean[:, None, None, :].expand(N, 1, P // channels, channels).reshape(N, 1, P)


@torch.no_grad()
def reconstruction_report(model: MaskedAutoencoder, clips: torch.Tensor, *, mask_ratio: float, masking: str,
                          seed: int = 0, batch_size: int = 64) -> dict:
    """Losses on the hidden tokens of ``clips`` (N, C, T, H, W) under fresh masks (seeded), in the model's targets:

    ``{"model": the MAE's loss, "mean_pixel": the mean baseline, "copy": copy_nearest_visible's loss (falling back
    on the mean baseline), "visible_tokens": tokens the encoder saw per clip}``. The mean baseline predicts each
    patch's own mean (0) for ``target="patch"``, and the clip's mean visible pixel (per channel) for ``"pixels"``.
    """
    if not isinstance(model, MaskedAutoencoder):
        raise TypeError(f"reconstruction_report(model): expected a MaskedAutoencoder, got {type(model).__name__}")
    _check_clips(clips, "reconstruction_report(clips)")
    generator = torch.Generator().manual_seed(seed)
    totals = {"model": 0.0, "mean_pixel": 0.0, "copy": 0.0}
    hidden_total = 0
    was = model.training
    model.eval()
    try:
        for start in range(0, len(clips), batch_size):
            batch = clips[start:start + batch_size]
            mask = make_mask(len(batch), model.encoder.grid, mask_ratio, masking=masking, generator=generator)
            out = model(batch, mask)
            n = int(mask.sum())
            totals["model"] += float(out["loss"]) * n
            mean = _visible_mean(out["target"], mask, model.encoder.in_channels) if model.target == "pixels" else 0.0
            baseline = torch.zeros_like(out["target"]) + mean
            totals["mean_pixel"] += float(masked_loss(baseline, out["target"], mask)) * n
            copy = copy_nearest_visible(out["target"], mask, model.encoder.grid, fallback=baseline)
            totals["copy"] += float(masked_loss(copy, out["target"], mask)) * n
            hidden_total += n
    finally:
        model.train(was)
    report = {k: v / hidden_total for k, v in totals.items()}
    report["visible_tokens"] = model.encoder.num_tokens - num_masked(model.encoder.grid, mask_ratio, masking)
    return report


def encoder_cost(encoder: MaskedVideoEncoder, *, mask_ratio: float, masking: str = "tube", batch: int = 8,
                 repeats: int = 5) -> dict:
    """FLOPs and wall-clock time of the encoder on all L tokens vs on the visible tokens only.

    FLOPs come from ``torch.utils.flop_counter`` with attention computed by hand (so its products are counted);
    times are the median of ``repeats`` forward passes on a (batch, C, T, H, W) input, under ``torch.no_grad``.
    Returns ``{"tokens", "visible_tokens", "flops_full", "flops_visible", "flop_ratio", "seconds_full",
    "seconds_visible", "time_ratio"}`` (ratios = full / visible).
    """
    from torch.utils.flop_counter import FlopCounterMode

    if not isinstance(encoder, MaskedVideoEncoder):
        raise TypeError(f"encoder_cost(encoder): expected a MaskedVideoEncoder, got {type(encoder).__name__}")
    clips = torch.rand(batch, encoder.in_channels, *encoder.input_size, generator=torch.Generator().manual_seed(0))
    mask = make_mask(batch, encoder.grid, mask_ratio, masking=masking, generator=torch.Generator().manual_seed(0))
    attention = [m for m in encoder.modules() if isinstance(m, MultiHeadSelfAttention)]
    was = encoder.training
    encoder.eval()
    result = {"tokens": encoder.num_tokens, "visible_tokens": int((~mask[0]).sum())}
    try:
        with torch.no_grad():
            for m in attention:
                m.fused = False
            for key, m in (("full", None), ("visible", mask)):
                with FlopCounterMode(display=False) as counter:
                    encoder.encode(clips, m)
                result[f"flops_{key}"] = int(counter.get_total_flops())
            for m in attention:
                m.fused = True
            for key, m in (("full", None), ("visible", mask)):
                times = []
                for _ in range(repeats + 1):
                    start = time.perf_counter()
                    encoder.encode(clips, m)
                    times.append(time.perf_counter() - start)
                result[f"seconds_{key}"] = sorted(times[1:])[len(times[1:]) // 2]
    finally:
        for m in attention:
            m.fused = True
        encoder.train(was)
    result["flop_ratio"] = result["flops_full"] / result["flops_visible"]
    result["time_ratio"] = result["seconds_full"] / result["seconds_visible"]
    return result


@dataclass
class MAEHistory:
    """Mean training loss per epoch (hidden tokens, normalised pixels) and the settings it was trained with."""

    losses: list = field(default_factory=list)
    mask_ratio: float = 0.9
    masking: str = "tube"
    seconds: float = 0.0


def _as_clip_tensor(data, owner: str) -> torch.Tensor:
    """A float tensor (N, C, T, H, W) from a tensor or a dataset of clips / (clip, label) pairs."""
    if torch.is_tensor(data):
        _check_clips(data, f"{owner}(data)")
        return data
    if not hasattr(data, "__len__") or not hasattr(data, "__getitem__"):
        raise TypeError(f"{owner}(data): expected a tensor (N, C, T, H, W) or a dataset of clips, got "
                        f"{type(data).__name__}")
    if len(data) == 0:
        raise ValueError(f"{owner}(data): the dataset is empty")
    items = [data[i] for i in range(len(data))]
    clips = torch.stack([item[0] if isinstance(item, (tuple, list)) else item for item in items])
    _check_clips(clips, f"{owner}(data)")
    return clips


def train_masked_autoencoder(data, *, mask_ratio: float = 0.9, masking: str = "tube", epochs: int = 10,
                             seed: int = 0, batch_size: int = 32, lr: float = 1e-3, weight_decay: float = 0.05,
                             dim: int = 64, depth: int = 3, heads: int = 4, decoder_dim: int = 48,
                             decoder_depth: int = 1, tubelet=(2, 8, 8), target: str = "patch",
                             target_eps: float = 1e-6, progress: bool = True):
    """Pretrain a :class:`MaskedAutoencoder` on unlabelled clips -> (model, :class:`MAEHistory`).

    ``data``: a float tensor (N, C, T, H, W) or a dataset whose items are clips or (clip, label) pairs (labels
    ignored); the clip size sets the encoder's ``input_size``. AdamW with a cosine schedule (1-epoch warm-up), a
    new mask for every clip at every step. ``target``: "patch" (VideoMAE's per-patch normalised pixels) or "pixels"
    (see :class:`MaskedAutoencoder`). Deterministic given ``seed``: initial weights, shuffling and masks come
    from it (the global random state is left as it was).
    """
    from tqdm.auto import tqdm

    clips = _as_clip_tensor(data, "train_masked_autoencoder")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_masked_autoencoder({name}): expected a positive int, got {value!r}")
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"train_masked_autoencoder(seed): expected an int >= 0, got {seed!r}")
    started = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        encoder = MaskedVideoEncoder(input_size=tuple(clips.shape[2:]), tubelet=tubelet, dim=dim, depth=depth,
                                     heads=heads, in_channels=clips.shape[1])
        model = MaskedAutoencoder(encoder, mask_ratio=mask_ratio, masking=masking, decoder_dim=decoder_dim,
                                  decoder_depth=decoder_depth, heads=heads, target=target,
                                  target_eps=target_eps)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.95))
    steps_per_epoch = math.ceil(len(clips) / batch_size)
    total, warmup = epochs * steps_per_epoch, steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: (s + 1) / warmup if s < warmup else 0.5 * (1 + math.cos(math.pi * (s - warmup) /
                                                                                      max(1, total - warmup))))
    history = MAEHistory(mask_ratio=float(mask_ratio), masking=masking)
    model.train()
    for _ in tqdm(range(epochs), desc=f"MAE pretraining ({masking}, {mask_ratio:.0%})", disable=not progress):
        order = torch.randperm(len(clips), generator=generator)
        running, seen = 0.0, 0
        for start in range(0, len(clips), batch_size):
            batch = clips[order[start:start + batch_size]]
            loss = model(batch, generator=generator)["loss"]
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            running += loss.item() * len(batch)
            seen += len(batch)
        history.losses.append(running / seen)
    history.seconds = time.perf_counter() - started
    model.eval()
    return model, history


def pretrain_mae(data, *, mask_ratio: float = 0.9, masking: str = "tube", epochs: int = 10, seed: int = 0,
                 **kwargs) -> MaskedVideoEncoder:
    """Pretrain with masked tube autoencoding and return the encoder alone (the chapter's encoder interface:
    clips (N, C, T, H, W) -> embeddings (N, embed_dim)). Arguments as :func:`train_masked_autoencoder`."""
    model, _ = train_masked_autoencoder(data, mask_ratio=mask_ratio, masking=masking, epochs=epochs, seed=seed,
                                        **kwargs)
    return model.encoder
