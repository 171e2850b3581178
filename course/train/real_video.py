"""A recipe for real videos: train on one set of people, choose the epoch on a second, report on a third (chapter 14).

The pieces, each usable alone:

- :func:`wilson_interval`: a 95% confidence interval for an accuracy measured on n videos;
- :class:`VideoSplit` / :func:`find_kth_videos`: the videos of each subset (KTH's official person split, for any of its
  six classes found under a folder);
- :func:`decode_videos`: every video decoded once (small, cached in the course's data cache) -> uint8 (T, H, W, C);
- :class:`VideoClips`: clips of decoded videos, sampled naively (a random contiguous clip), TSN-style (segments over
  the whole video) or where the motion is (:mod:`course.data.motion`), one or several per video;
- :func:`run_recipe`: train, select the epoch on the validation videos, report video-level accuracy on the test
  videos (or the validation videos when there are none) — what ``benchmarks/real_video.py`` runs;
- :func:`format_report` / :func:`record_result`: the honest report, and its atomic record in ``course/results/``.
"""
from __future__ import annotations

import copy
import math
import numbers
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["wilson_interval", "VideoSplit", "find_kth_videos", "kth_person", "decode_videos", "VideoClips",
           "RecipeConfig", "run_recipe", "format_report", "record_result", "SAMPLINGS", "build_model",
           "clip_level_split", "leak_comparison", "train_model", "compare_samplings", "format_sampling_table",
           "recorded_sampling_rows", "train_loader", "eval_loader", "predict_videos", "check_split"]

#: Clip samplers of :class:`VideoClips`: the naive default, TSN segments over the whole video, motion-guided clips.
SAMPLINGS = ("random", "segments", "motion")


# --------------------------------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------------------------------

def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion ``successes / n`` -> (low, high), both in [0, 1].

    Unlike the textbook ``p ± 1.96 sqrt(p(1-p)/n)`` it stays inside [0, 1] and does not collapse to a single point at
    0% or 100%: 20 correct of 20 gives (0.839, 1.0), not (1.0, 1.0). ``confidence`` in (0, 1).
    """
    for name, value in (("successes", successes), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
            raise ValueError(f"wilson_interval({name}): expected a non-negative int, got {value!r}")
    if n == 0:
        raise ValueError("wilson_interval(n): expected at least one trial, got 0")
    if successes > n:
        raise ValueError(f"wilson_interval(successes): expected at most n={n}, got {successes}")
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"wilson_interval(confidence): expected a number in (0, 1), got {confidence!r}")
    from statistics import NormalDist

    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


# --------------------------------------------------------------------------------------------------------------------
# Finding the videos of each subset
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class VideoSplit:
    """Videos of a train / val / test split: ``classes`` names, and ``[(path, label), ...]`` per subset."""

    classes: list[str]
    train: list[tuple[Path, int]] = field(default_factory=list)
    val: list[tuple[Path, int]] = field(default_factory=list)
    test: list[tuple[Path, int]] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Videos per class in each subset: ``{"train": {"walking": 32, ...}, ...}``."""
        return {name: {c: sum(1 for _, label in getattr(self, name) if label == i) for i, c in enumerate(self.classes)}
                for name in ("train", "val", "test")}


_KTH_NAME = re.compile(r"^person(?P<person>\d\d)_(?P<cls>[a-z][a-z_]*?)_d(?P<scenario>\d+)_uncomp\.(?:avi|mp4)$")


def kth_person(path) -> int:
    """The person number of a KTH file name ``person<PP>_<class>_d<S>_uncomp.avi``."""
    m = _KTH_NAME.match(Path(path).name)
    if not m:
        raise ValueError(f"kth_person(path): expected a KTH file name person<PP>_<class>_d<S>_uncomp.avi, got {path!r}")
    return int(m["person"])


def find_kth_videos(root) -> VideoSplit:
    """All KTH-named videos under ``root`` (any depth), in KTH's official person split, for the classes present.

    Files are ``person<PP>_<class>_d<S>_uncomp.avi`` (or ``.mp4``); persons go to train / val / test by
    :data:`course.data.real_datasets.KTH_PERSONS`. Classes are those with at least one video, in KTH's order (boxing,
    handclapping, handwaving, jogging, running, walking) when they are KTH actions, else sorted by name; labels index
    that list. Raises ``FileNotFoundError`` when ``root`` is not a folder and ``ValueError`` when it holds no such file.
    """
    from ..data.real_datasets import KTH_CLASSES, KTH_PERSONS

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"find_kth_videos(root): no folder {str(root)!r}")
    subset_of = {person: name for name, persons in KTH_PERSONS.items() for person in persons}
    found = []
    for path in sorted(root.rglob("person*_uncomp.*"), key=lambda p: p.name):
        m = _KTH_NAME.match(path.name)
        if m and path.is_file() and int(m["person"]) in subset_of:
            found.append((path, m["cls"], subset_of[int(m["person"])]))
    if not found:
        raise ValueError(f"find_kth_videos(root): no KTH video (person<PP>_<action>_d<S>_uncomp.avi) under {str(root)!r}")
    names = {cls for _, cls, _ in found}
    classes = [c for c in KTH_CLASSES if c in names] if names <= set(KTH_CLASSES) else sorted(names)
    split = VideoSplit(classes)
    for path, cls, subset in found:
        getattr(split, subset).append((path, classes.index(cls)))
    return split


# --------------------------------------------------------------------------------------------------------------------
# Decoded videos and their clips
# --------------------------------------------------------------------------------------------------------------------

def decode_videos(paths: Sequence, *, size: tuple[int, int] = (60, 80), cache: bool = True,
                  progress: bool = True) -> list[torch.Tensor]:
    """Decode every video once, resized to ``size`` = (height, width) -> list of uint8 tensors (T, H, W, 3).

    With ``cache=True`` each decoded video is stored in the course's data cache (``decoded_videos/``, memory-mapped
    on later runs), as :class:`course.data.VideoFolder` does.
    """
    from tqdm.auto import tqdm

    from ..data.folder import VideoFolder

    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("decode_videos(paths): expected at least one video path")
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 16 for s in size)):
        raise ValueError(f"decode_videos(size): expected (height, width), two ints >= 16, got {size!r}")
    folder = VideoFolder(paths[0].parent, samples=[(p, 0) for p in paths], classes=["any"],
                         decode_size=tuple(int(s) for s in size), cache=cache)
    out = []
    for p in tqdm(paths, desc="decoding", unit="video", disable=not progress):
        out.append(folder.cached_video(p) if cache else _read(p, size))
    return out


def _read(path, size):
    from ..data.video_io import read_video

    return read_video(path, size=tuple(size))


class VideoClips(Dataset):
    """Clips of decoded videos: ``dataset[i] -> (clip (C, clip_len, h, w), label)`` or, with ``with_ids``, also the
    video's index (what :func:`course.train.evaluate_videos` needs).

    Args:
        videos: uint8 tensors (T, H, W, C), one per video (:func:`decode_videos`).
        labels: one int per video.
        clip_len: frames per clip; ``step``: distance between its frames (contiguous samplers).
        sampling: ``"random"`` (a contiguous clip anywhere: the naive default), ``"segments"`` (TSN: ``clip_len``
            segments over the whole video, one frame from each) or ``"motion"`` (contiguous clips where the motion
            energy is high, :func:`course.data.motion.motion_clip_indices`).
        train: random draws (training) or deterministic clips (evaluation): with ``clips_per_video`` K, evaluation
            takes K clips spread evenly ("random"), K interleaved segment offsets ("segments") or the K most active
            clips ("motion").
        clips_per_video: K, items per video (training: K independent draws per epoch).
        transform: uint8 (clip_len, H, W, C) -> float (C, clip_len, h, w); default: floats in [0, 1].
        power: sharpness of motion-guided training draws (see ``motion_clip_indices``).

    Item ``i`` is clip ``i % K`` of video ``i // K``.
    """

    def __init__(self, videos: Sequence[torch.Tensor], labels: Sequence[int], *, clip_len: int = 16, step: int = 1,
                 sampling: str = "random", train: bool = True, clips_per_video: int = 1,
                 transform: Callable | None = None, with_ids: bool = False, power: float = 2.0):
        from ..data.motion import motion_energy

        if len(videos) == 0:
            raise ValueError("VideoClips(videos): expected at least one video")
        if len(labels) != len(videos):
            raise ValueError(f"VideoClips(labels): expected one label per video ({len(videos)}), got {len(labels)}")
        for i, v in enumerate(videos):
            if not isinstance(v, torch.Tensor) or v.ndim != 4 or v.dtype != torch.uint8 or v.shape[0] < 2:
                raise ValueError(f"VideoClips(videos): video {i} must be a uint8 tensor (T, H, W, C) with T >= 2, "
                                 f"got {getattr(v, 'shape', type(v).__name__)} {getattr(v, 'dtype', '')}")
        if sampling not in SAMPLINGS:
            raise ValueError(f"VideoClips(sampling): expected one of {SAMPLINGS}, got {sampling!r}")
        for name, value in (("clip_len", clip_len), ("step", step), ("clips_per_video", clips_per_video)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"VideoClips({name}): expected a positive int, got {value!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"VideoClips(transform): expected a callable or None, got {transform!r}")
        self.videos, self.labels = list(videos), [int(x) for x in labels]
        self.clip_len, self.step, self.clips_per_video = int(clip_len), int(step), int(clips_per_video)
        self.sampling, self.train, self.transform = sampling, bool(train), transform
        self.with_ids, self.power = bool(with_ids), float(power)
        self.energy = [motion_energy(v) for v in self.videos] if sampling == "motion" else None

    def __len__(self) -> int:
        return len(self.videos) * self.clips_per_video

    def indices(self, video: int, clip: int = 0) -> np.ndarray:
        """Frame indices (clip_len,) of clip ``clip`` of video ``video`` (a fresh draw each call when training)."""
        from ..data.motion import motion_clip_indices, spread_clip_indices
        from ..data.sampling import random_clip_indices, segment_indices

        num_frames = int(self.videos[video].shape[0])
        k = self.clips_per_video
        if self.sampling == "random":
            if self.train:
                return random_clip_indices(num_frames, self.clip_len, step=self.step)
            return spread_clip_indices(num_frames, self.clip_len, step=self.step, num_clips=k)[clip]
        if self.sampling == "segments":
            if self.train:
                return segment_indices(num_frames, self.clip_len, random=True)
            edges = np.arange(self.clip_len + 1) * num_frames / self.clip_len
            offset = (clip + 0.5) / k
            return np.clip(np.floor(edges[:-1] + offset * (edges[1:] - edges[:-1])), 0, num_frames - 1).astype(np.int64)
        if self.train:
            return motion_clip_indices(self.energy[video], self.clip_len, step=self.step, random=True,
                                       power=self.power)[0]
        return motion_clip_indices(self.energy[video], self.clip_len, step=self.step, num_clips=k)[clip]

    def __getitem__(self, index: int):
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"VideoClips[index]: expected an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"VideoClips[index]: index {index} out of range for {len(self)} clips")
        video, clip = divmod(int(index) % len(self), self.clips_per_video)
        frames = self.videos[video]
        frames = torch.stack([frames[i] for i in self.indices(video, clip).tolist()])
        out = self.transform(frames) if self.transform is not None else frames.permute(3, 0, 1, 2).float() / 255
        return (out, self.labels[video], video) if self.with_ids else (out, self.labels[video])


def clip_level_split(videos: Sequence[torch.Tensor], labels: Sequence[int], *, pieces: int = 2,
                     seed: int = 0) -> tuple[list, list, list, list]:
    """The *leaky* split: cut every video into ``pieces`` consecutive parts in time; one part of each video, chosen
    at random, goes to validation, the other parts to training.

    Every validation part has training parts of the *same video* beside it — the same person, clothes, background and
    speed, seconds apart — so a model can recognise the video instead of the action. Each validation part is scored
    as one video, exactly like the videos of a person split, so the two numbers are on the same footing.

    ``videos``: uint8 tensors (T, H, W, C), T >= 2 * pieces; ``labels``: one int per video. Returns (train parts,
    train labels, val parts, val labels): uint8 tensors (T // pieces or one more frame, H, W, C) that
    :class:`VideoClips` treats as short videos; ``len(val parts) == len(videos)``. Do not do this in a real project;
    the chapter measures why.
    """
    if isinstance(pieces, bool) or not isinstance(pieces, numbers.Integral) or pieces < 2:
        raise ValueError(f"clip_level_split(pieces): expected an int >= 2, got {pieces!r}")
    if len(videos) != len(labels) or not videos:
        raise ValueError("clip_level_split(labels): expected one label per video and at least one video")
    short = [i for i, v in enumerate(videos) if v.shape[0] < 2 * pieces]
    if short:
        raise ValueError(f"clip_level_split(videos): videos {short[:5]} have fewer than {2 * pieces} frames "
                         f"(pieces={pieces} needs at least 2 frames per piece)")
    rng = np.random.default_rng(seed)
    train, train_labels, val, val_labels = [], [], [], []
    for video, label in zip(videos, labels):
        parts = torch.tensor_split(video, pieces, dim=0)
        held_out = int(rng.integers(pieces))
        for i, part in enumerate(parts):
            if i == held_out:
                val.append(part)
                val_labels.append(int(label))
            else:
                train.append(part)
                train_labels.append(int(label))
    return train, train_labels, val, val_labels


# --------------------------------------------------------------------------------------------------------------------
# The recipe
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class RecipeConfig:
    """Everything the recipe chooses. The defaults are the KTH walking-vs-running recipe (2 CPU cores, < 10 min).

    ``decode_size`` (H, W) of the decoded frames; ``crop`` (h, w) fed to the model (random crop when training, centre
    crop when evaluating); ``clip_len``/``step`` of a clip; ``sampling`` for training and evaluation;
    ``train_clips`` clips per training video per epoch; ``eval_clips`` clips per video at evaluation (their softmax
    averaged); ``epochs``, ``batch_size``, ``lr``, ``weight_decay`` of AdamW with a cosine schedule; ``seed``.

    Augmentations that break person-specific cues (training only): ``crop_scale`` = (low, high) draws a crop of that
    share of the frame's area at a random place and resizes it to ``crop`` (torchvision's ``RandomResizedCrop``, the
    person appears larger or smaller and anywhere in the frame; None: a plain random crop of size ``crop``);
    ``brightness`` > 0 jitters brightness and contrast by up to that fraction. ``eval_flip``: evaluation also scores
    every clip mirrored left-right and averages (a person walks either way). ``retrain``: after the choices are made
    on the validation persons, train a fresh model on training + validation persons for the chosen budget and ship
    that one. ``choose_epoch``: False (default) — the budget is the whole ``epochs``-epoch schedule, chosen on the
    development persons by leave-persons-out (``benchmarks/real_video_ablation.py``: held-out accuracy rises until the
    last epoch, while one 64-video validation split picks middle epochs on one-video differences); True — the budget
    is the epoch with the best accuracy on the validation split (ties: the later one).
    """

    decode_size: tuple[int, int] = (48, 64)
    crop: tuple[int, int] = (40, 56)
    clip_len: int = 16
    step: int = 2
    sampling: str = "motion"
    train_clips: int = 4
    eval_clips: int = 3
    epochs: int = 8
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 0.05
    power: float = 2.0
    seed: int = 0
    crop_scale: tuple[float, float] | None = None
    brightness: float = 0.0
    eval_flip: bool = False
    retrain: bool = True
    choose_epoch: bool = False

    def __post_init__(self):
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"RecipeConfig(sampling): expected one of {SAMPLINGS}, got {self.sampling!r}")
        for name in ("clip_len", "step", "train_clips", "eval_clips", "epochs", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"RecipeConfig({name}): expected a positive int, got {value!r}")
        if self.clip_len < 16:
            raise ValueError(f"RecipeConfig(clip_len): the C3D-style model needs at least 16 frames, got {self.clip_len}")
        for name in ("decode_size", "crop"):
            value = getattr(self, name)
            if not isinstance(value, (tuple, list)) or len(value) != 2 or not all(
                    isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 16 for s in value):
                raise ValueError(f"RecipeConfig({name}): expected (height, width), two ints >= 16, got {value!r}")
        if self.crop[0] > self.decode_size[0] or self.crop[1] > self.decode_size[1]:
            raise ValueError(f"RecipeConfig(crop): {tuple(self.crop)} is larger than decode_size {tuple(self.decode_size)}")
        if not (isinstance(self.lr, numbers.Real) and self.lr > 0):
            raise ValueError(f"RecipeConfig(lr): expected a positive number, got {self.lr!r}")
        if self.crop_scale is not None and not (
                isinstance(self.crop_scale, (tuple, list)) and len(self.crop_scale) == 2
                and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in self.crop_scale)
                and 0 < self.crop_scale[0] <= self.crop_scale[1] <= 1):
            raise ValueError(f"RecipeConfig(crop_scale): expected None or (low, high) with 0 < low <= high <= 1, "
                             f"got {self.crop_scale!r}")
        if (isinstance(self.brightness, bool) or not isinstance(self.brightness, numbers.Real)
                or not 0 <= self.brightness < 1):
            raise ValueError(f"RecipeConfig(brightness): expected a number in [0, 1), got {self.brightness!r}")
        for name in ("eval_flip", "retrain", "choose_epoch"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"RecipeConfig({name}): expected True or False, got {getattr(self, name)!r}")


_MEAN, _STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def _transforms(config: RecipeConfig):
    from torchvision.transforms import v2

    from ..data.transforms import ClipTransform

    crop = tuple(config.crop)
    if config.crop_scale is None:
        place = v2.RandomCrop(crop)
    else:
        aspect = crop[1] / crop[0]
        place = v2.RandomResizedCrop(crop, scale=tuple(config.crop_scale), ratio=(aspect, aspect), antialias=True)
    steps = [place, v2.RandomHorizontalFlip()]
    if config.brightness > 0:
        steps.append(v2.ColorJitter(brightness=config.brightness, contrast=config.brightness))
    train = ClipTransform(*steps, mean=_MEAN, std=_STD)
    evaluate = ClipTransform(v2.CenterCrop(crop), mean=_MEAN, std=_STD)
    return train, evaluate


def build_model(num_classes: int, config: RecipeConfig) -> torch.nn.Module:
    """The recipe's model: :func:`course.models.c3d_small` for clips (3, clip_len, crop_h, crop_w)."""
    from ..models import c3d_small

    return c3d_small(num_classes, input_size=(config.clip_len, *config.crop))


def _loader(dataset, batch_size, *, shuffle, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator if shuffle else None)


class _Mirrored(Dataset):
    """Every item of a dataset of (clip (C, T, H, W), label, video id) twice: as it is, then mirrored left-right."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return 2 * len(self.dataset)

    def __getitem__(self, index: int):
        clip, label, video = self.dataset[index // 2]
        return (clip.flip(-1) if index % 2 else clip), label, video


def eval_loader(videos, labels, config: RecipeConfig, *, sampling: str | None = None, clips: int | None = None,
                flip: bool | None = None):
    """A loader of (clips, labels, video ids) for :func:`course.train.evaluate_videos`: ``clips`` per video (default
    ``config.eval_clips``), each also mirrored when ``flip`` (default ``config.eval_flip``)."""
    _, evaluate = _transforms(config)
    dataset = VideoClips(videos, labels, clip_len=config.clip_len, step=config.step,
                         sampling=sampling or config.sampling, train=False,
                         clips_per_video=clips or config.eval_clips, transform=evaluate, with_ids=True)
    if config.eval_flip if flip is None else flip:
        dataset = _Mirrored(dataset)
    return _loader(dataset, config.batch_size * 2, shuffle=False)


def predict_videos(model: torch.nn.Module, loader) -> dict:
    """:func:`course.train.evaluate_videos` that refuses non-finite outputs: a model whose logits hold NaN or inf
    (a diverged training run) would otherwise be scored by the argmax of NaN — class 0 for every video, 50% on a
    balanced pair. Raises ``FloatingPointError`` naming how many videos were affected."""
    from .video_eval import evaluate_videos

    out = evaluate_videos(model, loader, progress=False)
    bad = ~torch.isfinite(out["video_probs"]).all(dim=1)
    if bad.any():
        raise FloatingPointError(f"the model returned non-finite outputs (NaN or inf) for {int(bad.sum())} of "
                                 f"{len(bad)} videos: the training diverged (lower RecipeConfig.lr) or the weights "
                                 "are broken; no accuracy is reported from such outputs")
    return out


def train_loader(videos, labels, config: RecipeConfig, *, sampling: str | None = None):
    """A shuffled loader of (clips, labels): ``config.train_clips`` random draws per video per epoch."""
    train, _ = _transforms(config)
    dataset = VideoClips(videos, labels, clip_len=config.clip_len, step=config.step,
                         sampling=sampling or config.sampling, train=True, clips_per_video=config.train_clips,
                         transform=train, power=config.power)
    return _loader(dataset, config.batch_size, shuffle=True, seed=config.seed)


def train_model(videos: Sequence[torch.Tensor], labels: Sequence[int], num_classes: int, config: RecipeConfig, *,
                val: tuple[Sequence[torch.Tensor], Sequence[int]] | None = None, progress: bool = True,
                device=None, stop_after: int | None = None, keep_best: bool = True) -> dict:
    """Train :func:`build_model` on clips of ``videos`` (uint8 (T, H, W, C) each) for ``config.epochs`` epochs.

    With ``val`` = (videos, labels), the video accuracy on them is measured after every epoch and, with
    ``keep_best``, the weights of the best epoch are kept (ties keep the later one: averaged over person folds and
    seeds, KTH's held-out accuracy still rises in the last epochs of the schedule, ``benchmarks/real_video_ablation.py``;
    ``keep_best=False`` keeps the last epoch's and only records the curve). ``stop_after``: stop after that many epochs of the same
    ``config.epochs``-epoch cosine schedule (the retraining run of :func:`run_recipe`). Returns ``{"model",
    "val_curve", "best_epoch", "train_loss", "train_seconds"}``; ``train_seconds`` is the wall time of the training
    loop including the per-epoch validation.
    """
    from ..config import seed_everything
    from .loop import fit

    epochs = config.epochs if stop_after is None else stop_after
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or not 1 <= epochs <= config.epochs:
        raise ValueError(f"train_model(stop_after): expected an int in [1, {config.epochs}], got {stop_after!r}")
    seed_everything(config.seed)
    model = build_model(num_classes, config)
    loader = train_loader(videos, labels, config)
    val_loader = eval_loader(*val, config) if val is not None else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    best = {"acc": -1.0, "epoch": epochs, "state": None}
    val_curve: list[float] = []

    def select(history, model):
        acc = predict_videos(model, val_loader)["video_accuracy"]
        val_curve.append(acc)
        if keep_best and acc >= best["acc"]:  # ties: the later epoch, further down the cosine schedule
            best.update(acc=acc, epoch=len(val_curve), state=copy.deepcopy(model.state_dict()))

    started = time.perf_counter()
    history = fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, device=device,
                  progress=progress, callbacks=[select] if val is not None else [])
    seconds = time.perf_counter() - started
    losses = [r["train_loss"] for r in history.records]
    if not np.isfinite(losses).all():
        raise FloatingPointError(f"train_model: the training loss became non-finite ({losses}); lower RecipeConfig.lr")
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    return {"model": model, "val_curve": val_curve, "best_epoch": best["epoch"],
            "train_loss": losses, "train_seconds": seconds}


def check_split(split, fn: str = "check_split") -> None:
    """Refuse a split the recipe cannot use honestly, before any decoding or training: ``TypeError`` unless a
    :class:`VideoSplit`; ``ValueError`` when there are no training or no validation videos (nothing to choose the
    epoch on), or when a class has no training video or no validation video (the message names the classes)."""
    if not isinstance(split, VideoSplit):
        raise TypeError(f"{fn}(split): expected a VideoSplit, got {type(split).__name__}")
    if not split.train:
        raise ValueError(f"{fn}(split): no training videos (KTH: persons 11-18)")
    if not split.val:
        raise ValueError(f"{fn}(split): no validation videos to choose the epoch on (KTH: persons 1, 4, 19-25); "
                         f"found {len(split.train)} training videos and none of the validation persons")
    if len({label for _, label in split.train}) < 2:
        raise ValueError(f"{fn}(split): the training videos cover fewer than two classes")
    counts = split.counts()
    for name, what in (("train", "training"), ("val", "validation")):
        missing = [c for c, n in counts[name].items() if n == 0]
        if missing:
            raise ValueError(f"{fn}(split): no {what} video of class(es) {missing}; every class needs at least one "
                             f"(videos per class: {counts[name]})")


_check_split = check_split


def _decoded(split: VideoSplit, names, config: RecipeConfig, videos: dict | None, progress: bool) -> dict:
    videos = dict(videos or {})
    for name in names:
        if name not in videos:
            videos[name] = decode_videos([p for p, _ in getattr(split, name)], size=config.decode_size,
                                         progress=progress)
    return videos


def run_recipe(split: VideoSplit, config: RecipeConfig | None = None, *, progress: bool = True,
               device=None, videos: dict | None = None) -> dict:
    """Train on ``split.train`` and measure every epoch on ``split.val``; fix the budget (the whole schedule, or with
    ``config.choose_epoch`` the best validation epoch); then (with ``config.retrain``) train a fresh model on training
    + validation videos for that budget; report on ``split.test`` (or, when there is no test video, on ``split.val``
    with the model trained on the training videos only, saying so).

    Returns a dict: ``split`` ("test" or "val"), ``classes``, ``counts`` (videos per class and subset),
    ``n_videos``, ``correct``, ``accuracy``, ``ci_low``, ``ci_high`` (95% Wilson), ``clip_accuracy``,
    ``best_epoch`` (the budget: epochs the shipped model trained), ``val_curve`` (video accuracy per epoch),
    ``val_accuracy`` (at that epoch), ``train_loss`` per epoch, ``final_fit`` (what the shipped model was trained on),
    ``train_seconds`` (all training: the run on the training persons with its per-epoch validation, plus the
    retraining run; not decoding, not the final evaluation), ``select_seconds``, ``retrain_seconds``,
    ``eval_seconds``, ``y_true``/``y_pred``/``video_probs`` and ``paths`` of the reported videos, ``config``, ``model``
    (the shipped model) and ``reported_by`` ("final" or "selection": which model the numbers come from). ``videos``:
    optional ``{subset: [uint8 (T, H, W, C), ...]}`` already decoded.
    """
    check_split(split, "run_recipe")
    config = config or RecipeConfig()
    if not isinstance(config, RecipeConfig):
        raise TypeError(f"run_recipe(config): expected a RecipeConfig, got {type(config).__name__}")
    report_on = "test" if split.test else "val"
    videos = _decoded(split, ("train", "val", report_on), config, videos, progress)
    labels = {name: [label for _, label in getattr(split, name)] for name in ("train", "val", "test")}
    trained = train_model(videos["train"], labels["train"], len(split.classes), config,
                          val=(videos["val"], labels["val"]), progress=progress, device=device,
                          keep_best=config.choose_epoch)
    budget = trained["best_epoch"] if config.choose_epoch else config.epochs
    how = (f"the {budget} epochs chosen on the validation persons (of the {config.epochs}-epoch cosine schedule)"
           if config.choose_epoch else f"the whole {config.epochs}-epoch cosine schedule (chosen by leave-persons-out)")
    model, reported_by, retrain_seconds = trained["model"], "selection", 0.0
    final_fit = f"training persons, {how}"
    if config.retrain:
        final = train_model(list(videos["train"]) + list(videos["val"]), labels["train"] + labels["val"],
                            len(split.classes), config, progress=progress, device=device, stop_after=budget)
        model, retrain_seconds = final["model"], final["train_seconds"]
        final_fit = f"training + validation persons, retrained for {how}"
        reported_by = "final" if report_on == "test" else "selection"
    started = time.perf_counter()
    out = predict_videos(model if reported_by == "final" or not config.retrain else trained["model"],
                         eval_loader(videos[report_on], labels[report_on], config))
    eval_seconds = time.perf_counter() - started
    y_true = out["video_labels"].numpy()
    y_pred = out["video_probs"].argmax(dim=1).numpy()
    correct = int((y_true == y_pred).sum())
    low, high = wilson_interval(correct, len(y_true))
    return {
        "split": report_on, "classes": list(split.classes), "counts": split.counts(), "n_videos": int(len(y_true)),
        "correct": correct, "accuracy": correct / len(y_true), "ci_low": low, "ci_high": high,
        "clip_accuracy": out["clip_accuracy"], "best_epoch": budget, "val_curve": trained["val_curve"],
        "val_accuracy": trained["val_curve"][budget - 1], "train_loss": trained["train_loss"],
        "final_fit": final_fit, "reported_by": reported_by,
        "train_seconds": trained["train_seconds"] + retrain_seconds, "select_seconds": trained["train_seconds"],
        "retrain_seconds": retrain_seconds, "eval_seconds": eval_seconds,
        "y_true": y_true.tolist(), "y_pred": y_pred.tolist(), "video_probs": out["video_probs"].tolist(),
        "paths": [str(p) for p, _ in getattr(split, report_on)], "config": asdict(config), "model": model,
    }


def compare_samplings(split: VideoSplit, config: RecipeConfig | None = None, *, samplings: Sequence[str] = SAMPLINGS,
                      leaky: bool = True, progress: bool = True, device=None, videos: dict | None = None) -> list[dict]:
    """The chapter's table: the same model and budget trained with each sampler, measured on the validation videos.

    For each sampler: train on ``split.train`` for ``config.epochs`` epochs (no epoch selection, so no row is tuned on
    the numbers it reports), then video accuracy on ``split.val`` with one clip per video and with
    ``config.eval_clips`` clips averaged. With ``leaky=True`` two more rows: the recipe's sampler trained on a *clip-level* split
    of the training + validation videos (:func:`clip_level_split`: one half of every video in validation, the other
    half in training; same clips per epoch) and scored per held-out half with 1 and ``eval_clips`` clips — what a
    leaky split reports.
    Each row: ``training``, ``evaluation``, ``split``, ``clips_per_video``, ``accuracy``, ``n``, ``ci_low``,
    ``ci_high``, ``train_seconds``, ``train_loss`` (per epoch) and ``predicted`` (videos predicted per class: a model
    that collapsed to one class predicts every video as that class).
    """
    _check_split(split, "compare_samplings")
    config = config or RecipeConfig()
    unknown = [s for s in samplings if s not in SAMPLINGS]
    if unknown or not (samplings or leaky):
        raise ValueError(f"compare_samplings(samplings): expected names from {SAMPLINGS}, got {list(samplings)!r}")
    videos = _decoded(split, ("train", "val"), config, videos, progress)
    labels = {name: [label for _, label in getattr(split, name)] for name in ("train", "val")}
    rows = []

    def row(training, evaluation, split_name, clips, out, trained):
        n = len(out["video_labels"])
        correct = int(round(out["video_accuracy"] * n))
        low, high = wilson_interval(correct, n)
        predicted = torch.bincount(out["video_probs"].argmax(dim=1), minlength=len(split.classes))
        return {"training": training, "evaluation": evaluation, "split": split_name, "clips_per_video": clips,
                "accuracy": out["video_accuracy"], "n": n, "ci_low": low, "ci_high": high,
                "train_seconds": trained["train_seconds"], "train_loss": trained["train_loss"],
                "predicted": dict(zip(split.classes, predicted.tolist()))}

    for sampling in samplings:
        cfg = RecipeConfig(**{**asdict(config), "sampling": sampling})
        trained = train_model(videos["train"], labels["train"], len(split.classes), cfg, progress=progress,
                              device=device)
        for clips in sorted({1, config.eval_clips}):
            out = predict_videos(trained["model"], eval_loader(videos["val"], labels["val"], cfg, clips=clips))
            rows.append(row(sampling, sampling, "persons (official)", clips, out, trained))
    if leaky:
        all_videos = list(videos["train"]) + list(videos["val"])
        all_labels = labels["train"] + labels["val"]
        tr, ytr, va, yva = clip_level_split(all_videos, all_labels, pieces=2, seed=config.seed)
        budget = config.train_clips * len(videos["train"])  # as many training clips per epoch as the other rows
        rng = np.random.default_rng(config.seed)
        # one draw per listed part and epoch: every part budget // len(tr) times, a few once more -> exactly `budget`
        listed = list(range(len(tr))) * (budget // len(tr))
        listed += rng.choice(len(tr), budget % len(tr), replace=False).tolist()
        tr, ytr = [tr[i] for i in listed], [ytr[i] for i in listed]
        cfg = RecipeConfig(**{**asdict(config), "train_clips": 1})
        trained = train_model(tr, ytr, len(split.classes), cfg, progress=progress, device=device)
        for clips in sorted({1, config.eval_clips}):
            out = predict_videos(trained["model"], eval_loader(va, yva, cfg, clips=clips))
            rows.append(row(config.sampling, config.sampling, "halves of videos (leaky)", clips, out, trained))
    return rows


def recorded_sampling_rows(name: str = "real_video_kth", *, directory=None) -> tuple[list[dict], list[dict]]:
    """The comparison rows recorded by ``benchmarks/real_video.py --compare ...`` (one or several runs, files
    ``<name>_samplings_<rows>.json``), in the order random, segments, motion, leaky -> (rows, records)."""
    import json

    from .recorded import RESULTS_DIR

    rows, records = [], []
    for path in sorted(Path(directory or RESULTS_DIR).glob(f"{name}_samplings_*.json")):
        record = json.loads(path.read_text())
        records.append(record)
        rows += record["runs"][0]["rows"]
    order = {s: i for i, s in enumerate(SAMPLINGS)}
    rows.sort(key=lambda r: ("leaky" in r["split"], order.get(r["training"], 99), r["clips_per_video"]))
    return rows, records


def leak_comparison(rows: Sequence[dict]) -> list[dict]:
    """Pair each leaky row of :func:`compare_samplings` with the person-split row of the same sampler and number of
    evaluation clips -> ``[{"sampling", "clips_per_video", "person_split", "leaky", "difference"}, ...]``
    (accuracies as fractions; ``difference`` = leaky - person split; empty when there is no leaky row)."""
    official = {(r["training"], r["clips_per_video"]): r for r in rows if "leaky" not in r["split"]}
    pairs = []
    for r in rows:
        match = official.get((r["training"], r["clips_per_video"]))
        if "leaky" in r["split"] and match is not None:
            pairs.append({"sampling": r["training"], "clips_per_video": r["clips_per_video"],
                          "person_split": match["accuracy"], "leaky": r["accuracy"],
                          "difference": r["accuracy"] - match["accuracy"]})
    return pairs


def format_sampling_table(rows: Sequence[dict]) -> str:
    """:func:`compare_samplings`'s rows as a plain-text table."""
    header = f"{'training sampler':18s} {'split':24s} {'clips/video':>11s} {'video acc':>9s} {'95% interval':>15s} {'n':>4s}"
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['training']:18s} {r['split']:24s} {r['clips_per_video']:>11d} {r['accuracy']:>9.1%} "
                     f"{'[' + format(r['ci_low'], '.0%') + ', ' + format(r['ci_high'], '.0%') + ']':>15s} {r['n']:>4d}")
    return "\n".join(lines)


def format_report(result: dict) -> str:
    """The honest report of :func:`run_recipe`'s result: data, split, counts, accuracy with its 95% Wilson interval,
    what was tuned on what, scikit-learn's classification report and the confusion matrix."""
    from sklearn.metrics import classification_report, confusion_matrix

    missing = {"split", "classes", "counts", "n_videos", "accuracy", "ci_low", "ci_high", "y_true", "y_pred"} - set(result)
    if missing:
        raise ValueError(f"format_report(result): missing keys {sorted(missing)}; pass what run_recipe returns")
    classes = result["classes"]
    counts = result["counts"]
    lines = [f"classes: {', '.join(classes)}"]
    for name in ("train", "val", "test"):
        per_class = ", ".join(f"{c} {n}" for c, n in counts[name].items())
        lines.append(f"{name:5s}: {sum(counts[name].values()):3d} videos ({per_class})")
    chosen = (result.get("config") or {}).get("choose_epoch", True)
    lines.append(f"epoch {result.get('best_epoch', '?')} "
                 + ("chosen by video accuracy on the validation persons" if chosen else
                    "(the end of the schedule; the validation persons only watched)")
                 + (f", {result['val_accuracy']:.1%} there" if "val_accuracy" in result else "")
                 + "; recipe settings fixed before looking at any test video")
    if "final_fit" in result:
        lines.append(f"shipped model: {result['final_fit']}")
    config = result.get("config") or {}
    if "eval_clips" in config:
        lines.append(f"test-time: {config['eval_clips']} {config.get('sampling', '')} clips per video"
                     + (" and their mirror images" if config.get("eval_flip") else "") + ", softmax averaged")
    if result["split"] == "val":
        lines.append("NOTE: no test videos present -> the numbers below are on the VALIDATION persons, scored by the "
                     "model trained on the training persons only; they took part in choosing the recipe: optimistic")
    lines.append(f"video accuracy on {result['split']}: {result['accuracy']:.1%} ({result.get('correct', '?')}/"
                 f"{result['n_videos']}), 95% Wilson interval [{result['ci_low']:.1%}, {result['ci_high']:.1%}]")
    if "clip_accuracy" in result:
        lines.append(f"clip accuracy (each clip alone): {result['clip_accuracy']:.1%}")
    if "train_seconds" in result:
        parts = (f" (choosing the epoch {result['select_seconds']:.0f} s incl. per-epoch validation, retraining "
                 f"{result['retrain_seconds']:.0f} s)" if "select_seconds" in result else "")
        lines.append(f"training time: {result['train_seconds']:.0f} s{parts}")
    labels = list(range(len(classes)))
    lines += ["", classification_report(result["y_true"], result["y_pred"], labels=labels, target_names=classes,
                                        digits=3, zero_division=0)]
    matrix = confusion_matrix(result["y_true"], result["y_pred"], labels=labels)
    width = max(len(c) for c in classes) + 2
    lines.append("confusion matrix (rows: true, columns: predicted)")
    lines.append(" " * width + "".join(c[:width - 1].rjust(width) for c in classes))
    lines += [c.ljust(width) + "".join(str(v).rjust(width) for v in row) for c, row in zip(classes, matrix)]
    return "\n".join(lines)


def record_result(result: dict, *, command: str, name: str = "real_video_kth", directory=None,
                  extra: dict | None = None) -> Path:
    """Write the result (without the model) atomically to ``course/results/<name>.json`` -> the path.

    The record has ``command``, ``device``, ``date``, ``torch``, ``load`` (1-minute load average when measured) and
    ``runs`` (a list holding the result), so :func:`course.train.recorded_runs` reads it.
    """
    import datetime
    import os
    import platform

    from .recorded import save_record

    run = {k: v for k, v in result.items() if k != "model"}
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    record = {"command": command, "device": f"CPU ({platform.processor() or platform.machine()}), "
                                            f"{torch.get_num_threads()} threads",
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "torch": torch.__version__, "load": load, "runs": [run], **(extra or {})}
    return save_record(record, name, directory=directory)
