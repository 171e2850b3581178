"""Export to ONNX and run without PyTorch (chapter 15).

- :func:`export_onnx`: ``torch.onnx.export`` (the ``torch.export``-based exporter, the default since PyTorch 2.9)
  with a dynamic batch axis, one self-contained file, and the model's :class:`~course.deploy.ClipSpec` stored in the
  file's metadata so that ``python -m course predict`` knows how to make its clips;
- :func:`ort_session`: an onnxruntime session on a fixed number of threads;
- :func:`onnx_max_abs_diff`: the parity check — max |onnxruntime - PyTorch| on the same clips;
- :func:`quantize_onnx_int8`: onnxruntime's static int8 quantization (QDQ format), calibrated on training clips.
"""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..deploy.clip_spec import ClipSpec
from ..deploy.predict import SPEC_KEY

__all__ = ["export_onnx", "ort_session", "onnx_max_abs_diff", "quantize_onnx_int8", "set_clip_spec", "OPSET"]

#: The ONNX opset the course exports to (onnxruntime 1.2x runs it; the exporter's default in PyTorch 2.9+).
OPSET = 18


def _check_model_spec(model, spec, fn: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{fn}(model): expected a torch.nn.Module, got {type(model).__name__}")
    if spec is not None and not isinstance(spec, ClipSpec):
        raise TypeError(f"{fn}(spec): expected a course.deploy.ClipSpec, got {type(spec).__name__}")


def set_clip_spec(path, spec: ClipSpec) -> Path:
    """Write ``spec`` into the metadata of the ONNX file at ``path`` (replacing an older one); returns the path."""
    import onnx

    path = Path(path)
    proto = onnx.load(str(path))
    kept = [p for p in proto.metadata_props if p.key != SPEC_KEY]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    proto.metadata_props.add(key=SPEC_KEY, value=spec.to_json())
    onnx.save(proto, str(path))
    return path


def export_onnx(model: nn.Module, spec: ClipSpec | None, path, *, example: torch.Tensor | None = None,
                opset: int = OPSET) -> Path:
    """Export ``model`` (clips (N, 3, T, h, w) -> logits (N, classes)) to one ONNX file at ``path``.

    The batch axis is dynamic (any N from 1); T, h, w are fixed by ``spec.input_shape`` (or by ``example``, a clip
    batch, when ``spec`` is None). The model is exported in eval mode, on the CPU, and its :class:`ClipSpec` is stored
    in the file's metadata. Returns the path. Prints nothing; the exporter's progress lines are swallowed.
    """
    _check_model_spec(model, spec, "export_onnx")
    if example is None:
        if spec is None:
            raise ValueError("export_onnx(example): give an example clip batch (N, C, T, H, W) when spec is None")
        example = torch.zeros(2, *spec.input_shape)
    if not isinstance(example, torch.Tensor) or example.ndim != 5:
        raise ValueError(f"export_onnx(example): expected a clip batch (N, C, T, H, W), got "
                         f"{getattr(example, 'shape', type(example).__name__)}")
    if spec is not None and tuple(example.shape[1:]) != spec.input_shape:
        raise ValueError(f"export_onnx(example): clips of {tuple(example.shape[1:])} do not match the spec's "
                         f"input_shape {spec.input_shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model = model.eval().cpu()
    batch = torch.export.Dim("batch", min=1, max=1024)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example.float().cpu(),), str(path), input_names=["clips"],
                              output_names=["logits"], dynamic_shapes=({0: batch},), dynamo=True,
                              external_data=False, opset_version=opset)
    finally:
        model.train(was_training)
    if spec is not None:
        set_clip_spec(path, spec)
    return path


def ort_session(path, *, threads: int = 1):
    """An onnxruntime CPU session for the model at ``path`` with ``threads`` intra-op threads (one inter-op)."""
    import onnxruntime as ort

    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"ort_session(threads): expected a positive int, got {threads!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def onnx_max_abs_diff(model: nn.Module, session, clips: torch.Tensor) -> float:
    """max |onnxruntime(clips) - model(clips)| over all logits: the export's parity, ~1e-6 in float32.

    ``session``: from :func:`ort_session`; ``clips``: float (N, C, T, H, W); the model runs in eval mode.
    """
    _check_model_spec(model, None, "onnx_max_abs_diff")
    if not isinstance(clips, torch.Tensor) or clips.ndim != 5:
        raise ValueError(f"onnx_max_abs_diff(clips): expected (N, C, T, H, W), got "
                         f"{getattr(clips, 'shape', type(clips).__name__)}")
    with torch.inference_mode():
        reference = model.eval()(clips.float()).numpy()
    out = session.run(None, {session.get_inputs()[0].name: clips.float().numpy()})[0]
    return float(np.abs(out - reference).max())


def quantize_onnx_int8(path, out_path, calibration: np.ndarray | torch.Tensor, *, per_channel: bool = True) -> Path:
    """Static int8 quantization of the float ONNX model at ``path`` with onnxruntime (QDQ format, int8 weights and
    activations), calibrated on ``calibration`` clips (N, C, T, H, W) — training clips, never test clips. The clip
    spec in the metadata is carried over. Returns ``out_path``."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calibration = calibration.numpy() if isinstance(calibration, torch.Tensor) else np.asarray(calibration)
    if calibration.ndim != 5 or calibration.shape[0] < 1:
        raise ValueError(f"quantize_onnx_int8(calibration): expected clips (N, C, T, H, W), got {calibration.shape}")
    path, out_path = Path(path), Path(out_path)
    session = ort_session(path)
    name = session.get_inputs()[0].name
    text = session.get_modelmeta().custom_metadata_map.get(SPEC_KEY)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.batches = iter(np.array_split(calibration.astype(np.float32), max(1, len(calibration) // 8)))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {name: batch}

    prepared = out_path.with_suffix(".prep.onnx")
    try:
        quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
        quantize_static(str(prepared), str(out_path), Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, per_channel=per_channel)
    finally:
        prepared.unlink(missing_ok=True)
    if text is not None:
        set_clip_spec(out_path, ClipSpec.from_json(text))
    return out_path
