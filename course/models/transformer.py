"""Video transformers (chapter 12): tubelet tokens, space-time position embeddings and three attention layouts.

One :class:`VideoTransformer` covers the layouts the chapter compares, built from the same small pieces:

- ``attention="joint"``: every token attends to every token of the clip (ViViT model 1): cost ~ (T N)^2 per layer
  for T token frames of N tokens each;
- ``attention="divided"``: in each block, attention over time (each spatial position attends to itself in the
  other frames), then over space (each frame on its own) — TimeSformer's divided space-time attention: ~ T^2 N + N^2 T;
- ``attention="space_only"``: attention within each frame only, then an average over frames — a frame model with
  late averaging, blind to order unless its tubelets span several frames.

Tokens are kept as a grid (N, T', S, D) — T' token frames, S = H' W' tokens per frame — so each layout only reshapes.
The attention weights of every layer can be read back (:meth:`VideoTransformer.attention_weights`) for plots.
"""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F
from torch import nn

ATTENTION_LAYOUTS = ("joint", "divided", "space_only")
POOLING = ("cls", "mean")


def _check_triple(value, name: str) -> tuple[int, int, int]:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * 3
    if (not isinstance(value, (tuple, list)) or len(value) != 3
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"{name}: expected a positive int or a tuple of 3 positive ints (t, h, w), got {value!r}")
    return tuple(int(v) for v in value)


def _check_positive_int(value, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def _check_video(x, owner: str, channels: int | None = None) -> None:
    if not torch.is_tensor(x):
        raise TypeError(f"{owner}(x): expected a tensor (N, C, T, H, W), got {type(x).__name__}")
    if x.ndim != 5:
        raise ValueError(f"{owner}(x): expected 5 dims (N, C, T, H, W), got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{owner}(x): expected {channels} channels (dim 1), got shape {tuple(x.shape)}")


def scaled_dot_product_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d)) v, written out. q (..., L, d), k (..., S, d), v (..., S, dv).

    Returns (output (..., L, dv), weights (..., L, S)); each row of ``weights`` sums to 1. Same result as
    ``torch.nn.functional.scaled_dot_product_attention(q, k, v)``, which does not return the weights.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not torch.is_tensor(t) or t.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention({name}): expected a tensor with >= 2 dims (..., L, d)")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: q (..., L, d) and k (..., S, d) must share d, k and v must "
                         f"share S; got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
    return weights @ v, weights


class MultiHeadSelfAttention(nn.Module):
    """Multi-head self-attention on (B, L, D) token sequences; the layout of ``nn.MultiheadAttention``.

    ``qkv`` is one Linear(D, 3D) (its weight is ``nn.MultiheadAttention.in_proj_weight``) and ``proj`` the output
    Linear(D, D) (``out_proj``). With ``fused = True`` (default) it calls ``F.scaled_dot_product_attention``, which
    on a CPU never stores the (L, L) weights (less memory) but is invisible to ``torch.utils.flop_counter``; with
    ``fused = False`` it computes attention by hand (every FLOP counted, the (L, L) matrix materialised). With
    ``keep_weights = True`` it computes by hand and keeps the weights (B, heads, L, L) in ``last_weights``.
    """

    def __init__(self, dim: int, heads: int, *, dropout: float = 0.0, fused: bool = True):
        super().__init__()
        if dim % heads:
            raise ValueError(f"MultiHeadSelfAttention(heads={heads}): dim={dim} must be divisible by heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout
        self.fused = fused
        self.keep_weights = False
        self.last_weights: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.qkv(x).reshape(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)  # (B, h, L, d)
        if self.keep_weights or not self.fused:
            out, weights = scaled_dot_product_attention(q, k, v)
            if self.keep_weights:
                self.last_weights = weights.detach()
            if self.training and self.dropout > 0:
                out = F.dropout(weights, self.dropout) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.proj(out.transpose(1, 2).reshape(B, L, D))


class TubeletEmbedding(nn.Module):
    """Cut a clip into non-overlapping tubelets of ``tubelet = (t, h, w)`` voxels and project each to ``dim``.

    A strided ``nn.Conv3d(in_channels, dim, kernel_size=tubelet, stride=tubelet)``: (N, C, T, H, W) ->
    tokens (N, T', S, dim) with T' = T // t and S = (H // h) * (W // w) tokens per token frame. T, H, W must be
    multiples of t, h, w. With t = 1 every token is a patch of one frame (ViT's patch embedding, frame by frame).

    ``stem_channels > 0`` puts a small convolutional stem first — a 3x3x3 ``Conv3d(in_channels, stem_channels)``
    with padding 1, BatchNorm and ReLU — so each token is computed from local space-time features instead of raw
    pixels ("early convolutions", Xiao et al. 2021): a CNN's inductive bias, added on purpose.
    """

    def __init__(self, in_channels: int, dim: int, tubelet=(2, 4, 4), *, stem_channels: int = 0):
        super().__init__()
        self.in_channels = _check_positive_int(in_channels, "TubeletEmbedding(in_channels)")
        self.dim = _check_positive_int(dim, "TubeletEmbedding(dim)")
        self.tubelet = _check_triple(tubelet, "TubeletEmbedding(tubelet)")
        if not isinstance(stem_channels, numbers.Integral) or isinstance(stem_channels, bool) or stem_channels < 0:
            raise ValueError(f"TubeletEmbedding(stem_channels={stem_channels!r}): expected an int >= 0")
        self.stem = None
        if stem_channels:
            self.stem = nn.Sequential(nn.Conv3d(self.in_channels, stem_channels, 3, padding=1, bias=False),
                                      nn.BatchNorm3d(stem_channels), nn.ReLU(inplace=True))
        self.proj = nn.Conv3d(stem_channels or self.in_channels, self.dim, kernel_size=self.tubelet,
                              stride=self.tubelet)

    def grid(self, input_size) -> tuple[int, int, int]:
        """Token grid (T', H', W') for clips of ``input_size = (T, H, W)``; a ValueError if it does not divide."""
        size = _check_triple(input_size, "TubeletEmbedding(input_size)")
        if any(s % t for s, t in zip(size, self.tubelet)):
            raise ValueError(f"TubeletEmbedding(input_size={size}): each of T, H, W must be a multiple of the "
                             f"tubelet {self.tubelet}")
        return tuple(s // t for s, t in zip(size, self.tubelet))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_video(x, "TubeletEmbedding", self.in_channels)
        self.grid(tuple(x.shape[2:]))
        tokens = self.proj(x if self.stem is None else self.stem(x))        # (N, dim, T', H', W')
        return tokens.flatten(3).permute(0, 2, 3, 1)             # (N, T', S, dim)


class VideoTransformerBlock(nn.Module):
    """A pre-norm transformer block on a token grid (N, T', S, D) plus an optional class token (N, 1, D).

    ``layout="joint"``: one attention over all T' S (+1) tokens. ``"divided"``: attention over time at each spatial
    position, then over space in each frame (the class token joins every frame's spatial attention, and its T' outputs
    are averaged, as in TimeSformer). ``"space_only"``: the spatial attention alone. Then a 2-layer MLP on every token.
    """

    def __init__(self, dim: int, heads: int, layout: str, *, mlp_ratio: float = 4.0, dropout: float = 0.0):
        super().__init__()
        self.layout = layout
        self.norm_time = nn.LayerNorm(dim) if layout == "divided" else None
        self.time_attn = MultiHeadSelfAttention(dim, heads, dropout=dropout) if layout == "divided" else None
        self.norm_attn = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, dropout=dropout)
        self.norm_mlp = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor, cls: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
        N, T, S, D = x.shape
        if self.layout == "joint":
            seq = x.reshape(N, T * S, D)
            if cls is not None:
                seq = torch.cat([cls, seq], dim=1)
            seq = seq + self.attn(self.norm_attn(seq))
            if cls is not None:
                cls, seq = seq[:, :1], seq[:, 1:]
            x = seq.reshape(N, T, S, D)
        else:
            if self.time_attn is not None:                                   # (N S, T, D): one sequence per position
                seq = x.transpose(1, 2).reshape(N * S, T, D)
                seq = seq + self.time_attn(self.norm_time(seq))
                x = seq.reshape(N, S, T, D).transpose(1, 2)
            seq = x.reshape(N * T, S, D)                                     # (N T, S, D): one sequence per frame
            if cls is not None:
                seq = torch.cat([cls.repeat_interleave(T, dim=0), seq], dim=1)
            seq = seq + self.attn(self.norm_attn(seq))
            if cls is not None:
                cls, seq = seq[:, :1].reshape(N, T, D).mean(1, keepdim=True), seq[:, 1:]
            x = seq.reshape(N, T, S, D)
        x = x + self.mlp(self.norm_mlp(x))
        if cls is not None:
            cls = cls + self.mlp(self.norm_mlp(cls))
        return x, cls


class VideoTransformer(nn.Module):
    """A small video transformer: tubelet embedding, position embeddings, ``depth`` blocks, pooling, a linear head.

    Args:
        num_classes: K, the number of output logits.
        input_size: (T, H, W) of the clips it takes; each must be a multiple of ``tubelet``.
        tubelet: (t, h, w) voxels per token (an int means (t, t, t)).
        dim, depth, heads: token width, number of blocks, attention heads (``dim`` divisible by ``heads``).
        attention: "joint" (ViViT model 1), "divided" (TimeSformer) or "space_only" (per-frame attention).
        temporal_position: add a learned embedding per token frame (time). Without it — and with t = 1 tubelets,
            joint attention and mean pooling — the model cannot tell a clip from its time reversal.
        spatial_position: add a learned embedding per spatial token position.
        pooling: "cls" (a learned class token) or "mean" (average of all tokens).
        in_channels, mlp_ratio, dropout: as usual.
        stem_channels: > 0 adds a 3x3x3 convolutional stem before the tubelet embedding (see TubeletEmbedding).
        input_mean, input_std: per-channel statistics subtracted / divided first, so clips in [0, 1] come in centred.
            (Without it every token carries a large shared component, W applied to the mean pixel, that swamps what
            differs between clips, and training stalls for hundreds of steps.) None for inputs already normalised.

    Input (N, C, T, H, W) -> logits (N, num_classes). Tokens live on a grid (N, T', S, dim), T' = T // t,
    S = (H // h) (W // w).
    """

    def __init__(self, num_classes: int, *, input_size=(16, 32, 32), tubelet=(2, 8, 8), dim: int = 64,
                 depth: int = 4, heads: int = 4, attention: str = "divided", temporal_position: bool = True,
                 spatial_position: bool = True, pooling: str = "cls", in_channels: int = 3, mlp_ratio: float = 4.0,
                 dropout: float = 0.0, stem_channels: int = 0, input_mean=(0.45, 0.45, 0.45),
                 input_std=(0.225, 0.225, 0.225)):
        super().__init__()
        self.num_classes = _check_positive_int(num_classes, "VideoTransformer(num_classes)")
        dim = _check_positive_int(dim, "VideoTransformer(dim)")
        self.depth = _check_positive_int(depth, "VideoTransformer(depth)")
        heads = _check_positive_int(heads, "VideoTransformer(heads)")
        if dim % heads:
            raise ValueError(f"VideoTransformer(heads={heads}): dim={dim} must be divisible by heads")
        if attention not in ATTENTION_LAYOUTS:
            raise ValueError(f"VideoTransformer(attention={attention!r}): expected one of {ATTENTION_LAYOUTS}")
        if pooling not in POOLING:
            raise ValueError(f"VideoTransformer(pooling={pooling!r}): expected one of {POOLING}")
        for name, flag in (("temporal_position", temporal_position), ("spatial_position", spatial_position)):
            if not isinstance(flag, bool):
                raise TypeError(f"VideoTransformer({name}={flag!r}): expected True or False")
        if (not isinstance(mlp_ratio, numbers.Real) or isinstance(mlp_ratio, bool) or not math.isfinite(mlp_ratio)
                or int(dim * mlp_ratio) < 1):
            raise ValueError(f"VideoTransformer(mlp_ratio={mlp_ratio!r}): expected a positive finite number with "
                             f"dim * mlp_ratio >= 1 (the MLP's hidden width; dim={dim})")
        if not isinstance(dropout, numbers.Real) or not 0 <= dropout < 1:
            raise ValueError(f"VideoTransformer(dropout={dropout!r}): expected a number in [0, 1)")
        self.attention, self.pooling, self.dim, self.heads = attention, pooling, dim, heads
        self.input_size = _check_triple(input_size, "VideoTransformer(input_size)")
        self.embed = TubeletEmbedding(in_channels, dim, tubelet, stem_channels=stem_channels)
        for name, stat in (("input_mean", input_mean), ("input_std", input_std)):
            if stat is not None and (not isinstance(stat, (tuple, list)) or len(stat) != in_channels
                                     or not all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                                and math.isfinite(v) for v in stat)):
                raise ValueError(f"VideoTransformer({name}={stat!r}): expected None or {in_channels} finite numbers")
        if input_std is not None and min(input_std) <= 0:
            raise ValueError(f"VideoTransformer(input_std={input_std!r}): expected positive numbers")
        shape = (1, in_channels, 1, 1, 1)
        self.register_buffer("input_mean", None if input_mean is None else torch.tensor(input_mean).reshape(shape),
                             persistent=False)
        self.register_buffer("input_std", None if input_std is None else torch.tensor(input_std).reshape(shape),
                             persistent=False)
        try:
            self.grid = self.embed.grid(self.input_size)
        except ValueError:
            raise ValueError(f"VideoTransformer(input_size={self.input_size}): each of T, H, W must be a multiple of "
                             f"tubelet={self.embed.tubelet}") from None
        T, H, W = self.grid
        self.time_position = nn.Parameter(torch.zeros(1, T, 1, dim)) if temporal_position else None
        self.space_position = nn.Parameter(torch.zeros(1, 1, H * W, dim)) if spatial_position else None
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pooling == "cls" else None
        self.blocks = nn.ModuleList(VideoTransformerBlock(dim, heads, attention, mlp_ratio=mlp_ratio, dropout=dropout)
                                    for _ in range(self.depth))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, self.num_classes)
        for p in (self.time_position, self.space_position, self.cls_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    @property
    def fused_attention(self) -> bool:
        """True: attention runs in ``F.scaled_dot_product_attention``; False: by hand (so FLOP counters see it)."""
        return all(m.fused for m in self.modules() if isinstance(m, MultiHeadSelfAttention))

    @fused_attention.setter
    def fused_attention(self, value: bool) -> None:
        if not isinstance(value, bool):
            raise TypeError(f"VideoTransformer.fused_attention: expected True or False, got {value!r}")
        for m in self.modules():
            if isinstance(m, MultiHeadSelfAttention):
                m.fused = value

    @property
    def num_tokens(self) -> int:
        """Tokens per clip, T' H' W' (without the class token)."""
        return math.prod(self.grid)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded tokens with position embeddings: (N, C, T, H, W) -> (N, T', S, dim)."""
        _check_video(x, "VideoTransformer", self.embed.in_channels)
        if tuple(x.shape[2:]) != self.input_size:
            raise ValueError(f"VideoTransformer(x): expected clips of (T, H, W) = {self.input_size} (input_size), "
                             f"got shape {tuple(x.shape)}")
        if self.input_mean is not None:
            x = x - self.input_mean
        if self.input_std is not None:
            x = x / self.input_std
        tokens = self.embed(x)
        if self.time_position is not None:
            tokens = tokens + self.time_position
        if self.space_position is not None:
            tokens = tokens + self.space_position
        return tokens

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled clip features (N, dim): the class token, or the mean of all tokens, after the final LayerNorm."""
        tokens = self.tokens(x)
        cls = self.cls_token.repeat(len(x), 1, 1) if self.cls_token is not None else None
        for block in self.blocks:
            tokens, cls = block(tokens, cls)
        pooled = cls[:, 0] if cls is not None else tokens.mean(dim=(1, 2))
        return self.norm(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, T, H, W) -> logits (N, num_classes)."""
        return self.head(self.features(x))

    def attention_weights(self, x: torch.Tensor, layers=None) -> list[dict[str, torch.Tensor]]:
        """Run ``x`` (N, C, T, H, W) and return the attention weights of each layer in ``layers`` (default: all).

        One dict per layer, weights averaged over nothing (heads kept), each row summing to 1:

        - joint: ``{"joint": (N, heads, L, L)}`` with L = T' S (+ 1 class token first);
        - divided: ``{"time": (N, S, heads, T', T'), "space": (N, T', heads, L, L)}`` with L = S (+ 1 class token);
        - space_only: ``{"space": (N, T', heads, L, L)}``.

        Token index ``t * S + s`` (joint) is token frame t, spatial position s (row-major over H', W').
        """
        if layers is None:
            layers = list(range(self.depth))
        if isinstance(layers, numbers.Integral) and not isinstance(layers, bool):
            layers = [layers]
        if not all(isinstance(i, numbers.Integral) and not isinstance(i, bool) and -self.depth <= i < self.depth
                   for i in layers):
            raise ValueError(f"attention_weights(layers={layers!r}): expected layer indices in [0, {self.depth})")
        layers = [int(i) % self.depth for i in layers]
        modules = [m for i in layers for m in (self.blocks[i].time_attn, self.blocks[i].attn) if m is not None]
        for m in modules:
            m.keep_weights, m.last_weights = True, None
        try:
            with torch.no_grad():
                self(x)
        finally:
            for m in modules:
                m.keep_weights = False
        N, (T, H, W) = len(x), self.grid
        out = []
        for i in layers:
            block = self.blocks[i]
            space = block.attn.last_weights
            block.attn.last_weights = None
            if self.attention == "joint":
                out.append({"joint": space})
                continue
            entry = {"space": space.reshape(N, T, *space.shape[1:])}
            if block.time_attn is not None:
                time = block.time_attn.last_weights
                block.time_attn.last_weights = None
                entry = {"time": time.reshape(N, H * W, *time.shape[1:]), **entry}
            out.append(entry)
        return out

    def extra_repr(self) -> str:
        return (f"attention={self.attention!r}, input_size={self.input_size}, token grid={self.grid}, "
                f"pooling={self.pooling!r}, temporal_position={self.time_position is not None}")


def attention_cost(frames: int, *, size: int = 64, tubelet=(1, 8, 8), dim: int = 64, depth: int = 4, heads: int = 4,
                   attention: str = "joint", batch: int = 1) -> dict:
    """FLOPs of one forward pass of a :class:`VideoTransformer` on a (batch, 3, frames, size, size) input.

    Built on the meta device (no memory, no weights) with attention by hand, so ``torch.utils.flop_counter`` sees
    every product. Returns ``{"tokens": T' S, "flops": total, "attention_flops": the q k^T and weights @ v products
    (aten.bmm), "other_flops": the rest (embedding, linear layers)}``.
    """
    from torch.utils.flop_counter import FlopCounterMode

    frames = _check_positive_int(frames, "attention_cost(frames)")
    size = _check_positive_int(size, "attention_cost(size)")
    batch = _check_positive_int(batch, "attention_cost(batch)")
    with torch.device("meta"):
        model = VideoTransformer(10, input_size=(frames, size, size), tubelet=tubelet, dim=dim, depth=depth,
                                 heads=heads, attention=attention, pooling="mean")
        model.fused_attention = False
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros(batch, 3, frames, size, size))
    by_op = {str(op): n for op, n in counter.get_flop_counts()["Global"].items()}
    total = int(counter.get_total_flops())
    attention_flops = int(by_op.get("aten.bmm", 0))
    return {"tokens": model.num_tokens, "flops": total, "attention_flops": attention_flops,
            "other_flops": total - attention_flops}


def attention_products(frames: int, tokens_per_frame: int, attention: str) -> int:
    """Number of query-key pairs one attention layer scores for T token frames of N tokens each (no class token).

    joint: (T N)^2; divided: T^2 N (time, at each of N positions) + N^2 T (space, in each of T frames);
    space_only: N^2 T. Each pair costs 2 d multiply-adds per head-dim (q . k and weight * v).
    """
    T = _check_positive_int(frames, "attention_products(frames)")
    N = _check_positive_int(tokens_per_frame, "attention_products(tokens_per_frame)")
    if attention not in ATTENTION_LAYOUTS:
        raise ValueError(f"attention_products(attention={attention!r}): expected one of {ATTENTION_LAYOUTS}")
    return {"joint": (T * N) ** 2, "divided": T * T * N + N * N * T, "space_only": N * N * T}[attention]
