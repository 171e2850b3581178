"""How a clip is made: one small object shared by training, evaluation, export and ``python -m course predict``.

A deployed model is only right on inputs made exactly the way its training and evaluation clips were made: the same
frame size, the same frames (how many, how far apart, which part of the video), the same crop and the same
normalisation. :class:`ClipSpec` writes those choices down once; it travels inside the exported ONNX file (as
metadata, see :mod:`course.efficiency.export`), so the model and its preprocessing cannot drift apart.

This module imports only NumPy: it runs where PyTorch is not installed.
"""
from __future__ import annotations

import json
import numbers
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["ClipSpec", "SAMPLINGS", "motion_energy_np", "most_active_starts"]

#: Deterministic (evaluation-time) samplings a spec may name: ``"spread"`` — contiguous clips with starts evenly over
#: the video (one clip: the centre clip); ``"motion"`` — the most active contiguous clips by frame difference (chapter
#: 14); ``"segments"`` — TSN: ``clip_len`` equal segments over the whole video, one frame from each (``step`` unused).
SAMPLINGS = ("spread", "motion", "segments")


def _pair(value, name: str) -> tuple[int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in value)):
        raise ValueError(f"ClipSpec({name}): expected (height, width), two positive ints, got {value!r}")
    return int(value[0]), int(value[1])


def _triple(value, name: str, positive: bool) -> tuple[float, float, float]:
    if (not isinstance(value, (tuple, list)) or len(value) != 3
            or not all(isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v) for v in value)
            or (positive and any(v <= 0 for v in value))):
        kind = "positive" if positive else "finite"
        raise ValueError(f"ClipSpec({name}): expected three {kind} numbers (one per RGB channel), got {value!r}")
    return tuple(float(v) for v in value)


def motion_energy_np(frames: np.ndarray) -> np.ndarray:
    """Mean absolute difference between consecutive uint8 frames, scaled to [0, 1]: (T, H, W, C) -> (T - 1,).

    The same statistic as :func:`course.data.motion.motion_energy`, without PyTorch.
    """
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] < 2:
        raise ValueError(f"motion_energy_np(frames): expected uint8 (T, H, W, C) with T >= 2, got "
                         f"{getattr(frames, 'shape', type(frames).__name__)} {getattr(frames, 'dtype', '')}")
    return np.array([np.abs(frames[t + 1].astype(np.float32) - frames[t].astype(np.float32)).mean() / 255
                     for t in range(frames.shape[0] - 1)], dtype=np.float64)


def most_active_starts(energy: np.ndarray, span: int, num_clips: int) -> np.ndarray:
    """Start frames of the ``num_clips`` most active clips of ``span`` frames, overlapping by at most half a clip when
    the video allows it, sorted -> int64 (num_clips,). ``energy``: (T - 1,) from :func:`motion_energy_np`.

    The evaluation rule of :func:`course.data.motion.motion_clip_indices` (``random=False``), without PyTorch.
    """
    energy = np.asarray(energy, dtype=np.float64)
    num_frames = energy.size + 1
    if span > num_frames or span < 2:
        scores = np.array([energy.mean()])
    else:
        cumulative = np.concatenate([[0.0], np.cumsum(energy)])
        starts = np.arange(num_frames - span + 1)
        scores = (cumulative[starts + span - 1] - cumulative[starts]) / (span - 1)
    order = [int(s) for s in np.argsort(-scores, kind="stable")]
    chosen: list[int] = []
    for start in order:
        if len(chosen) < num_clips and all(abs(start - c) >= span // 2 for c in chosen):
            chosen.append(start)
    chosen += [s for s in order if s not in chosen][:num_clips - len(chosen)]
    while len(chosen) < num_clips:
        chosen.append(chosen[len(chosen) % len(order)])
    return np.sort(np.asarray(chosen, dtype=np.int64))


@dataclass(frozen=True)
class ClipSpec:
    """How a model's input clips are made from a video, and what its outputs mean.

    - ``classes``: the class names, in the order of the model's outputs;
    - ``clip_len`` frames per clip, ``step`` frames apart (``step=2``: every other frame);
    - ``sampling`` (see :data:`SAMPLINGS`) and ``num_clips``: which clips of a video are classified; their softmax
      probabilities are averaged into the video's prediction;
    - ``decode_size`` (H, W): every frame is resized to this while decoding (``None``: kept as stored);
    - ``crop`` (h, w): the centre crop fed to the model;
    - ``mean``, ``std``: per-channel normalisation of frames scaled to [0, 1];
    - ``flip_average``: also classify each clip flipped left-right and average (test-time augmentation).

    A clip batch is float32 (clips, 3, clip_len, h, w) — the model's layout (N, C, T, H, W).
    """

    classes: tuple[str, ...]
    clip_len: int = 16
    step: int = 1
    sampling: str = "spread"
    num_clips: int = 1
    decode_size: tuple[int, int] | None = None
    crop: tuple[int, int] = (32, 32)
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    flip_average: bool = False
    version: int = field(default=1)

    def __post_init__(self):
        classes = self.classes
        if (not isinstance(classes, (tuple, list)) or len(classes) < 2
                or not all(isinstance(c, str) and c for c in classes) or len(set(classes)) != len(classes)):
            raise ValueError(f"ClipSpec(classes): expected at least two distinct non-empty class names, got {classes!r}")
        object.__setattr__(self, "classes", tuple(classes))
        for name in ("clip_len", "step", "num_clips"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"ClipSpec({name}): expected a positive int, got {value!r}")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"ClipSpec(sampling): expected one of {SAMPLINGS}, got {self.sampling!r}")
        if self.decode_size is not None:
            object.__setattr__(self, "decode_size", _pair(self.decode_size, "decode_size"))
        object.__setattr__(self, "crop", _pair(self.crop, "crop"))
        if self.decode_size is not None and (self.crop[0] > self.decode_size[0] or self.crop[1] > self.decode_size[1]):
            raise ValueError(f"ClipSpec(crop): {self.crop} is larger than decode_size {self.decode_size}")
        object.__setattr__(self, "mean", _triple(self.mean, "mean", positive=False))
        object.__setattr__(self, "std", _triple(self.std, "std", positive=True))
        if not isinstance(self.flip_average, bool):
            raise TypeError(f"ClipSpec(flip_average): expected True or False, got {self.flip_average!r}")
        if self.version != 1:
            raise ValueError(f"ClipSpec(version): this course reads version 1, got {self.version!r}")

    # ---- serialisation ------------------------------------------------------------------------------------------
    @classmethod
    def from_recipe(cls, config: dict, classes, *, mean, std, flip_average: bool | None = None) -> "ClipSpec":
        """The spec of a model trained by chapter 14's recipe: ``config`` is ``dataclasses.asdict(RecipeConfig)``
        (keys ``clip_len``, ``step``, ``sampling``, ``eval_clips``, ``decode_size``, ``crop``, optionally
        ``eval_flip``), evaluated the way :func:`course.train.real_video.eval_loader` does (its ``"random"`` sampling
        evaluates spread clips). ``flip_average=None`` follows ``config["eval_flip"]`` (False when absent)."""
        if not isinstance(config, dict):
            raise TypeError(f"ClipSpec.from_recipe(config): expected dataclasses.asdict(RecipeConfig), got "
                            f"{type(config).__name__}")
        missing = sorted({"clip_len", "step", "sampling", "eval_clips", "decode_size", "crop"} - set(config))
        if missing:
            raise ValueError(f"ClipSpec.from_recipe(config): missing keys {missing}")
        sampling = {"random": "spread"}.get(config["sampling"], config["sampling"])
        if flip_average is None:
            flip_average = bool(config.get("eval_flip", False))
        return cls(tuple(classes), clip_len=config["clip_len"], step=config["step"], sampling=sampling,
                   num_clips=config["eval_clips"], decode_size=tuple(config["decode_size"]), crop=tuple(config["crop"]),
                   mean=tuple(mean), std=tuple(std), flip_average=flip_average)

    def to_dict(self) -> dict:
        """Plain JSON-ready dict (lists for tuples)."""
        return json.loads(json.dumps(asdict(self)))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> "ClipSpec":
        """Inverse of :meth:`to_dict`; unknown keys are an error (a spec from a newer course, or a typo)."""
        if not isinstance(data, dict):
            raise TypeError(f"ClipSpec.from_dict(data): expected a dict, got {type(data).__name__}")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"ClipSpec.from_dict(data): unknown keys {unknown}; expected some of {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "ClipSpec":
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as err:
            raise ValueError(f"ClipSpec.from_json(text): not valid JSON ({err})") from None
        return cls.from_dict(data)

    # ---- making clips -------------------------------------------------------------------------------------------
    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        """(C, T, H, W) of one clip: (3, clip_len, crop_h, crop_w)."""
        return (3, self.clip_len, *self.crop)

    @property
    def span(self) -> int:
        """Frames of the video one clip covers: (clip_len - 1) * step + 1."""
        return (self.clip_len - 1) * self.step + 1

    def clip_indices(self, frames: np.ndarray) -> np.ndarray:
        """Frame indices of the clips of a video -> int64 (num_clips, clip_len). A video shorter than a clip loops.

        ``frames``: uint8 (T, H, W, 3), T >= 1 (only its length matters for ``"spread"``).
        """
        frames = self._check_frames(frames, "clip_indices")
        num_frames = frames.shape[0]
        if self.sampling == "segments":
            edges = np.arange(self.clip_len + 1) * num_frames / self.clip_len
            return np.stack([np.clip(np.floor(edges[:-1] + (k + 0.5) / self.num_clips * (edges[1:] - edges[:-1])),
                                     0, num_frames - 1).astype(np.int64) for k in range(self.num_clips)])
        if self.sampling == "motion" and num_frames >= 2:
            starts = most_active_starts(motion_energy_np(frames), self.span, self.num_clips)
        else:
            last = max(num_frames - self.span, 0)
            starts = ([last // 2] if self.num_clips == 1
                      else np.rint(np.linspace(0, last, self.num_clips)).astype(np.int64))
        offsets = self.step * np.arange(self.clip_len, dtype=np.int64)
        return np.stack([(int(s) + offsets) % num_frames for s in starts])

    def clips(self, frames: np.ndarray) -> np.ndarray:
        """The model's input for one video: uint8 frames (T, H, W, 3) at ``decode_size`` -> float32
        (K, 3, clip_len, crop_h, crop_w), K = num_clips (twice that with ``flip_average``, flipped clips second)."""
        frames = self._check_frames(frames, "clips")
        h, w = frames.shape[1:3]
        ch, cw = self.crop
        if ch > h or cw > w:
            raise ValueError(f"ClipSpec.clips(frames): frames of {h}x{w} are smaller than the crop {ch}x{cw}")
        top, left = int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0))  # torchvision's CenterCrop rule
        index = self.clip_indices(frames)
        x = frames[index][:, :, top:top + ch, left:left + cw].astype(np.float32) / 255.0  # (K, T, h, w, 3)
        x = (x - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        x = np.ascontiguousarray(x.transpose(0, 4, 1, 2, 3))
        if self.flip_average:
            x = np.concatenate([x, x[..., ::-1]], axis=0)
        return np.ascontiguousarray(x, dtype=np.float32)

    def _check_frames(self, frames, fn: str) -> np.ndarray:
        if (not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.ndim != 4
                or frames.shape[0] < 1 or frames.shape[-1] != 3):
            raise ValueError(f"ClipSpec.{fn}(frames): expected uint8 RGB frames (T, H, W, 3) with T >= 1, got "
                             f"{getattr(frames, 'shape', type(frames).__name__)} {getattr(frames, 'dtype', '')}")
        return frames
