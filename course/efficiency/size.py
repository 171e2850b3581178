"""How big is a model: parameters and bytes on disk of its saved weights (chapter 15)."""
from __future__ import annotations

import io
import os

import torch
from torch import nn

__all__ = ["saved_bytes", "count_params"]


def count_params(model: nn.Module) -> int:
    """Number of parameters (a quantized model's packed weights count too: its int8 weights and biases)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"count_params(model): expected an nn.Module, got {type(model).__name__}")
    total = sum(p.numel() for p in model.parameters())
    for module in model.modules():  # quantized layers keep their weights outside .parameters()
        weight = getattr(module, "weight", None)
        if callable(weight) and "quantized" in type(module).__module__:
            total += weight().numel()
            bias = module.bias() if callable(getattr(module, "bias", None)) else None
            total += 0 if bias is None else bias.numel()
    return int(total)


def saved_bytes(model, *, dtype: torch.dtype | None = None) -> int:
    """Bytes of ``torch.save(model.state_dict())`` — what the weights take on disk; ``dtype=torch.float16`` first
    casts the floating-point tensors (the float16 copy of a float32 model). A path (str or Path) gives that file's
    size (e.g. an ONNX file)."""
    if isinstance(model, (str, os.PathLike)):
        return os.path.getsize(model)
    if not isinstance(model, nn.Module):
        raise TypeError(f"saved_bytes(model): expected an nn.Module or a file path, got {type(model).__name__}")
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(f"saved_bytes(dtype): expected a floating-point torch.dtype or None, got {dtype!r}")
    state = model.state_dict()
    if dtype is not None:
        state = {k: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v for k, v in state.items()}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.tell()
