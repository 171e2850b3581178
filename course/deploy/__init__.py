"""Deployment without PyTorch (chapter 15): how a clip is made, ONNX inference from the command line, a drift monitor.

Nothing in this subpackage imports torch: ``python -m course predict`` runs where only NumPy, PyAV and onnxruntime
are installed.

- :class:`ClipSpec` — how a model's input clips are made (frames, step, sampling, size, crop, normalisation, classes);
- :func:`load_model`, :func:`predict_video` — onnxruntime inference on video files (``python -m course predict``);
- :class:`DriftMonitor` — input statistics and prediction confidence over a sliding window, with an alarm threshold.
"""
from __future__ import annotations

from .clip_spec import SAMPLINGS, ClipSpec  # noqa: F401
from .monitor import STATISTICS, DriftMonitor, clip_statistics, confidence_statistics  # noqa: F401
from .predict import DEFAULT_MODEL, DeployedModel, PredictError, decode_frames, load_model, predict_video, softmax  # noqa: F401,E501
