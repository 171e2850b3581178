"""``python -m course predict VIDEO [VIDEO ...] [--model MODEL.onnx]``: classify videos with onnxruntime, no PyTorch.

The pipeline a deployed video classifier runs: decode with PyAV (resized to the spec's ``decode_size`` while
decoding, as training did), make the clips the :class:`~course.deploy.clip_spec.ClipSpec` stored in the model file
describes, run them through onnxruntime, average the clips' softmax probabilities, and report the top classes.

Each video is handled on its own: a missing file, a file that is not a video or a video with no frame gives a
one-line error naming the file, and the next video is still classified; the exit code is 1 when any video failed.
This module imports NumPy, PyAV and onnxruntime only.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .clip_spec import ClipSpec

__all__ = ["PredictError", "DeployedModel", "load_model", "decode_frames", "predict_video", "softmax",
           "DEFAULT_MODEL", "SPEC_KEY", "main"]

#: Metadata key of the ONNX file that holds the model's :class:`ClipSpec` as JSON.
SPEC_KEY = "course.clip_spec"
#: The model ``predict`` uses when ``--model`` is not given: chapter 14's KTH walking-vs-running classifier.
DEFAULT_MODEL = Path(__file__).resolve().parent.parent / "models" / "pretrained" / "kth_walking_running.onnx"


class PredictError(RuntimeError):
    """A video or a model file that cannot be used; the message names the file."""


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of float logits (N, K) -> probabilities (N, K), computed stably."""
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2:
        raise ValueError(f"softmax(logits): expected (N, K), got shape {logits.shape}")
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


@dataclass
class DeployedModel:
    """An onnxruntime session and the :class:`ClipSpec` of its inputs. ``path``: the model file."""

    session: object
    spec: ClipSpec
    path: Path

    def probabilities(self, clips: np.ndarray) -> np.ndarray:
        """float32 clips (K, 3, T, h, w) -> class probabilities (K, num_classes)."""
        name = self.session.get_inputs()[0].name
        logits = self.session.run(None, {name: np.ascontiguousarray(clips, dtype=np.float32)})[0]
        return softmax(logits)


def _checked_default(path: Path) -> None:
    """The shipped model must match the SHA-256 in the checkpoint manifest (a truncated or edited file is an error)."""
    manifest = path.parent / "manifest.json"
    entries = json.loads(manifest.read_text(encoding="utf-8")) if manifest.is_file() else {}
    entry = next((e for e in entries.values() if e.get("file") == path.name), None)
    if entry is None:
        return
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        raise PredictError(f"{path}: SHA-256 is {digest}, the manifest expects {entry['sha256']}; the file is corrupt "
                           "or was modified — reinstall the course package")


def load_model(path=None, *, threads: int = 0) -> DeployedModel:
    """Open an ONNX video classifier exported by :func:`course.efficiency.export_onnx` (its clip spec is in the
    file's metadata). ``path=None``: the shipped KTH model (its SHA-256 checked against the manifest). ``threads``:
    onnxruntime's intra-op threads (0: its own choice).

    Raises :class:`PredictError` naming the file when it is missing, not an ONNX model, has no clip spec, or its
    input does not match the spec.
    """
    import onnxruntime as ort

    path = Path(DEFAULT_MODEL if path is None else path)
    if not path.is_file():
        hint = " (the shipped model is missing: reinstall the course package)" if path == DEFAULT_MODEL else ""
        raise PredictError(f"{path}: model file not found{hint}")
    if path == DEFAULT_MODEL:
        _checked_default(path)
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ValueError(f"load_model(threads): expected an int >= 0, got {threads!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # noqa: BLE001 — onnxruntime raises several types for a file that is not a model
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PredictError(f"{path}: not an ONNX model onnxruntime can load ({first[:160]})") from None
    text = session.get_modelmeta().custom_metadata_map.get(SPEC_KEY)
    if text is None:
        raise PredictError(f"{path}: the ONNX file has no '{SPEC_KEY}' metadata (how its clips are made); "
                           "export it with course.efficiency.export_onnx(model, spec, path)")
    try:
        spec = ClipSpec.from_json(text)
    except (TypeError, ValueError) as err:
        raise PredictError(f"{path}: invalid clip spec in its metadata ({err})") from None
    shape = session.get_inputs()[0].shape
    if len(shape) != 5 or [int(s) if isinstance(s, int) else None for s in shape[1:]] != list(spec.input_shape):
        raise PredictError(f"{path}: the model's input {shape} does not match its clip spec (N, *{spec.input_shape})")
    return DeployedModel(session, spec, path)


def decode_frames(path, size: tuple[int, int] | None = None) -> np.ndarray:
    """Decode every frame of a video with PyAV -> uint8 (T, H, W, 3) RGB, resized to ``size`` = (H, W) if given.

    Raises :class:`PredictError` naming the file when it is missing, not a video, or has no decodable frame.
    """
    import av

    path = Path(path)
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    kwargs = {"format": "rgb24", "threads": 1}  # as course.data.video_io: no scaler thread pool to break a fork
    if size is not None:
        kwargs.update(height=int(size[0]), width=int(size[1]))
    frames = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise PredictError(f"{path}: has no video stream")
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(**kwargs))
    except av.error.FFmpegError as err:
        if not frames:
            raise PredictError(f"{path}: not a readable video ({err.strerror or type(err).__name__})") from None
    if not frames:
        raise PredictError(f"{path}: no frame could be decoded (an empty video)")
    return np.stack(frames)


def predict_video(model: DeployedModel, path, *, top_k: int = 5) -> dict:
    """Classify one video -> ``{"file", "top": [[class, probability], ...] (best first, at most top_k),
    "seconds" (decode + clips + inference), "frames", "clips"}``. Raises :class:`PredictError` for a bad video."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"predict_video(top_k): expected a positive int, got {top_k!r}")
    start = time.perf_counter()
    frames = decode_frames(path, model.spec.decode_size)
    try:
        clips = model.spec.clips(frames)
    except ValueError as err:
        raise PredictError(f"{path}: {err}") from None
    probs = model.probabilities(clips).mean(axis=0)
    order = np.argsort(-probs, kind="stable")[:top_k]
    return {"file": str(path), "top": [[model.spec.classes[i], round(float(probs[i]), 4)] for i in order],
            "seconds": round(time.perf_counter() - start, 4), "frames": int(frames.shape[0]),
            "clips": int(clips.shape[0])}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``predict`` subcommand's arguments."""
    parser.add_argument("videos", nargs="+", type=Path, help="video files to classify")
    parser.add_argument("--model", type=Path, default=None,
                        help=f"an ONNX model exported by the course (default: the shipped {DEFAULT_MODEL.name})")
    parser.add_argument("--top-k", type=int, default=2, help="how many classes to print per video (default 2)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per video")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (default: its own choice)")


def run(args: argparse.Namespace, out=None, err=None) -> int:
    """Classify ``args.videos``; returns the exit code (0: all classified, 1: a video or the model failed)."""
    out, err = out or sys.stdout, err or sys.stderr
    if args.top_k < 1:
        print(f"error: --top-k: expected a positive int, got {args.top_k}", file=err)
        return 2
    try:
        model = load_model(args.model, threads=max(0, args.threads))
    except PredictError as problem:
        print(f"error: {problem}", file=err)
        if args.json:
            print(json.dumps({"file": str(args.model or DEFAULT_MODEL), "error": str(problem)}), file=out)
        return 1
    failed = 0
    for path in args.videos:
        try:
            result = predict_video(model, path, top_k=args.top_k)
        except PredictError as problem:
            failed += 1
            print(f"error: {problem}", file=err)
            if args.json:
                print(json.dumps({"file": str(path), "error": str(problem)}), file=out)
            continue
        if args.json:
            print(json.dumps(result), file=out)
        else:
            top = ", ".join(f"{name} {p:.2f}" for name, p in result["top"])
            print(f"{path}: {top}  ({result['seconds']:.2f} s, {result['clips']} clips of {result['frames']} frames)",
                  file=out)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course predict", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))
