"""Why float16 training needs loss scaling, measured on real gradients (chapter 16).

float16 has 5 exponent bits: its smallest positive (subnormal) value is about 6e-8 and anything smaller rounds to
zero. Gradients of a deep network are often that small, so a float16 backward pass silently loses them. bfloat16
keeps float32's 8 exponent bits (smallest normal value about 1e-38) and loses precision instead of range, so it
needs no scaling. :func:`underflow_fraction` measures, for gradients computed in float32, how many would become zero
in a 16-bit type — with and without multiplying them by a loss scale first, which is what
``torch.amp.GradScaler`` does (and then divides the gradients back, in float32, before the optimizer step).
"""
from __future__ import annotations

import numbers


def _tensors(fn: str, tensors) -> list:
    import torch

    if torch.is_tensor(tensors):
        tensors = [tensors]
    elif isinstance(tensors, dict):
        tensors = list(tensors.values())
    else:
        tensors = list(tensors)
    if not tensors or not all(torch.is_tensor(t) and t.is_floating_point() for t in tensors):
        raise TypeError(f"{fn}(tensors): expected a float tensor, or a list/dict of float tensors")
    return tensors


def underflow_fraction(tensors, dtype=None, *, scale: float = 1.0) -> float:
    """The fraction of the nonzero values of ``tensors`` (any shapes) that become exactly zero when multiplied by
    ``scale`` and cast to ``dtype`` (default ``torch.float16``). 0.0 means nothing is lost."""
    import math

    import torch

    fn = "underflow_fraction"
    tensors = _tensors(fn, tensors)
    dtype = torch.float16 if dtype is None else dtype
    if dtype not in (torch.float16, torch.bfloat16, torch.float32):
        raise ValueError(f"{fn}(dtype={dtype!r}): expected torch.float16, torch.bfloat16 or torch.float32")
    if not isinstance(scale, numbers.Real) or isinstance(scale, bool) or not math.isfinite(scale) or scale <= 0:
        raise ValueError(f"{fn}(scale={scale!r}): expected a positive finite number")
    nonzero = lost = 0
    for t in tensors:
        values = t.detach().double().flatten()
        mask = values != 0
        nonzero += int(mask.sum())
        lost += int(((values[mask] * scale).to(dtype) == 0).sum())
    if nonzero == 0:
        raise ValueError(f"{fn}(tensors): every value is zero; there is nothing that could underflow")
    return lost / nonzero


def gradient_magnitudes(model) -> list:
    """The absolute values of every nonzero gradient of ``model`` (after a ``backward()``), as one float64 tensor
    per parameter — for a histogram of how small gradients get."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"gradient_magnitudes(model): expected a torch.nn.Module, got {type(model).__name__}")
    grads = [p.grad.detach().double().abs().flatten() for p in model.parameters() if p.grad is not None]
    if not grads:
        raise ValueError("gradient_magnitudes(model): no gradients; call loss.backward() first")
    return [g[g > 0] for g in grads]
