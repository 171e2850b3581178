"""Checks for chapter 11 (attention, fusion and adapters). References are the course's own modules."""
from __future__ import annotations

from .core import Case, CaseRunner, CheckResult, check_function, compare_float


def _clips(seed: int, shape):
    import torch

    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed))


def frame_differences(fn) -> CheckResult:
    """Check ``fn(x) -> d``: (N, C, T, H, W) -> (N, C, T-1, H, W), d[:, :, t] = x[:, :, t+1] - x[:, :, t]."""
    import torch

    from course.models import frame_differences as reference

    still = _clips(1, (1, 3, 1, 4, 4)).expand(-1, -1, 5, -1, -1).clone()
    cases = [
        Case((_clips(0, (2, 3, 6, 5, 5)),), name="a random batch (2, 3, 6, 5, 5)"),
        Case((still,), name="a still clip: every difference is 0",
             hint="subtract each frame from the next one: x[:, :, 1:] - x[:, :, :-1]"),
        Case((torch.arange(4.0).reshape(1, 1, 4, 1, 1),), name="frames 0, 1, 2, 3 -> differences 1, 1, 1",
             hint="later frame minus earlier frame, not the other way round"),
        Case((_clips(2, (1, 1, 2, 3, 3)),), name="two frames -> one difference"),
    ]
    return check_function(fn, cases, title="frame_differences", reference=reference, rtol=1e-6, atol=1e-7,
                          hint="the result has T-1 frames along dim 2")


def _reference_attention(q, k):
    import torch

    return torch.softmax(q.flatten(2).transpose(1, 2) @ k.flatten(2), dim=-1)


def attention_weights(fn) -> CheckResult:
    """Check ``fn(q, k) -> a``: queries and keys (N, C, T, H, W) -> softmax attention (N, L, L), L = T*H*W,
    a[n, i, j] = softmax_j(q_i . k_j)."""
    import torch

    q = _clips(3, (2, 4, 3, 2, 2)) - 0.5
    k = _clips(4, (2, 4, 3, 2, 2)) - 0.5
    same = torch.zeros(1, 2, 2, 2, 2)
    cases = [
        Case((q, k), name="random queries and keys (2, 4, 3, 2, 2) -> (2, 12, 12)",
             hint="flatten (T, H, W) into L positions: q.flatten(2) is (N, C, L); scores = q^T k is (N, L, L)"),
        Case((same, same), name="all-zero features: uniform attention 1/L",
             hint="softmax over the last dim (the keys j), so each row sums to 1"),
        Case((q[:1] * 5, k[:1] * 5), name="sharper scores (times 5)"),
        Case((q[:, :, :1], k[:, :, :1]), name="a single frame (T = 1)"),
    ]
    return check_function(fn, cases, title="attention_weights", reference=_reference_attention, rtol=1e-5, atol=1e-6,
                          hint="a = torch.softmax(q.flatten(2).transpose(1, 2) @ k.flatten(2), dim=-1)")


def _reference_fuse(maps):
    import torch

    return torch.cat([m.mean(dim=(2, 3, 4)) for m in maps], dim=1)


def fuse_levels(fn) -> CheckResult:
    """Check ``fn(maps) -> f``: a list of feature maps (N, C_i, T_i, H_i, W_i) -> (N, sum C_i), each map averaged over
    (T, H, W) and the results concatenated in order."""
    a, b, c = _clips(5, (2, 4, 8, 8, 8)), _clips(6, (2, 8, 4, 4, 4)), _clips(7, (2, 16, 2, 2, 2))
    cases = [
        Case(([a, b, c],), name="three stages (4, 8 and 16 channels) -> (2, 28)",
             hint="average each map over dims (2, 3, 4), then torch.cat(..., dim=1)"),
        Case(([c],), name="one stage: plain global average pooling"),
        Case(([c, a],), name="order matters: the features follow the order of the list"),
    ]
    return check_function(fn, cases, title="fuse_levels", reference=_reference_fuse, rtol=1e-5, atol=1e-6)


def adapter_module(build, *, channels: int = 16, reduction: int = 4) -> CheckResult:
    """Check ``build(channels, reduction) -> nn.Module``: (N, C, T, H, W) -> same shape, exactly the identity when
    built, a bottleneck of C // reduction channels, and it learns (one SGD step changes its output)."""
    import torch


    state: dict = {}
    x = _clips(8, (2, channels, 3, 4, 4)) - 0.5

    def builds():
        torch.manual_seed(0)
        module = build(channels, reduction)
        if not isinstance(module, torch.nn.Module):
            return f"expected an nn.Module, got {type(module).__name__}"
        state["module"] = module
        return None

    def identity():
        if "module" not in state:
            return "no module to test (see the first case)"
        with torch.no_grad():
            out = state["module"](x)
        if tuple(out.shape) != tuple(x.shape):
            return f"expected the input's shape {tuple(x.shape)}, got {tuple(out.shape)}"
        return None if torch.equal(out, x) else (
            f"the output differs from the input (largest change {float((out - x).abs().max()):.3g}); a freshly "
            "inserted adapter must change nothing")

    def bottleneck():
        if "module" not in state:
            return "no module to test (see the first case)"
        convs = [m for m in state["module"].modules() if isinstance(m, torch.nn.Conv3d)]
        if not any(m.out_channels == channels // reduction for m in convs):
            return f"expected a convolution down to {channels} // {reduction} = {channels // reduction} channels"
        return None

    def learns():
        if "module" not in state:
            return "no module to test (see the first case)"
        module = state["module"]
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            return "the module has no trainable parameters"
        downs = [m for m in module.modules() if isinstance(m, torch.nn.Conv3d)
                 and m.out_channels == channels // reduction]
        before = [m.weight.detach().clone() for m in downs]
        optimizer = torch.optim.SGD(params, lr=0.5)
        for _ in range(2):                      # two steps: the first one only moves the zero-initialised layer
            optimizer.zero_grad()
            (module(x) - 1.0).square().mean().backward()
            optimizer.step()
        with torch.no_grad():
            if torch.equal(module(x), x):
                return "two SGD steps left the output unchanged"
        if downs and all(torch.equal(m.weight, b) for m, b in zip(downs, before)):
            return ("two SGD steps did not change the down-projection: if *both* projections start at zero, no "
                    "gradient reaches their weights (only the biases learn) — zero only the up-projection")
        return None

    run = CaseRunner()
    cases = [
        run(f"build({channels}, {reduction}) returns an nn.Module", builds),
        run("exactly the identity when built (output == input, bit for bit)", identity,
            hint="return x + up(relu(down(x))) and set up.weight and up.bias to zero (nn.init.zeros_)"),
        run("a bottleneck: a 1x1x1 convolution down to channels // reduction", bottleneck,
            hint="nn.Conv3d(channels, channels // reduction, 1)"),
        run("learns: two SGD steps change its output and its down-projection", learns),
    ]
    return CheckResult("adapter module", cases).report()


def _reference_share(model):
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / total


def trainable_share(fn) -> CheckResult:
    """Check ``fn(model) -> float``: the fraction of the model's parameters (counted in numbers, not tensors) that
    have ``requires_grad``, as a Python float (a tensor or a NumPy number is refused, with how to convert it)."""
    from torch import nn

    def model(frozen: tuple[int, ...]):
        m = nn.Sequential(nn.Conv3d(3, 8, 3), nn.BatchNorm3d(8), nn.Conv3d(8, 4, 1), nn.Linear(4, 5))
        for i in frozen:
            for p in m[i].parameters():
                p.requires_grad_(False)
        return m

    cases = [
        Case((model(()),), name="nothing frozen -> 1.0"),
        Case((model((0, 1, 2)),), name="only the linear head trainable",
             hint="count numbers with p.numel(), not tensors: a weight matrix is one tensor but many parameters"),
        Case((model((3,)),), name="everything but the head trainable"),
        Case((model((0, 1, 2, 3)),), name="everything frozen -> 0.0"),
    ]
    return check_function(fn, cases, title="trainable_share", reference=_reference_share, compare_fn=compare_float,
                          hint="a ratio of two int counts: sum(p.numel() for trainable p) / sum(p.numel() for all p)")
