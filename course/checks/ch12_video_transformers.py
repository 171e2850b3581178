"""Checks for chapter 12 (video transformers). References are PyTorch's own attention, nn.MultiheadAttention with
the same weights copied in, and the course's TubeletEmbedding / VideoTransformer."""
from __future__ import annotations

from .core import Case, CaseRunner, CheckResult, check_function


# ---------------------------------------------------------------------------------------------------------------------
# Exercise 1: scaled dot-product attention
# ---------------------------------------------------------------------------------------------------------------------

def _torch_attention(q, k, v):
    import torch.nn.functional as F

    return F.scaled_dot_product_attention(q, k, v)


def attention(fn) -> CheckResult:
    """Check ``fn(q, k, v) -> softmax(q k^T / sqrt(d)) v`` for q (..., L, d), k (..., S, d), v (..., S, dv) against
    ``torch.nn.functional.scaled_dot_product_attention``."""
    import torch

    g = torch.Generator().manual_seed(12)
    r = lambda *shape: torch.randn(*shape, generator=g)   # noqa: E731
    cases = [
        Case((r(3, 4), r(3, 4), r(3, 4)), name="one sequence: L = S = 3, d = 4"),
        Case((r(5, 8), r(7, 8), r(7, 2)), name="5 queries, 7 keys, values of width 2",
             hint="q @ k.transpose(-2, -1) is (L, S): one row of scores per query, softmax over the last dim"),
        Case((r(2, 3, 6, 16), r(2, 3, 6, 16), r(2, 3, 6, 16)), name="batch of 2, 3 heads",
             hint="use k.transpose(-2, -1) (not k.T) so leading batch/head dims stay in place"),
        Case((10 * r(4, 64), 10 * r(4, 64), r(4, 3)), name="large scores (d = 64): the 1/sqrt(d) scale matters",
             hint="divide the scores by sqrt(d) = sqrt(q.shape[-1]) before the softmax"),
    ]
    return check_function(fn, cases, title="attention", reference=_torch_attention, rtol=1e-4, atol=1e-5,
                          hint="weights = torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1); "
                               "return weights @ v")


# ---------------------------------------------------------------------------------------------------------------------
# Exercise 2: multi-head self-attention with nn.MultiheadAttention's weights
# ---------------------------------------------------------------------------------------------------------------------

def _mha_case(dim, heads, batch, length, seed):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    mha = nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    x = torch.randn(batch, length, dim)
    args = (x, mha.in_proj_weight.detach().clone(), mha.in_proj_bias.detach().clone(),
            mha.out_proj.weight.detach().clone(), mha.out_proj.bias.detach().clone(), heads)
    with torch.no_grad():
        expected = mha(x, x, x, need_weights=False)[0]
    return args, expected


def multi_head_attention(fn) -> CheckResult:
    """Check ``fn(x, in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias, heads) -> (B, L, D)`` against
    ``nn.MultiheadAttention(D, heads, batch_first=True)(x, x, x)`` with those weights."""
    specs = [(8, 1, 1, 5, 0, "one head: plain attention between projections"),
             (8, 2, 2, 5, 1, "two heads, batch of 2"),
             (12, 4, 3, 7, 2, "four heads of width 3"),
             (6, 3, 1, 1, 3, "a single token (attends only to itself)")]
    cases = []
    for dim, heads, batch, length, seed, name in specs:
        args, expected = _mha_case(dim, heads, batch, length, seed)
        cases.append(Case(args, name=f"{name} (D={dim}, heads={heads})", expected=expected,
                          hint="split q, k, v = (x @ W_in.T + b_in).chunk(3, dim=-1); reshape each to "
                               "(B, L, heads, D // heads) and move heads before L"))
    return check_function(fn, cases, title="multi_head_attention", rtol=1e-4, atol=1e-5,
                          hint="after attention, move heads back: (B, heads, L, d) -> (B, L, D), then apply out_proj")


# ---------------------------------------------------------------------------------------------------------------------
# Exercise 3: tubelets as flat vectors
# ---------------------------------------------------------------------------------------------------------------------

def _reference_tubelets(clips, tubelet):
    t, h, w = tubelet
    N, C, T, H, W = clips.shape
    x = clips.reshape(N, C, T // t, t, H // h, h, W // w, w)
    return x.permute(0, 2, 4, 6, 1, 3, 5, 7).reshape(N, (T // t) * (H // h) * (W // w), C * t * h * w)


def tubelet_vectors(fn) -> CheckResult:
    """Check ``fn(clips, tubelet) -> (N, T' H' W', C t h w)``: each row a flattened tubelet, tokens in (t', y', x')
    order, each vector in (c, t, h, w) order — so ``vectors @ conv.weight.reshape(D, -1).T + conv.bias`` equals
    ``TubeletEmbedding``'s strided Conv3d."""
    import torch

    from ..models.transformer import TubeletEmbedding

    g = torch.Generator().manual_seed(3)
    cases = [
        Case((torch.arange(16.0).reshape(1, 1, 2, 2, 4), (1, 2, 2)), name="1 channel, 2 frames of 2 x 4, tubelet 1x2x2"),
        Case((torch.rand(2, 3, 4, 8, 8, generator=g), (2, 4, 4)), name="RGB clips, tubelet 2x4x4",
             hint="reshape to (N, C, T', t, H', h, W', w), then permute to (N, T', H', W', C, t, h, w)"),
        Case((torch.rand(1, 2, 6, 4, 12, generator=g), (3, 2, 4)), name="non-square tubelet 3x2x4"),
    ]
    result = check_function(fn, cases, title="tubelet_vectors", reference=_reference_tubelets, rtol=1e-6, atol=1e-7,
                            report=False)

    def same_as_conv():
        torch.manual_seed(0)
        embed = TubeletEmbedding(3, 5, tubelet=(2, 4, 4))
        clips = torch.rand(2, 3, 4, 8, 8, generator=g)
        vectors = fn(clips, (2, 4, 4))
        tokens = vectors @ embed.proj.weight.reshape(5, -1).T + embed.proj.bias
        expected = embed(clips).reshape(2, -1, 5).detach()
        if tuple(tokens.shape) != tuple(expected.shape):
            return f"expected tokens of shape {tuple(expected.shape)}, got {tuple(tokens.shape)}"
        return None if torch.allclose(tokens, expected, atol=1e-5) else "does not match TubeletEmbedding's Conv3d"

    run = CaseRunner(after=result)   # skipped if a case above ran out of time
    result.cases.append(run("a linear map of your vectors = TubeletEmbedding (a strided Conv3d)", same_as_conv,
                            hint="flatten each tubelet in (c, t, h, w) order, like conv.weight[d]"))
    return result.report()


# ---------------------------------------------------------------------------------------------------------------------
# Exercise 4: the permutation lesson
# ---------------------------------------------------------------------------------------------------------------------

def permutation_lesson(order_blind_kwargs, order_aware_kwargs) -> CheckResult:
    """Check two functions returning ``VideoTransformer`` keyword arguments (besides num_classes and input_size):
    the first must give a model whose logits are identical for a clip and its time reversal (attention="joint",
    pooling="mean"), the second must differ from the first in one argument and see the order."""
    import torch

    from ..models.transformer import VideoTransformer

    state: dict = {}
    g = torch.Generator().manual_seed(4)
    clips = torch.rand(3, 3, 4, 16, 16, generator=g)

    def build(fn, key):
        kwargs = fn()
        if not isinstance(kwargs, dict):
            return f"expected a dict of VideoTransformer arguments, got {type(kwargs).__name__}"
        torch.manual_seed(0)
        model = VideoTransformer(5, input_size=(4, 16, 16), dim=16, depth=2, heads=2,
                                 **{k: v for k, v in kwargs.items() if k not in ("dim", "depth", "heads")}).eval()
        with torch.no_grad():   # weights far from the tiny init, so a real dependence on order shows clearly
            for p in model.parameters():
                p.normal_(0, 0.5)
        state[key] = (kwargs, model)
        return None

    def relative_change(model):
        with torch.no_grad():
            logits = model(clips)
            return ((model(clips.flip(2)) - logits).abs().max() / logits.abs().max()).item()

    def blind_is_joint_mean():
        kwargs = state["blind"][0] if "blind" in state else None
        if kwargs is None:
            return "no model (see the first case)"
        if kwargs.get("attention", "divided") != "joint" or kwargs.get("pooling", "cls") != "mean":
            return "use attention='joint' and pooling='mean' (the lesson's setting)"
        return None

    def blind():
        if "blind" not in state:
            return "no model (see the first case)"
        change = relative_change(state["blind"][1])
        return None if change < 1e-5 else (f"reversing the clip changes the logits by {change:.2g} (relative): this "
                                           "model sees frame order")

    def aware():
        if "blind" not in state or "aware" not in state:
            return "need both models"
        a, b = state["blind"][0], state["aware"][0]
        changed = [k for k in set(a) | set(b) if a.get(k, "<default>") != b.get(k, "<default>")]
        if len(changed) != 1:
            return f"change exactly one argument of the order-blind model; you changed {sorted(changed) or 'none'}"
        change = relative_change(state["aware"][1])
        return None if change > 1e-3 else "reversing the clip still gives the same logits: still order-blind"

    run = CaseRunner()
    cases = [
        run("order_blind_kwargs() builds a VideoTransformer", lambda: build(order_blind_kwargs, "blind"),
            hint="return a dict such as {'tubelet': ..., 'temporal_position': ..., 'attention': ..., ...}"),
        run("order-blind: joint attention with mean pooling", blind_is_joint_mean),
        run("order-blind: same logits for a clip and its time reversal", blind,
            hint="tokens must not know their frame: tubelets of one frame (t = 1) and no temporal position"),
        run("order_aware_kwargs() builds a VideoTransformer", lambda: build(order_aware_kwargs, "aware")),
        run("order-aware: one change, and the reversal changes the logits", aware,
            hint="give each token frame its own learned embedding (temporal_position=True)"),
    ]
    return CheckResult("permutation lesson", cases).report()
