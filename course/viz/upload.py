"""Chapter 14: your own video — upload a file, see the frames the model looks at and its top-k predictions.

- :func:`predict_video`: decoded frames (T, H, W, C) -> class probabilities, averaged over the clips the recipe's
  sampler picks (motion-guided by default), plus the frame indices of those clips;
- :func:`plot_predictions`: the top-k probabilities as a horizontal bar chart;
- :func:`upload_widget`: an ipywidgets ``FileUpload``; on upload the file is saved in the course's data cache
  (``uploads/``, under a sanitized name), decoded with PyAV, and the frames and the bar chart appear below it. A file
  over the size cap is refused before it is written; one that cannot be decoded is removed again.
"""
from __future__ import annotations

import html
import numbers
from typing import Sequence

import numpy as np

__all__ = ["predict_video", "plot_predictions", "upload_widget", "MAX_UPLOAD_BYTES"]

#: Largest upload the widget accepts (a few seconds of video is a few MB; a minute of phone video ~100 MB).
MAX_UPLOAD_BYTES = 100 * 2 ** 20


def predict_video(model, frames, *, classes: Sequence[str], config=None) -> dict:
    """Class probabilities of one decoded video, averaged over ``config.eval_clips`` clips.

    ``frames``: uint8 (T, H, W, 3) at the size the model was trained on (``config.decode_size``; resized if not),
    T >= 2. ``config``: the :class:`course.train.real_video.RecipeConfig` the model was trained with (default: the
    recipe's defaults). Returns ``{"probs": (K,) float array, "indices": (clips, clip_len) frame indices,
    "top": [(class, probability), ...] sorted by probability}``.
    """
    import torch

    from ..train.real_video import RecipeConfig, VideoClips, _transforms

    config = config or RecipeConfig()
    if not isinstance(config, RecipeConfig):
        raise TypeError(f"predict_video(config): expected a RecipeConfig, got {type(config).__name__}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"predict_video(model): expected a torch.nn.Module, got {type(model).__name__}")
    frames = torch.as_tensor(np.asarray(frames) if not isinstance(frames, torch.Tensor) else frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8 or frames.shape[0] < 2:
        raise ValueError(f"predict_video(frames): expected uint8 (T, H, W, 3) with T >= 2, got shape "
                         f"{tuple(frames.shape)} dtype {frames.dtype}")
    classes = list(classes)
    if tuple(frames.shape[1:3]) != tuple(config.decode_size):
        frames = torch.nn.functional.interpolate(frames.permute(0, 3, 1, 2).float(), size=tuple(config.decode_size),
                                                 mode="bilinear", antialias=True, align_corners=False)
        frames = frames.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    _, evaluate = _transforms(config)
    clips = VideoClips([frames], [0], clip_len=config.clip_len, step=config.step, sampling=config.sampling,
                       train=False, clips_per_video=config.eval_clips, transform=evaluate)
    batch = torch.stack([clips[i][0] for i in range(len(clips))])
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(batch)
    finally:
        model.train(was_training)
    if logits.ndim != 2 or logits.shape[1] != len(classes):
        raise ValueError(f"predict_video(classes): the model gives {tuple(logits.shape)} logits but {len(classes)} "
                         "class names were given")
    probs = torch.softmax(logits.float(), dim=1).mean(dim=0).numpy()
    order = np.argsort(-probs)
    return {"probs": probs, "indices": np.stack([clips.indices(0, k) for k in range(len(clips))]),
            "top": [(classes[i], float(probs[i])) for i in order]}


def plot_predictions(probs, classes: Sequence[str], *, top_k: int = 5, ax=None):
    """Horizontal bars of the ``top_k`` largest probabilities (``probs`` (K,)), best on top. Returns the axes."""
    import matplotlib.pyplot as plt

    probs = np.asarray(probs, dtype=float)
    if probs.ndim != 1 or probs.size != len(classes) or probs.size == 0:
        raise ValueError(f"plot_predictions(probs): expected one probability per class ({len(classes)}), "
                         f"got shape {probs.shape}")
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 1:
        raise ValueError(f"plot_predictions(top_k): expected a positive int, got {top_k!r}")
    order = np.argsort(-probs)[:top_k][::-1]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.0, 0.45 * len(order) + 0.9), layout="constrained")
    ax.barh([classes[i] for i in order], probs[order], color="tab:blue", label="mean softmax over clips")
    for y, i in enumerate(order):
        ax.text(min(probs[i] + 0.02, 0.85), y, f"{probs[i]:.0%}", va="center", fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability")
    ax.set_ylabel("class")
    ax.set_title(f"top-{len(order)} predictions", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))   # outside: never over a bar or its label
    return ax


def _safe_name(name: str) -> str:
    """A plain file name for an upload: the last part of the path (after / or \\), ASCII letters, digits, '.', '_' and
    '-' only, no leading dot (never '.', '..' or a hidden file), at most 80 characters; "video" if nothing is left."""
    name = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c if (c.isascii() and c.isalnum()) or c in "._-" else "_" for c in name)
    return name.lstrip(".")[-80:].lstrip(".") or "video"


def upload_widget(model, classes: Sequence[str], *, config=None, top_k: int = 5, max_bytes: int = MAX_UPLOAD_BYTES):
    """An upload box for a video file; shows the sampled frames and the model's top-k predictions.

    ``model`` takes clips (N, 3, clip_len, h, w) and returns logits (N, len(classes)); ``config`` is the
    :class:`course.train.real_video.RecipeConfig` it was trained with. The uploaded file is written to the course's data
    cache (``uploads/<sanitized name>``) and decoded at ``config.decode_size``; a file over ``max_bytes`` (default
    100 MiB) is refused with a message before anything is written, and one that cannot be decoded is deleted again.
    Returns the widget (a ``VBox``); ``widget.upload`` is the ``FileUpload``, ``widget.output`` the area the results go
    to and ``widget.handle(name, content)`` runs the same steps for bytes you already have (it returns the
    :func:`predict_video` result, or None when the file was refused).
    """
    import ipywidgets as widgets
    import torch

    from ..config import data_dir
    from ..data.video_io import VideoReadError, read_video
    from ..train.real_video import RecipeConfig
    from .explain import _png_of
    from .video import show_frames

    config = config or RecipeConfig()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"upload_widget(model): expected a torch.nn.Module, got {type(model).__name__}")
    classes = list(classes)
    if len(classes) < 2:
        raise ValueError(f"upload_widget(classes): expected at least two class names, got {classes!r}")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Integral) or max_bytes < 1:
        raise ValueError(f"upload_widget(max_bytes): expected a positive int (bytes), got {max_bytes!r}")
    upload = widgets.FileUpload(accept="video/*,.avi,.mp4,.mkv,.mov,.webm", multiple=False,
                                description="upload a video")
    status = widgets.HTML("<i>Choose a video file (a few seconds is enough).</i>")
    frames_image = widgets.Image(format="png", layout=widgets.Layout(display="none"))
    bars_image = widgets.Image(format="png", layout=widgets.Layout(display="none"))
    output = widgets.VBox([status, frames_image, bars_image])

    def refuse(message: str) -> None:
        status.value = message
        frames_image.layout.display = bars_image.layout.display = "none"

    def handle(name: str, content: bytes) -> dict | None:
        shown = _safe_name(name)
        size = memoryview(content).nbytes
        if size > max_bytes:
            refuse(f"<b>{shown} is too large:</b> {size:,} bytes, more than max_bytes={max_bytes:,}. Upload a shorter "
                   f"clip (a few seconds is enough), or trim it first.")
            return None
        path = data_dir("uploads") / shown
        try:
            path.write_bytes(bytes(content))
            frames = read_video(path, size=tuple(config.decode_size))
            if frames.shape[0] < 2:
                raise VideoReadError(path, "it has a single frame; a video needs at least two")
        except (VideoReadError, ValueError) as err:
            path.unlink(missing_ok=True)  # nothing that could not be decoded stays in the cache
            refuse(f"<b>Could not read {shown}:</b> {html.escape(str(err))}")
            return None
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        result = predict_video(model, frames, classes=classes, config=config)
        best, p = result["top"][0]
        status.value = (f"<b>{shown}</b>: {frames.shape[0]} frames; prediction: <b>{html.escape(str(best))}</b> "
                        f"({p:.0%}), averaged over {len(result['indices'])} clip(s)")
        first = result["indices"][0]
        shown = first[np.unique(np.linspace(0, len(first) - 1, min(8, len(first))).round().astype(int))]
        frames_image.value = _png_of(show_frames(frames, indices=shown, title="frames of the first clip the model sees"))
        bars_image.value = _png_of(plot_predictions(result["probs"], classes, top_k=top_k).figure)
        frames_image.layout.display = bars_image.layout.display = None
        return result

    def on_upload(change):
        files = change["new"]
        if not files:
            return
        item = files[0]
        handle(item["name"], item["content"])

    upload.observe(on_upload, names="value")
    box = widgets.VBox([upload, output])
    box.upload, box.output, box.handle, box.status = upload, output, handle, status
    return box
