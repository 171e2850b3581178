"""Making a trained video model small and fast (chapter 15): export, int8 quantization, pruning, distillation.

- :mod:`course.efficiency.export` — ONNX export with the clip spec inside, onnxruntime sessions, parity, int8 ONNX;
- :mod:`course.efficiency.quantize` — eager ``torch.ao.quantization`` int8 of a C3D, whole or layer by layer;
- :mod:`course.efficiency.prune` — unstructured magnitude pruning and structured channel pruning (thinner Conv3d);
- :mod:`course.efficiency.distill` — the distillation loss (temperature, T^2) for :func:`course.train.fit`;
- :mod:`course.efficiency.size` — parameters and bytes on disk.
"""
from __future__ import annotations

from .distill import DistillationLoss, distillation_loss, teacher_targets  # noqa: F401
from .export import OPSET, export_onnx, onnx_max_abs_diff, ort_session, quantize_onnx_int8, set_clip_spec  # noqa: F401
from .prune import filter_l1_norms, keep_channels, magnitude_prune, prune_channels, sparsity  # noqa: F401
from .quantize import BACKEND, quantizable_layers, quantize_eager  # noqa: F401
from .size import count_params, saved_bytes  # noqa: F401
