"""Across modalities, in miniature: clips paired with captions, a CLIP-style contrastive loss, text-to-video search.

Radford et al. 2021 (CLIP) train an image encoder and a text encoder so that an image and its caption land close
together and apart from the other captions of the batch; video-text models do the same with clips. Here the clips are
the course's synthetic shapes, rendered with a *named* colour, shape and direction, so each clip has an exact caption
("a red square moves left") and relevance is known exactly. Some combinations of words are kept out of training
altogether (:data:`HELD_OUT`: every blue shape moving up, every yellow triangle), so retrieval on them asks whether the
two encoders learned the words or only the combinations they saw.

Shapes: clips (N, C, T, H, W) in [0, 1]; captions are strings of :data:`CAPTION_LENGTH` words; tokens (N, L) word ids
into :data:`VOCABULARY`; embeddings (N, D); similarity matrices (queries, gallery).
"""
from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.synthetic import MOVING_SHAPES_CLASSES, render_moving_shape, sample_shape_params
from ..models.blocks import conv_stack

__all__ = ["COLOURS", "SHAPES", "DIRECTIONS", "HELD_OUT", "VOCABULARY", "CAPTION_LENGTH", "Content",
           "all_contents", "is_held_out", "render_clip", "captioned_clips", "tokenize", "TextEncoder",
           "SmallVideoEncoder", "VideoTextModel", "contrastive_loss", "train_video_text", "recall_at_k",
           "chance_recall_at_k", "text_to_video_recall", "VideoTextHistory"]

#: Named colours (RGB in [0, 1]) of the moving shape; bright, so they stand out from the darker background.
COLOURS = {"red": (1.0, 0.15, 0.15), "green": (0.15, 0.85, 0.15), "blue": (0.2, 0.35, 1.0), "yellow": (1.0, 0.9, 0.1)}
#: The shapes of :mod:`course.data.synthetic`, as they are called in captions.
SHAPES = ("square", "triangle", "ellipse", "plus")
#: Caption word -> MovingShapes class that renders it.
DIRECTIONS = {"left": "move_left", "right": "move_right", "up": "move_up", "down": "move_down"}
#: Combinations never shown in training: each dict fixes some attributes; a content matching all of them is held out.
HELD_OUT = ({"colour": "blue", "direction": "up"}, {"colour": "yellow", "shape": "triangle"})
VOCABULARY = ("a", "moves", *COLOURS, *SHAPES, *DIRECTIONS)
CAPTION_LENGTH = 5
_SPLITS = {"train": 0, "val": 1, "test": 2}


@dataclass(frozen=True)
class Content:
    """What a clip shows: the moving shape's colour, shape and direction."""

    colour: str
    shape: str
    direction: str

    def __post_init__(self):
        for name, value, allowed in (("colour", self.colour, tuple(COLOURS)), ("shape", self.shape, SHAPES),
                                     ("direction", self.direction, tuple(DIRECTIONS))):
            if value not in allowed:
                raise ValueError(f"Content({name}={value!r}): expected one of {allowed}")

    @property
    def caption(self) -> str:
        """The template caption, e.g. "a red square moves left"."""
        return f"a {self.colour} {self.shape} moves {self.direction}"


def all_contents() -> list[Content]:
    """All 4 x 4 x 4 = 64 (colour, shape, direction) combinations, in a fixed order."""
    return [Content(c, s, d) for c, s, d in product(COLOURS, SHAPES, DIRECTIONS)]


def _check_held_out(held_out) -> tuple:
    keys = {"colour", "shape", "direction"}
    if not isinstance(held_out, (tuple, list)) or not all(
            isinstance(h, dict) and h and set(h) <= keys for h in held_out):
        raise ValueError(f"held_out: expected a tuple of dicts with keys from {sorted(keys)}, got {held_out!r}")
    return tuple(held_out)


def is_held_out(content: Content, held_out=HELD_OUT) -> bool:
    """True when ``content`` matches every attribute of one of the ``held_out`` patterns."""
    if not isinstance(content, Content):
        raise TypeError(f"is_held_out(content): expected a Content, got {type(content).__name__}")
    return any(all(getattr(content, k) == v for k, v in h.items()) for h in _check_held_out(held_out))


def render_clip(content: Content, *, seed: int = 0, index: int = 0, split: str = "train", num_frames: int = 8,
                size: int = 32, clutter: int = 2, noise: float = 0.02) -> torch.Tensor:
    """One clip of ``content`` as a float tensor (C=3, T, H, W) in [0, 1], deterministic given (seed, split, index).

    Everything else (size, speed, position, background, distractors, noise) is drawn as in MovingShapes; the shape,
    its colour and the direction come from ``content``.
    """
    if not isinstance(content, Content):
        raise TypeError(f"render_clip(content): expected a Content, got {type(content).__name__}")
    if split not in _SPLITS:
        raise ValueError(f"render_clip(split): expected one of {sorted(_SPLITS)}, got {split!r}")
    rng = np.random.default_rng([seed, _SPLITS[split], index, 18])
    params = sample_shape_params(rng, size=size, num_frames=num_frames, clutter=clutter, noise=noise)
    params["shape"] = content.shape
    params["colour"] = np.asarray(COLOURS[content.colour], dtype=np.float32)
    label = MOVING_SHAPES_CLASSES.index(DIRECTIONS[content.direction])
    frames = render_moving_shape(label, params, size=size, num_frames=num_frames)
    return torch.from_numpy(np.ascontiguousarray(frames.transpose(3, 0, 1, 2)))


def captioned_clips(num_clips: int, *, split: str = "train", seed: int = 0, held_out=HELD_OUT,
                    include_held_out: bool | None = None, **render_kwargs) -> tuple[torch.Tensor, list[Content]]:
    """``num_clips`` clips and their contents -> (clips (N, 3, T, H, W), [Content] * N).

    Contents cycle through the combinations in :func:`all_contents` order, so every combination appears
    ``num_clips / count`` times (up to one). ``include_held_out`` (default: False for "train", True otherwise) decides
    whether the held-out combinations are among them; the training split never contains a held-out combination.
    """
    if not isinstance(num_clips, numbers.Integral) or isinstance(num_clips, bool) or num_clips < 1:
        raise ValueError(f"captioned_clips(num_clips): expected a positive int, got {num_clips!r}")
    if split not in _SPLITS:
        raise ValueError(f"captioned_clips(split): expected one of {sorted(_SPLITS)}, got {split!r}")
    held_out = _check_held_out(held_out)
    if include_held_out is None:
        include_held_out = split != "train"
    if split == "train" and include_held_out:
        raise ValueError("captioned_clips(include_held_out=True): the training split never shows held-out "
                         "combinations")
    contents = [c for c in all_contents() if include_held_out or not is_held_out(c, held_out)]
    chosen = [contents[i % len(contents)] for i in range(num_clips)]
    clips = torch.stack([render_clip(c, seed=seed, index=i, split=split, **render_kwargs)
                         for i, c in enumerate(chosen)])
    return clips, chosen


def tokenize(captions, vocabulary=VOCABULARY) -> torch.Tensor:
    """Captions (a list of N strings of the same number L of words) -> word ids (N, L) into ``vocabulary``."""
    if isinstance(captions, str) or not isinstance(captions, (list, tuple)) or not captions:
        raise TypeError(f"tokenize(captions): expected a non-empty list of strings, got {type(captions).__name__}")
    index = {w: i for i, w in enumerate(vocabulary)}
    rows = []
    for c in captions:
        if not isinstance(c, str):
            raise TypeError(f"tokenize(captions): expected strings, got {type(c).__name__}")
        words = c.split()
        unknown = [w for w in words if w not in index]
        if unknown:
            raise ValueError(f"tokenize(captions): words {unknown} of {c!r} are not in the vocabulary {vocabulary}")
        rows.append([index[w] for w in words])
    if len({len(r) for r in rows}) != 1:
        raise ValueError("tokenize(captions): every caption must have the same number of words")
    return torch.tensor(rows, dtype=torch.long)


class TextEncoder(nn.Module):
    """Word ids (N, L) -> caption embeddings (N, embed_dim): a learned vector per word, averaged, then an MLP.

    Word order is ignored (a bag of words): in these captions each word names one attribute, so nothing is lost.
    """

    def __init__(self, vocabulary_size: int = len(VOCABULARY), embed_dim: int = 64, *, word_dim: int = 64):
        super().__init__()
        self.embed_dim = int(embed_dim)
        self.words = nn.Embedding(vocabulary_size, word_dim)
        self.mlp = nn.Sequential(nn.Linear(word_dim, word_dim), nn.ReLU(), nn.Linear(word_dim, embed_dim))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(tokens) or tokens.ndim != 2 or tokens.dtype != torch.long:
            raise ValueError(f"TextEncoder(tokens): expected word ids (N, L) of dtype long, got "
                             f"{getattr(tokens, 'dtype', type(tokens).__name__)} {tuple(getattr(tokens, 'shape', ()))}")
        return self.mlp(self.words(tokens).mean(dim=1))


class SmallVideoEncoder(nn.Module):
    """Clips (N, 3, T, H, W) -> embeddings (N, embed_dim): three 3x3x3 conv stages (course.models.blocks), each
    halving T, H and W, a global average and a linear layer."""

    def __init__(self, embed_dim: int = 64, *, widths=(16, 32, 64), in_channels: int = 3):
        super().__init__()
        self.embed_dim = int(embed_dim)
        self.features = conv_stack(3, in_channels, widths, pool=2)
        self.proj = nn.Linear(widths[-1], embed_dim)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(clips) or clips.ndim != 5:
            raise ValueError(f"SmallVideoEncoder(clips): expected a tensor (N, C, T, H, W), got "
                             f"{tuple(getattr(clips, 'shape', ())) or type(clips).__name__}")
        smallest = 2 ** len(self.features)
        if min(clips.shape[2:]) < smallest:
            raise ValueError(f"SmallVideoEncoder(clips): T, H and W must be >= {smallest} ({len(self.features)} "
                             f"poolings by 2), got shape {tuple(clips.shape)}")
        return self.proj(self.features(clips - 0.45).mean(dim=(2, 3, 4)))


def contrastive_loss(video: torch.Tensor, text: torch.Tensor, logit_scale: torch.Tensor | float) -> torch.Tensor:
    """CLIP's symmetric loss. video, text (N, D) embeddings of N matching pairs (row i goes with row i).

    Both are L2-normalised; logits = exp(logit_scale) * video @ text.T (N, N), the temperature is
    1 / exp(logit_scale) (the scale is capped at 100, as in CLIP); the loss is the mean of cross-entropy over each
    row (video -> which caption) and over each column (caption -> which video), the target being the diagonal.
    """
    if not torch.is_tensor(video) or not torch.is_tensor(text) or video.ndim != 2 or video.shape != text.shape:
        raise ValueError(f"contrastive_loss(video, text): expected two (N, D) tensors of the same shape, got "
                         f"{tuple(getattr(video, 'shape', ()))} and {tuple(getattr(text, 'shape', ()))}")
    if len(video) < 2:
        raise ValueError("contrastive_loss(video): need at least 2 pairs (the other pairs are the negatives)")
    scale = torch.as_tensor(logit_scale, dtype=video.dtype).exp().clamp(max=100.0)
    logits = scale * F.normalize(video, dim=1) @ F.normalize(text, dim=1).T
    target = torch.arange(len(video))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


class VideoTextModel(nn.Module):
    """A video encoder, a text encoder and a learned ``logit_scale`` (temperature = 1 / exp(logit_scale), starting
    at CLIP's 0.07). ``forward(clips, tokens)`` -> (video embeddings (N, D), text embeddings (N, D)), normalised."""

    def __init__(self, embed_dim: int = 64):
        super().__init__()
        self.video = SmallVideoEncoder(embed_dim)
        self.text = TextEncoder(embed_dim=embed_dim)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def forward(self, clips: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return F.normalize(self.video(clips), dim=1), F.normalize(self.text(tokens), dim=1)

    @torch.no_grad()
    def embed_captions(self, captions) -> torch.Tensor:
        """Captions (list of N strings) -> normalised embeddings (N, D)."""
        return F.normalize(self.text(tokenize(list(captions))), dim=1)

    @torch.no_grad()
    def embed_clips(self, clips: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
        """Clips (N, C, T, H, W) -> normalised embeddings (N, D)."""
        return torch.cat([F.normalize(self.video(clips[i:i + batch_size]), dim=1)
                          for i in range(0, len(clips), batch_size)])


@dataclass
class VideoTextHistory:
    """Training loss per epoch, the temperature at the end of each epoch, and the time it took."""

    losses: list = field(default_factory=list)
    temperatures: list = field(default_factory=list)
    seconds: float = 0.0


def train_video_text(clips: torch.Tensor, contents, *, epochs: int = 10, batch_size: int = 64, lr: float = 2e-3,
                     seed: int = 0, embed_dim: int = 64, progress: bool = True):
    """Train a :class:`VideoTextModel` with :func:`contrastive_loss` on (clip, caption) pairs -> (model, history).

    clips (N, C, T, H, W), contents a list of N :class:`Content`. Adam, a fresh shuffle each epoch; deterministic
    given ``seed`` (the global random state is left as it was). Two clips of a batch with the same caption count as
    negatives of each other, as in CLIP: a little noise, which large batches of varied captions make rare.
    """
    from tqdm.auto import tqdm

    if not torch.is_tensor(clips) or clips.ndim != 5:
        raise ValueError(f"train_video_text(clips): expected a tensor (N, C, T, H, W), got "
                         f"{tuple(getattr(clips, 'shape', ())) or type(clips).__name__}")
    if len(contents) != len(clips) or not all(isinstance(c, Content) for c in contents):
        raise ValueError(f"train_video_text(contents): expected {len(clips)} Content items, one per clip")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < (1 if name == "epochs" else 2):
            raise ValueError(f"train_video_text({name}): expected a positive int (batch_size >= 2), got {value!r}")
    started = time.perf_counter()
    tokens = tokenize([c.caption for c in contents])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = VideoTextModel(embed_dim)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    history = VideoTextHistory()
    model.train()
    for _ in tqdm(range(epochs), desc="video-text contrastive training", disable=not progress):
        order = torch.randperm(len(clips), generator=generator)
        running, seen = 0.0, 0
        for start in range(0, len(clips) - 1, batch_size):
            index = order[start:start + batch_size]
            if len(index) < 2:
                continue
            video, text = model(clips[index], tokens[index])
            loss = contrastive_loss(video, text, model.logit_scale)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(index)
            seen += len(index)
        history.losses.append(running / seen)
        history.temperatures.append(float(1 / model.logit_scale.detach().exp().clamp(max=100)))
    history.seconds = time.perf_counter() - started
    model.eval()
    return model, history


def recall_at_k(similarity: torch.Tensor, relevant: torch.Tensor, k: int) -> float:
    """Fraction of queries with at least one relevant gallery item among their ``k`` most similar.

    similarity (Q, G) floats (higher = closer), relevant (Q, G) bools; every query needs >= 1 relevant item. Ties
    are broken by gallery order (``torch.topk``).
    """
    if not torch.is_tensor(similarity) or similarity.ndim != 2:
        raise ValueError(f"recall_at_k(similarity): expected a tensor (Q, G), got "
                         f"{tuple(getattr(similarity, 'shape', ())) or type(similarity).__name__}")
    if not torch.is_tensor(relevant) or relevant.dtype != torch.bool or relevant.shape != similarity.shape:
        raise ValueError(f"recall_at_k(relevant): expected a bool tensor of shape {tuple(similarity.shape)}")
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k <= similarity.shape[1]:
        raise ValueError(f"recall_at_k(k): expected an int in [1, {similarity.shape[1]}], got {k!r}")
    if not relevant.any(dim=1).all():
        raise ValueError("recall_at_k(relevant): every query needs at least one relevant gallery item")
    top = similarity.topk(int(k), dim=1).indices
    return float(relevant.gather(1, top).any(dim=1).float().mean())


def chance_recall_at_k(relevant: torch.Tensor, k: int) -> float:
    """recall@k of a random ranking: mean over queries of 1 - C(G - m, k) / C(G, k), m relevant of G items."""
    if not torch.is_tensor(relevant) or relevant.dtype != torch.bool or relevant.ndim != 2:
        raise ValueError("chance_recall_at_k(relevant): expected a bool tensor (Q, G)")
    G = relevant.shape[1]
    return float(np.mean([1 - math.comb(G - int(m), k) / math.comb(G, k) for m in relevant.sum(dim=1)]))


def text_to_video_recall(model: VideoTextModel, clips: torch.Tensor, contents, *, ks=(1, 5),
                         held_out=HELD_OUT) -> dict:
    """Text-to-video search over a gallery of clips (N, C, T, H, W) with known ``contents``.

    The queries are the distinct captions of the gallery; a clip is relevant when it shows exactly the caption's
    content. Returns ``{"all" | "seen" | "unseen": {"queries": n, "recall@k": ..., "chance@k": ...}}`` where
    "unseen" are the captions of held-out combinations (never in training).
    """
    if not isinstance(model, VideoTextModel):
        raise TypeError(f"text_to_video_recall(model): expected a VideoTextModel, got {type(model).__name__}")
    if len(contents) != len(clips):
        raise ValueError(f"text_to_video_recall(contents): expected {len(clips)} items, one per clip")
    queries = list(dict.fromkeys(contents))
    was = model.training
    model.eval()
    try:
        similarity = model.embed_captions([q.caption for q in queries]) @ model.embed_clips(clips).T
    finally:
        model.train(was)
    relevant = torch.tensor([[c == q for c in contents] for q in queries])
    unseen = torch.tensor([is_held_out(q, held_out) for q in queries])
    report = {}
    for name, rows in (("all", torch.ones_like(unseen)), ("seen", ~unseen), ("unseen", unseen)):
        if not rows.any():
            continue
        entry = {"queries": int(rows.sum())}
        for k in ks:
            entry[f"recall@{k}"] = recall_at_k(similarity[rows], relevant[rows], k)
            entry[f"chance@{k}"] = chance_recall_at_k(relevant[rows], k)
        report[name] = entry
    return report
