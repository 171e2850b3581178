"""Making a trained video model small and fast (chapter 15): export, int8 quantization, pruning, distillation.

- :mod:`course.efficiency.export` — ONNX export with the clip spec inside, onnxruntime sessions, parity, int8 ONNX;
"""
from __future__ import annotations

from .export import OPSET, export_onnx, onnx_max_abs_diff, ort_session, quantize_onnx_int8, set_clip_spec  # noqa: F401
