"""Post-training int8 quantization of a 3D CNN with eager ``torch.ao.quantization`` (chapter 15).

Int8 stores each weight in one byte instead of four: ``w ≈ scale * (q - zero_point)`` with ``q`` in [-128, 127], one
scale per output channel. Static quantization also runs the activations in int8, with scales chosen from the value
ranges seen on *calibration* clips (training clips — never the test clips).

Which library does ``Conv3d``? In the course's pinned stack (torch 2.14, torchao 0.18), ``torchao.quantization
.quantize_`` only converts ``nn.Linear`` layers, and forcing it onto a ``Conv3d`` fails (no int8 ``aten.convolution``
kernel for its tensor type); eager ``torch.ao.quantization`` with the x86 (fbgemm) backend has a real int8
``Conv3d`` (``QuantizedConvReLU3d``) but warns that it is deprecated; onnxruntime's static quantization of the exported
model (:func:`course.efficiency.quantize_onnx_int8`) is the maintained path to deploy. This module wraps the eager
one, the warnings silenced, so the chapter can compare.

Works for models with ``features`` (conv stages ``conv`` + ``bn`` + ``relu``, pools) and ``classifier`` (``fc``
stages ``Linear`` + ``ReLU`` + ``Dropout`` and a last ``Linear``), i.e. :class:`course.models.C3D` and
:func:`course.models.c3d_small`.
"""
from __future__ import annotations

import copy
import warnings
from typing import Sequence

import torch
from torch import nn

__all__ = ["quantize_eager", "quantizable_layers", "BACKEND"]

#: The quantized engine for x86 CPUs (fbgemm kernels, with AVX2/AVX-512 VNNI where the CPU has them).
BACKEND = "x86"


def _check_model(model, fn: str) -> None:
    if not isinstance(model, nn.Module) or not isinstance(getattr(model, "features", None), nn.Sequential) \
            or not isinstance(getattr(model, "classifier", None), nn.Sequential):
        raise TypeError(f"{fn}(model): expected a C3D-style model with .features and .classifier (nn.Sequential), "
                        f"got {type(model).__name__}")


def quantizable_layers(model: nn.Module) -> list[str]:
    """Names of the stages :func:`quantize_eager` can quantize on their own: conv stages of ``features`` and the
    ``classifier``'s children (``["conv1", ..., "conv5b", "fc6", "fc7", "fc8"]`` for C3D)."""
    _check_model(model, "quantizable_layers")
    convs = [n for n, m in model.features.named_children() if isinstance(getattr(m, "conv", None), nn.Conv3d)]
    return convs + [n for n, _ in model.classifier.named_children()]


def _fuse(model: nn.Module) -> None:
    from torch.ao.quantization import fuse_modules

    for stage in model.features.children():
        if isinstance(getattr(stage, "conv", None), nn.Conv3d):
            names = [n for n in ("conv", "bn", "relu") if hasattr(stage, n)]
            fuse_modules(stage, [names], inplace=True)
    for stage in model.classifier.children():
        if isinstance(stage, nn.Sequential) and isinstance(stage[0], nn.Linear) and isinstance(stage[1], nn.ReLU):
            fuse_modules(stage, [["0", "1"]], inplace=True)


def quantize_eager(model: nn.Module, calibration: torch.Tensor, *, layers: Sequence[str] | None = None,
                   backend: str = BACKEND, batch_size: int = 32) -> nn.Module:
    """An int8 copy of ``model`` (the original is untouched), calibrated on ``calibration`` clips (N, C, T, H, W).

    Conv + BatchNorm + ReLU are fused into one int8 layer first (BatchNorm folds into the convolution's weights).
    ``layers=None`` quantizes the whole network, input to logits; ``layers=["conv3a"]`` quantizes only those stages
    (each between a quantize and a dequantize step), the rest stays float — the per-layer sensitivity experiment.
    Returns an ``nn.Sequential`` in eval mode: clips (N, C, T, H, W) float -> logits (N, classes) float, CPU only.
    """
    from torch.ao.quantization import DeQuantStub, QuantStub, convert, get_default_qconfig, prepare

    _check_model(model, "quantize_eager")
    if not isinstance(calibration, torch.Tensor) or calibration.ndim != 5 or len(calibration) == 0:
        raise ValueError(f"quantize_eager(calibration): expected clips (N, C, T, H, W) with N >= 1, got "
                         f"{getattr(calibration, 'shape', type(calibration).__name__)}")
    known = quantizable_layers(model)
    if layers is not None and (isinstance(layers, str) or any(name not in known for name in layers) or not layers):
        raise ValueError(f"quantize_eager(layers): expected a non-empty list of names from {known}, got {layers!r}")
    if backend not in torch.backends.quantized.supported_engines:
        raise ValueError(f"quantize_eager(backend): {backend!r} is not supported here; this torch has "
                         f"{torch.backends.quantized.supported_engines}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices (see the module docstring)
        net = copy.deepcopy(model).cpu().eval()
        _fuse(net)
        qconfig = get_default_qconfig(backend)
        if layers is None:
            out = nn.Sequential(QuantStub(), net.features, nn.Flatten(1), net.classifier, DeQuantStub())
            out.qconfig = qconfig
        else:
            for name in layers:
                parent = net.features if hasattr(net.features, name) else net.classifier
                wrapped = nn.Sequential(QuantStub(), getattr(parent, name), DeQuantStub())
                wrapped.qconfig = qconfig
                setattr(parent, name, wrapped)
            out = nn.Sequential(net.features, nn.Flatten(1), net.classifier)
        torch.backends.quantized.engine = backend
        prepare(out, inplace=True)
        with torch.inference_mode():
            for batch in calibration.float().cpu().split(batch_size):
                out(batch)
        convert(out, inplace=True)
    return out.eval()
