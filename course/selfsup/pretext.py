"""Pretext tasks made from the clip itself (chapter 18): arrow of time, clip order, and a shortcut that solves both.

- *Arrow of time*: is the clip played forwards (label 0) or backwards (label 1)? :func:`reverse_clip`,
  :func:`arrow_of_time_pair`, :class:`ArrowOfTime`.
- *Clip order*: cut the clip into 3 sub-clips, shuffle them, predict which of the 3! = 6 orders was used.
  :data:`CLIP_ORDERS`, :func:`split_subclips`, :func:`shuffle_subclips`, :class:`ClipOrder`.
- *The shortcut*: :func:`add_fade` darkens the first frames of every clip, less and less (a camera's exposure
  settling after it starts recording). The fade alone tells the time order of frames — no motion needed.
  :func:`normalize_frames` blocks it: every frame rescaled to zero mean and unit spread, so brightness says nothing
  about time. :func:`frame_brightness` is the cue itself, for a "cue only" model.
- :func:`pretext_encoder` builds the small 3D CNN encoder the chapter pretrains (clips (N, C, T, H, W) -> (N, D)).

The unlabelled clips are tensors (N, C, T, H, W); :func:`unlabelled_clips` makes them from the course's synthetic
videos, :func:`unlabelled_video_clips` from a folder of videos (KTH without its labels, ``COURSE_KTH_DIR``).
"""
from __future__ import annotations

import itertools
import numbers

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

__all__ = ["CLIP_ORDERS", "ArrowOfTime", "ClipEncoder", "ClipOrder", "add_fade", "arrow_of_time_pair",
           "frame_brightness", "normalize_frames", "pretext_accuracy", "pretext_encoder", "pretrain", "reverse_clip",
           "shuffle_subclips", "split_subclips", "unlabelled_clips", "unlabelled_video_clips"]

#: The 6 orders of 3 sub-clips; the label of a shuffled clip is the index of its order here ((0, 1, 2) = unshuffled).
CLIP_ORDERS: tuple[tuple[int, int, int], ...] = tuple(itertools.permutations(range(3)))


def _check_clip(clip, fn: str, name: str = "clip", *, batched: bool | None = None) -> torch.Tensor:
    """A float tensor (C, T, H, W), or (N, C, T, H, W) too unless ``batched`` is False / only it if True."""
    if not isinstance(clip, torch.Tensor):
        raise TypeError(f"{fn}({name}): expected a torch.Tensor (C, T, H, W), got {type(clip).__name__}")
    allowed = {None: (4, 5), False: (4,), True: (5,)}[batched]
    if clip.ndim not in allowed:
        layout = " or ".join({4: "(C, T, H, W)", 5: "(N, C, T, H, W)"}[d] for d in allowed)
        raise ValueError(f"{fn}({name}): expected {layout}, got shape {tuple(clip.shape)}")
    if not clip.is_floating_point():
        raise TypeError(f"{fn}({name}): expected a floating-point tensor, got dtype {clip.dtype}")
    return clip


def _check_int(value, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def reverse_clip(clip: torch.Tensor) -> torch.Tensor:
    """The clip played backwards: frames in reverse order. (C, T, H, W) -> (C, T, H, W), or (N, C, T, H, W) -> same."""
    clip = _check_clip(clip, "reverse_clip")
    return clip.flip(-3)


def arrow_of_time_pair(clip: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One clip (C, T, H, W) -> the pretext pair: clips (2, C, T, H, W) = [forward, reversed], labels (2,) = [0, 1]."""
    clip = _check_clip(clip, "arrow_of_time_pair", batched=False)
    return torch.stack([clip, reverse_clip(clip)]), torch.tensor([0, 1])


def split_subclips(clip: torch.Tensor, parts: int = 3) -> torch.Tensor:
    """Cut a clip (C, T, H, W) into ``parts`` consecutive sub-clips of T // parts frames: (parts, C, T // parts, H, W).

    Frames left over at the end (T not a multiple of ``parts``) are dropped.
    """
    clip = _check_clip(clip, "split_subclips", batched=False)
    parts = _check_int(parts, "split_subclips(parts)", 2)
    length = clip.shape[1] // parts
    if length < 1:
        raise ValueError(f"split_subclips(clip): {clip.shape[1]} frames cannot make {parts} sub-clips")
    return torch.stack([clip[:, i * length:(i + 1) * length] for i in range(parts)])


def shuffle_subclips(clip: torch.Tensor, order) -> torch.Tensor:
    """The clip (C, T, H, W) with its 3 sub-clips put in ``order`` (a permutation of 0, 1, 2, or its index in
    :data:`CLIP_ORDERS`): (C, 3 * (T // 3), H, W). Position i of the result holds the original sub-clip ``order[i]``.
    """
    if isinstance(order, numbers.Integral) and not isinstance(order, bool):
        if not 0 <= order < len(CLIP_ORDERS):
            raise ValueError(f"shuffle_subclips(order): expected an index in [0, {len(CLIP_ORDERS)}), got {order}")
        order = CLIP_ORDERS[order]
    if not isinstance(order, (tuple, list)) or sorted(order) != [0, 1, 2]:
        raise ValueError(f"shuffle_subclips(order): expected a permutation of (0, 1, 2) or an int, got {order!r}")
    subclips = split_subclips(clip, 3)
    return torch.cat([subclips[i] for i in order], dim=1)


def add_fade(clip: torch.Tensor, strength: float = 0.5) -> torch.Tensor:
    """The shortcut: a fade-in. Frame t is multiplied by ``1 - strength * (1 - t / (T - 1))`` — the first frame is
    darkest, the last untouched — like a camera whose exposure settles after it starts recording.
    (C, T, H, W) or (N, C, T, H, W) -> the same shape; values stay in [0, 1] if they were.
    """
    clip = _check_clip(clip, "add_fade")
    if not isinstance(strength, numbers.Real) or isinstance(strength, bool) or not 0 <= strength <= 1:
        raise ValueError(f"add_fade(strength): expected a number in [0, 1], got {strength!r}")
    t = clip.shape[-3]
    gain = 1.0 - float(strength) * torch.linspace(1.0, 0.0, t, dtype=clip.dtype)
    return clip * gain.view(t, 1, 1)


def normalize_frames(clip: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Block brightness cues: every frame shifted and scaled to zero mean and unit standard deviation (over its
    channels and pixels). (C, T, H, W) or (N, C, T, H, W) -> the same shape.
    """
    clip = _check_clip(clip, "normalize_frames")
    dims = (-4, -2, -1)   # C, H, W: statistics per frame
    mean = clip.mean(dim=dims, keepdim=True)
    std = clip.std(dim=dims, keepdim=True)
    return (clip - mean) / (std + eps)


def frame_brightness(clips: torch.Tensor) -> torch.Tensor:
    """The cue a shortcut uses: the mean of every frame. Clips (N, C, T, H, W) -> (N, T)."""
    clips = _check_clip(clips, "frame_brightness", "clips", batched=True)
    return clips.mean(dim=(1, 3, 4))


class _PretextDataset(Dataset):
    """Items made from unlabelled clips (N, C, T, H, W) by a pretext task, each with a label drawn from a generator
    seeded by ``seed``: the same seed gives the same task every time."""

    num_classes: int

    def __init__(self, clips: torch.Tensor, *, seed: int = 0, transform=None):
        name = type(self).__name__
        self.clips = _check_clip(clips, name, "clips", batched=True)
        if len(clips) == 0:
            raise ValueError(f"{name}(clips): expected at least one clip")
        if transform is not None and not callable(transform):
            raise TypeError(f"{name}(transform): expected a callable on a clip (C, T, H, W), got "
                            f"{type(transform).__name__}")
        self.transform = transform
        seed = _check_int(seed, f"{name}(seed)", 0)
        self.labels = torch.from_numpy(np.random.default_rng(seed).integers(0, self.num_classes, len(clips)))

    def __len__(self) -> int:
        return len(self.clips)

    def make(self, clip: torch.Tensor, label: int) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        label = int(self.labels[index])
        clip = self.make(self.clips[index], label)
        if self.transform is not None:
            clip = self.transform(clip)
        return clip, label

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every item at once: clips (N, C, T', H, W) and int64 labels (N,)."""
        clips, labels = zip(*(self[i] for i in range(len(self))))
        return torch.stack(clips), torch.as_tensor(labels, dtype=torch.int64)


class ArrowOfTime(_PretextDataset):
    """Arrow of time: item i is clip i played forwards (label 0) or backwards (label 1), half and half at random.

    ``transform`` (optional) is applied to the clip *after* it is reversed or not — e.g. :func:`normalize_frames`
    to block a brightness shortcut. Items: (clip (C, T, H, W), label).
    """

    num_classes = 2

    def make(self, clip, label):
        return reverse_clip(clip) if label == 1 else clip


class ClipOrder(_PretextDataset):
    """Clip order: item i is clip i with its 3 sub-clips in order ``CLIP_ORDERS[label]`` (label in 0..5).

    Items: (clip (C, 3 * (T // 3), H, W), label); ``transform`` is applied after shuffling.
    """

    num_classes = len(CLIP_ORDERS)

    def make(self, clip, label):
        return shuffle_subclips(clip, label)


class ClipEncoder(nn.Module):
    """A small 3D CNN encoder: conv stages (course.models.blocks), then global average pooling.

    Clips (N, C, T, H, W) -> embeddings (N, embed_dim), ``embed_dim = widths[-1]``. ``normalize=True`` applies
    :func:`normalize_frames` to the input first (the block against brightness shortcuts), in pretraining and in every
    later use of the encoder alike.
    """

    def __init__(self, in_channels: int = 3, widths=(16, 32, 64), *, normalize: bool = True):
        super().__init__()
        from ..models.blocks import check_positive_int, check_widths, conv_stack

        self.in_channels = check_positive_int(in_channels, "ClipEncoder(in_channels)")
        widths = check_widths(widths, "ClipEncoder(widths)")
        if not isinstance(normalize, bool):
            raise TypeError(f"ClipEncoder(normalize): expected a bool, got {type(normalize).__name__}")
        self.normalize = normalize
        # pool space only in the first stage, space and time after it: time is what the pretext tasks are about
        first = conv_stack(3, self.in_channels, widths[:1], pool=(1, 2, 2))
        rest = conv_stack(3, widths[0], widths[1:], pool=2) if len(widths) > 1 else nn.Sequential()
        self.features = nn.Sequential(*first, *rest)
        self.embed_dim = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from ..models.blocks import check_input

        check_input(x, 5, "(N, C, T, H, W)", type(self).__name__, self.in_channels)
        if self.normalize:
            x = normalize_frames(x)
        return self.features(x).mean(dim=(2, 3, 4))


def pretext_encoder(widths=(16, 32, 64), *, normalize: bool = True, in_channels: int = 3) -> ClipEncoder:
    """A fresh, randomly initialised :class:`ClipEncoder` (clips (N, C, T, H, W) -> (N, widths[-1]))."""
    return ClipEncoder(in_channels, widths, normalize=normalize)


def unlabelled_clips(num_clips: int, *, num_frames: int = 12, size: int = 32, seed: int = 1,
                     source: str = "shapes") -> torch.Tensor:
    """Unlabelled clips (N, C, T, H, W) in [0, 1] from the course's synthetic videos, labels thrown away.

    ``source="shapes"``: :class:`course.data.MovingShapes` (split "train", seed ``seed`` — by default not the seed of
    the labelled data); ``"digits"``: :class:`course.data.MovingDigits` (size >= 24, digits bouncing; grey, repeated
    to 3 channels).
    """
    from ..data import MovingDigits, MovingShapes

    num_clips = _check_int(num_clips, "unlabelled_clips(num_clips)", 1)
    if source == "shapes":
        data = MovingShapes("train", num_clips=num_clips, num_frames=num_frames, size=size, seed=seed)
    elif source == "digits":
        data = MovingDigits("train", num_clips=num_clips, num_frames=num_frames, size=size, seed=seed)
    else:
        raise ValueError(f"unlabelled_clips(source): expected 'shapes' or 'digits', got {source!r}")
    clips = torch.stack([data[i][0] for i in range(num_clips)])
    return clips.expand(-1, 3, -1, -1, -1).contiguous() if clips.shape[1] == 1 else clips


def unlabelled_video_clips(root, *, num_frames: int = 12, size: int = 32, max_videos: int | None = None
                           ) -> torch.Tensor:
    """Unlabelled clips (N, 3, T, H, W) in [0, 1] from the videos in a folder (``root/<class>/<video>``, e.g. the KTH
    development clips of chapter 14 via ``COURSE_KTH_DIR``): one clip of ``num_frames`` from the middle of each video,
    decoded at ``size`` x ``size``. The class folders are ignored — no labels are used.
    """
    from ..data import VideoFolder, to_float_clip

    num_frames = _check_int(num_frames, "unlabelled_video_clips(num_frames)", 3)
    size = _check_int(size, "unlabelled_video_clips(size)", 8)
    videos = VideoFolder(root, frames_per_clip=num_frames, decode_size=(size, size), transform=to_float_clip)
    count = len(videos) if max_videos is None else min(len(videos), _check_int(max_videos, "max_videos", 1))
    if count == 0:
        raise ValueError(f"unlabelled_video_clips(root): no videos under {str(root)!r}")
    order = np.random.default_rng(0).permutation(len(videos))[:count]
    clips = torch.stack([videos[int(i)][0] for i in order])
    return clips.expand(-1, 3, -1, -1, -1).contiguous() if clips.shape[1] == 1 else clips


def pretrain(encoder: nn.Module, task: Dataset, *, epochs: int = 8, lr: float = 3e-3, batch_size: int = 32,
             seed: int = 0, progress: bool = True) -> tuple[nn.Module, list[float]]:
    """Train ``encoder`` (in place) with a linear head on a pretext task: ``task`` is an :class:`ArrowOfTime` or
    :class:`ClipOrder` (items: clip (C, T, H, W), pretext label). AdamW with a one-cycle schedule
    (:func:`course.train.recipes.train_one_cycle`).

    Returns ``(model, train_loss)``: ``model = nn.Sequential(encoder, head)`` maps clips (N, C, T, H, W) to pretext
    logits (N, task.num_classes); ``train_loss`` has one mean loss per epoch.
    """
    from torch.utils.data import TensorDataset

    from ..train.recipes import train_one_cycle

    if not isinstance(encoder, nn.Module) or not isinstance(getattr(encoder, "embed_dim", None), int):
        raise TypeError(f"pretrain(encoder): expected an nn.Module with an int embed_dim, got {type(encoder).__name__}")
    if not isinstance(task, _PretextDataset):
        raise TypeError(f"pretrain(task): expected an ArrowOfTime or ClipOrder dataset, got {type(task).__name__}")
    torch.manual_seed(seed)
    model = nn.Sequential(encoder, nn.Linear(encoder.embed_dim, task.num_classes))
    history = train_one_cycle(model, TensorDataset(*task.tensors()), epochs=epochs, batch_size=batch_size, lr=lr,
                              seed=seed, progress=progress)
    return model, list(history["train_loss"])


@torch.no_grad()
def pretext_accuracy(model: nn.Module, task: Dataset) -> float:
    """Accuracy of a pretext model (clips (N, C, T, H, W) -> logits (N, K)) on every item of a pretext dataset."""
    if not isinstance(task, _PretextDataset):
        raise TypeError(f"pretext_accuracy(task): expected an ArrowOfTime or ClipOrder dataset, got "
                        f"{type(task).__name__}")
    clips, labels = task.tensors()
    model.eval()
    preds = torch.cat([model(clips[i:i + 128]).argmax(1) for i in range(0, len(clips), 128)])
    return float((preds == labels).double().mean())
