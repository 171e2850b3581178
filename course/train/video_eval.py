"""Clip accuracy vs video accuracy: average the predictions of several clips (and crops) of each video.

A 3D CNN sees a short clip (16 frames of C3D) of a longer video. Testing on one centre clip throws most of the video
away; the usual protocol (C3D, I3D, SlowFast) samples several clips spread over the video, and sometimes several
spatial crops of each, and averages their softmax probabilities per video.

- :class:`MultiClipDataset` turns a dataset of whole videos ``(video (C, T, H, W), label)`` into one of clips
  ``(clip (C, clip_len, h, w), label, video_id)``: ``num_clips`` evenly spaced clips x ``num_crops`` crops per video.
- :func:`evaluate_videos` runs a model over a loader of such triples and returns clip and video accuracy.
"""
from __future__ import annotations

import numbers

import numpy as np
import torch
from torch.utils.data import Dataset

from .metrics import check_finite_logits, model_device

__all__ = ["MultiClipDataset", "evaluate_videos", "clip_starts", "crop_boxes"]

_CROP_COUNTS = (1, 3, 5)


def _positive_int(value, name: str) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


def clip_starts(num_frames: int, clip_len: int, num_clips: int) -> np.ndarray:
    """First frames of ``num_clips`` clips of ``clip_len`` frames spread evenly over ``num_frames`` -> (num_clips,).

    The first clip starts at frame 0, the last one ends at the last frame; with ``num_clips=1`` it is the centre clip.
    ``clip_starts(32, 16, 3)`` is ``[0, 8, 16]``.
    """
    num_frames = _positive_int(num_frames, "clip_starts(num_frames)")
    clip_len = _positive_int(clip_len, "clip_starts(clip_len)")
    num_clips = _positive_int(num_clips, "clip_starts(num_clips)")
    if clip_len > num_frames:
        raise ValueError(f"clip_starts(clip_len={clip_len}): longer than the video ({num_frames} frames)")
    last = num_frames - clip_len
    if num_clips == 1:
        return np.array([last // 2], dtype=np.int64)
    return np.rint(np.linspace(0, last, num_clips)).astype(np.int64)


def crop_boxes(height: int, width: int, crop_size: int, num_crops: int) -> list[tuple[int, int]]:
    """Top-left corners ``(top, left)`` of ``num_crops`` square crops of side ``crop_size`` in a (height, width) frame.

    1: the centre; 3: left, centre, right along the longer side (as in SlowFast's 3-crop test); 5: the four corners
    and the centre (the "10-crop" test without flips).
    """
    height, width = _positive_int(height, "crop_boxes(height)"), _positive_int(width, "crop_boxes(width)")
    crop_size = _positive_int(crop_size, "crop_boxes(crop_size)")
    if num_crops not in _CROP_COUNTS:
        raise ValueError(f"crop_boxes(num_crops={num_crops!r}): expected one of {_CROP_COUNTS}")
    if crop_size > min(height, width):
        raise ValueError(f"crop_boxes(crop_size={crop_size}): larger than the frame ({height} x {width})")
    dy, dx = height - crop_size, width - crop_size
    centre = (dy // 2, dx // 2)
    if num_crops == 1:
        return [centre]
    if num_crops == 3:
        if width >= height:
            return [(dy // 2, 0), centre, (dy // 2, dx)]
        return [(0, dx // 2), centre, (dy, dx // 2)]
    return [(0, 0), (0, dx), (dy, 0), (dy, dx), centre]


class MultiClipDataset(Dataset):
    """Every video of ``videos`` cut into ``num_clips`` x ``num_crops`` clips, each item ``(clip, label, video_id)``.

    Args:
        videos: a map-style dataset of ``(video, label)`` with video a float tensor (C, T, H, W) and T >= clip_len.
        clip_len: frames per clip.
        num_clips: clips per video, spread evenly (:func:`clip_starts`); 1 is the single centre clip.
        crop_size: side of the square spatial crops, or None to keep the whole frame.
        num_crops: 1, 3 or 5 crops per clip (:func:`crop_boxes`); needs ``crop_size``.
        transform: optional callable applied to each clip (C, clip_len, h, w).

    Item ``k`` is clip ``k % (num_clips * num_crops)`` of video ``k // (num_clips * num_crops)``; ``video_id`` is the
    index of the video in ``videos``. A DataLoader over it yields ``(clips (N, C, clip_len, h, w), labels (N,),
    video_ids (N,))``, what :func:`evaluate_videos` expects. Videos are rendered/decoded once per clip: wrap a
    slow dataset in :func:`course.data.tensor_dataset` first.
    """

    def __init__(self, videos, *, clip_len: int, num_clips: int = 1, crop_size: int | None = None,
                 num_crops: int = 1, transform=None):
        if not hasattr(videos, "__len__") or not hasattr(videos, "__getitem__"):
            raise TypeError(f"MultiClipDataset(videos): expected a map-style dataset of (video, label), "
                            f"got {type(videos).__name__}")
        if len(videos) == 0:
            raise ValueError("MultiClipDataset(videos): the dataset is empty")
        self.videos = videos
        self.clip_len = _positive_int(clip_len, "MultiClipDataset(clip_len)")
        self.num_clips = _positive_int(num_clips, "MultiClipDataset(num_clips)")
        if num_crops not in _CROP_COUNTS:
            raise ValueError(f"MultiClipDataset(num_crops={num_crops!r}): expected one of {_CROP_COUNTS}")
        if num_crops > 1 and crop_size is None:
            raise ValueError(f"MultiClipDataset(num_crops={num_crops}): several crops need crop_size=<side in pixels>")
        self.crop_size = None if crop_size is None else _positive_int(crop_size, "MultiClipDataset(crop_size)")
        self.num_crops = int(num_crops)
        if transform is not None and not callable(transform):
            raise TypeError(f"MultiClipDataset(transform): expected a callable, got {type(transform).__name__}")
        self.transform = transform

    @property
    def views_per_video(self) -> int:
        return self.num_clips * self.num_crops

    def __len__(self) -> int:
        return len(self.videos) * self.views_per_video

    def __getitem__(self, index: int):
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"MultiClipDataset[index]: expected an int, got {type(index).__name__}")
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"MultiClipDataset[index]: index {index} out of range for {len(self)} clips")
        video_id, view = divmod(int(index), self.views_per_video)
        clip_index, crop_index = divmod(view, self.num_crops)
        video, label = self.videos[video_id][:2]
        if not torch.is_tensor(video) or video.ndim != 4:
            raise ValueError(f"MultiClipDataset: video {video_id} must be a tensor (C, T, H, W), "
                             f"got {getattr(video, 'shape', type(video).__name__)}")
        _, t, h, w = video.shape
        start = int(clip_starts(t, self.clip_len, self.num_clips)[clip_index])
        clip = video[:, start:start + self.clip_len]
        if self.crop_size is not None:
            top, left = crop_boxes(h, w, self.crop_size, self.num_crops)[crop_index]
            clip = clip[:, :, top:top + self.crop_size, left:left + self.crop_size]
        if self.transform is not None:
            clip = self.transform(clip)
        return clip, int(label), video_id

    def __repr__(self) -> str:
        return (f"MultiClipDataset({len(self.videos)} videos x {self.num_clips} clips x {self.num_crops} crops, "
                f"clip_len={self.clip_len}, crop_size={self.crop_size})")


def _split_triple(batch):
    if isinstance(batch, (tuple, list)) and len(batch) == 3:
        clips, labels, ids = batch
        if not torch.is_tensor(clips) or clips.ndim < 2:
            raise ValueError(f"evaluate_videos(loader): clips must be a tensor (N, C, T, H, W), "
                             f"got {getattr(clips, 'shape', type(clips).__name__)}")
        labels, ids = torch.as_tensor(labels), torch.as_tensor(ids)
        n = clips.shape[0]
        for name, value in (("labels", labels), ("video_ids", ids)):
            if value.ndim != 1 or value.shape[0] != n or value.dtype.is_floating_point or value.dtype == torch.bool:
                raise ValueError(f"evaluate_videos(loader): {name} must be an integer tensor (N,) with N={n}, "
                                 f"got shape {tuple(value.shape)} dtype {value.dtype}")
        return clips, labels.long(), ids.long()
    what = f"a {type(batch).__name__}" + (f" of {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
    raise TypeError(f"evaluate_videos(loader): each batch must be (clips, labels, video_ids), got {what}")


def evaluate_videos(model, loader, *, device=None, progress: bool = True) -> dict:
    """Clip accuracy and video accuracy of ``model`` (eval mode, no gradients).

    ``loader`` yields ``(clips (N, C, T, H, W), labels (N,), video_ids (N,))`` with integer labels and video ids
    (e.g. a DataLoader over :class:`MultiClipDataset`); the model returns logits (N, K). The clips of one video may
    come in any batches and any order, but must all carry the same label. Each video's prediction is the mean of the
    softmax probabilities of its clips.

    Returns a dict:

    - ``"clip_accuracy"`` (float): fraction of clips whose own argmax is right;
    - ``"video_accuracy"`` (float): fraction of videos whose averaged probabilities' argmax is right;
    - ``"video_probs"`` (V, K) float tensor, ``"video_labels"`` (V,) int64, ``"video_ids"`` (V,) int64 — one row per
      distinct video id, sorted by id, on the CPU.

    ``device``: default the model's own device. The model's train/eval mode is restored afterwards.
    """
    from .loop import progress_bar
    from .precision import choose_precision

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"evaluate_videos(model): expected a torch.nn.Module, got {type(model).__name__}")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"evaluate_videos(loader): expected an iterable of (clips, labels, video_ids) batches, "
                        f"got {type(loader).__name__}")
    if not isinstance(progress, bool):
        raise TypeError(f"evaluate_videos(progress={progress!r}): expected True or False")
    device = model_device(model) if device is None else torch.device(device)
    model.to(device)
    precision = choose_precision(device)
    was_training = model.training
    model.eval()
    probs, labels, ids = [], [], []
    try:
        with torch.no_grad():
            bar = progress_bar(loader, enabled=progress, desc="clips", unit="batch", leave=False)
            for batch in bar:
                clips, batch_labels, batch_ids = _split_triple(batch)
                with precision.autocast():
                    logits = model(clips.to(device, non_blocking=True))
                if not torch.is_tensor(logits) or logits.ndim != 2 or logits.shape[0] != clips.shape[0]:
                    raise ValueError(f"evaluate_videos: the model must return logits (N, K) with N={clips.shape[0]}, "
                                     f"got shape {tuple(getattr(logits, 'shape', ()))}")
                check_finite_logits(logits, "evaluate_videos",
                                    where=f" (clips of videos {sorted(set(batch_ids.tolist()))[:5]})")
                probs.append(torch.softmax(logits.float(), dim=1).cpu())
                labels.append(batch_labels)
                ids.append(batch_ids)
    finally:
        model.train(was_training)
    if not probs:
        raise ValueError("evaluate_videos(loader): the loader yielded no batches")
    probs, labels, ids = torch.cat(probs), torch.cat(labels), torch.cat(ids)
    video_ids, inverse = torch.unique(ids, sorted=True, return_inverse=True)
    v, k = video_ids.shape[0], probs.shape[1]
    sums = torch.zeros(v, k, dtype=probs.dtype).index_add_(0, inverse, probs)
    counts = torch.bincount(inverse, minlength=v).to(probs.dtype)
    video_probs = sums / counts[:, None]
    video_labels = torch.full((v,), -1, dtype=torch.long).scatter_(0, inverse, labels)
    if not torch.equal(video_labels[inverse], labels):
        bad = int(video_ids[inverse[video_labels[inverse] != labels][0]])
        raise ValueError(f"evaluate_videos(loader): the clips of video {bad} carry different labels")
    return {
        "clip_accuracy": float((probs.argmax(dim=1) == labels).double().mean()),
        "video_accuracy": float((video_probs.argmax(dim=1) == video_labels).double().mean()),
        "video_probs": video_probs,
        "video_labels": video_labels,
        "video_ids": video_ids,
    }
