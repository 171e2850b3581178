"""Offline synthetic video datasets, deterministic given a seed: ``MovingShapes`` and ``MovingDigits``.

``MovingShapes`` is the course's test of temporal modelling. Each class is defined only by *how the scene changes
over time*, and every class has its time-reversed twin among the classes::

    move_right <-> move_left     move_down <-> move_up      grow <-> shrink
    rotate_cw  <-> rotate_ccw    fade_in   <-> fade_out

(rotation is about a pivot outside the shape, like a clock hand: a shape spinning in place at 32 x 32 pixels is too
subtle for a small CNN to learn quickly). A clip of the second class of a pair is *exactly* a clip of the first class
played backwards (same random draw, frames reversed), so the two classes contain the same frames with the same
probabilities. A model that ignores frame order — one frame, or an average over frames — therefore cannot beat chance
(50%) within a pair. Shape, colour, size, position, speed, a cluttered background and per-frame noise are random, so
one frame carries no label.

``MovingDigits`` is Moving-MNIST in miniature, built from scikit-learn's 8x8 handwritten digits (shipped with
scikit-learn, no download): digits bounce around a black frame. Use it for classification (the label is the digit, or
the sum of the digits when there are several) or for next-frame prediction (``mode="predict"``).

Both generate each clip on the fly from a random generator seeded with ``(seed, split, index)``: the same arguments
always give the same clip, on any machine, and nothing is written to disk.
"""
from __future__ import annotations

import numbers
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset, TensorDataset

__all__ = ["MovingShapes", "MovingDigits", "MOVING_SHAPES_CLASSES", "MOVING_SHAPES_PAIRS"]

_SPLITS = {"train": 0, "val": 1, "test": 2}
_DEFAULT_NUM_CLIPS = {"train": 2000, "val": 400, "test": 400}

#: (class name, base motion, played backwards?) — the second class of each pair is the first one reversed in time.
_SHAPE_CLASS_SPEC = (
    ("move_right", "move_x", False), ("move_left", "move_x", True),
    ("move_down", "move_y", False), ("move_up", "move_y", True),
    ("grow", "scale", False), ("shrink", "scale", True),
    ("rotate_cw", "rotate", False), ("rotate_ccw", "rotate", True),
    ("fade_in", "fade", False), ("fade_out", "fade", True),
)
MOVING_SHAPES_CLASSES: tuple[str, ...] = tuple(name for name, _, _ in _SHAPE_CLASS_SPEC)
MOVING_SHAPES_PAIRS: tuple[tuple[int, int], ...] = tuple((i, i + 1) for i in range(0, len(_SHAPE_CLASS_SPEC), 2))
_SHAPES = ("square", "triangle", "ellipse", "plus")


def _check_int(value, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value!r}")
    return int(value)


def _check_split(cls_name: str, split) -> str:
    if split not in _SPLITS:
        raise ValueError(f"{cls_name}(split={split!r}): expected one of {sorted(_SPLITS)}")
    return split


def _check_transform(cls_name: str, transform) -> None:
    if transform is not None and not callable(transform):
        raise TypeError(f"{cls_name}(transform=...): expected a callable or None, got {type(transform).__name__}")


# ---------------------------------------------------------------------------------------------------------------------
# MovingShapes
# ---------------------------------------------------------------------------------------------------------------------

def _shape_level(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Implicit shape function in the shape's own frame: < 1 inside, > 1 outside (roughly distance / radius + 1)."""
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) / 0.8
    if shape == "ellipse":
        return np.sqrt(u ** 2 + (v / 0.5) ** 2)
    if shape == "triangle":  # equilateral, inradius 0.5: max over the three edge normals
        angles = np.deg2rad([90.0, 210.0, 330.0])
        return np.max([(np.cos(a) * u + np.sin(a) * v) for a in angles], axis=0) / 0.5
    if shape == "plus":
        return np.minimum(np.maximum(np.abs(u), np.abs(v) / 0.33), np.maximum(np.abs(u) / 0.33, np.abs(v)))
    raise ValueError(f"unknown shape {shape!r}")


def _coverage(shape: str, cx, cy, radius, angle, size: int) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of a shape per frame: (T, H, W) for per-frame arrays cx, cy, radius, angle (T,).

    Angles grow clockwise on screen (image rows point down).
    """
    grid = np.arange(size, dtype=np.float32) + 0.5
    dx = grid[None, None, :] - np.asarray(cx, np.float32)[:, None, None]
    dy = grid[None, :, None] - np.asarray(cy, np.float32)[:, None, None]
    cos, sin = np.cos(angle).astype(np.float32)[:, None, None], np.sin(angle).astype(np.float32)[:, None, None]
    r = np.asarray(radius, np.float32)[:, None, None]
    u = (cos * dx + sin * dy) / r
    v = (-sin * dx + cos * dy) / r
    distance_px = (_shape_level(shape, u, v) - 1.0) * r
    return np.clip(0.5 - distance_px, 0.0, 1.0)


def _smooth_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth random colour texture (H, W, 3) in [0, 0.55]: bilinear upsampling of a 5x5 grid of random colours."""
    coarse = rng.uniform(0.0, 0.55, size=(5, 5, 3)).astype(np.float32)
    pos = np.linspace(0, 4, size, dtype=np.float32)
    i0 = np.minimum(pos.astype(int), 3)
    w = (pos - i0)[:, None]
    rows = coarse[i0] * (1 - w[:, :, None]) + coarse[i0 + 1] * w[:, :, None]          # (H, 5, 3)
    return rows[:, i0] * (1 - w.T[:, :, None]) + rows[:, i0 + 1] * w.T[:, :, None]    # (H, W, 3)


def _random_colour(rng: np.random.Generator) -> np.ndarray:
    """A bright, saturated RGB colour (3,) so the moving shape stands out from the darker background on average."""
    rgb = rng.uniform(0.0, 1.0, size=3)
    rgb[rng.integers(3)] = 1.0
    return (0.45 + 0.55 * rgb).astype(np.float32)


def sample_shape_params(rng: np.random.Generator, *, size: int, num_frames: int, clutter: int = 3,
                        noise: float = 0.04) -> dict:
    """Draw everything random about one MovingShapes clip (shape, colour, size, path, speed, background, noise).

    The class does not enter here: :func:`render_moving_shape` turns the same draw into any class's clip.
    """
    p: dict = {
        "shape": _SHAPES[rng.integers(len(_SHAPES))],
        "colour": _random_colour(rng),
        "radius": rng.uniform(0.13, 0.19) * size,        # radius at the middle frame
        "travel": rng.uniform(0.25, 0.45) * size,        # move_x / move_y: distance covered over the clip
        "growth": rng.uniform(1.7, 2.3),                 # scale: last radius / first radius
        "turn": np.deg2rad(rng.uniform(200.0, 280.0)),  # rotate: angle covered over the clip
        "fade": (rng.uniform(0.0, 0.2), rng.uniform(0.85, 1.0)),  # fade: alpha at the first and last frame
        "angle": rng.uniform(0.0, 2 * np.pi),            # orientation at the middle frame
        "centre_u": rng.uniform(0.0, 1.0, size=2),       # centre at the middle frame, as a fraction of its free range
        "background": _smooth_background(rng, size),
        "distractors": [(_SHAPES[rng.integers(len(_SHAPES))], rng.uniform(0, size, 2), rng.uniform(0.07, 0.12) * size,
                         rng.uniform(0, 2 * np.pi), rng.uniform(0.1, 0.8, 3).astype(np.float32))
                        for _ in range(clutter)],
        "noise": (rng.standard_normal((num_frames, size, size, 3)).astype(np.float32) * noise) if noise > 0 else None,
    }
    return p


def render_moving_shape(label: int, params: dict, *, size: int, num_frames: int,
                        return_coverage: bool = False):
    """Render one MovingShapes clip of class ``label`` from a draw of :func:`sample_shape_params`.

    Returns float32 frames (T, H, W, 3) in [0, 1] (and the target's coverage (T, H, W) if ``return_coverage``).
    For a time-reversed pair (i, j), ``render(j, p)`` is exactly ``render(i, p)`` with its frames reversed.
    """
    if not isinstance(label, numbers.Integral) or not 0 <= label < len(_SHAPE_CLASS_SPEC):
        raise ValueError(f"render_moving_shape(label={label!r}): expected an int in [0, {len(_SHAPE_CLASS_SPEC)})")
    _, motion, backwards = _SHAPE_CLASS_SPEC[int(label)]
    T = num_frames
    s = np.linspace(-0.5, 0.5, T) if T > 1 else np.zeros(1)   # time from the middle of the clip, in clip lengths
    radius = np.full(T, params["radius"])
    angle = np.full(T, params["angle"])
    alpha = np.ones(T)
    offset = np.zeros((T, 2))                                  # (x, y) displacement from the middle-frame centre
    if motion == "move_x":
        offset[:, 0] = params["travel"] * s
    elif motion == "move_y":
        offset[:, 1] = params["travel"] * s
    elif motion == "scale":
        radius = params["radius"] * params["growth"] ** s
    elif motion == "rotate":  # like a clock hand: the shape turns about a pivot outside itself
        angle = params["angle"] + params["turn"] * s
        arm = 1.5 * params["radius"]
        offset[:, 0] = arm * np.cos(angle)
        offset[:, 1] = arm * np.sin(angle)
    elif motion == "fade":
        lo, hi = params["fade"]
        alpha = lo + (hi - lo) * (s + 0.5)
    # Keep the whole path inside the frame: the centre's free range depends on the extent of the motion.
    reach = radius.max() * 1.05
    lo_xy = reach - offset.min(axis=0)
    hi_xy = size - reach - offset.max(axis=0)
    centre = lo_xy + params["centre_u"] * np.maximum(hi_xy - lo_xy, 0.0)
    cx, cy = centre[0] + offset[:, 0], centre[1] + offset[:, 1]

    frame0 = params["background"].copy()
    for shape, (dx, dy), r, a, colour in params["distractors"]:
        cov = _coverage(shape, [dx], [dy], [r], np.array([a]), size)[0][..., None]
        frame0 = frame0 * (1 - cov) + colour * cov
    cov = _coverage(params["shape"], cx, cy, radius, angle, size)           # (T, H, W)
    weight = (cov * alpha[:, None, None].astype(np.float32))[..., None]     # (T, H, W, 1)
    frames = frame0[None] * (1 - weight) + params["colour"] * weight
    if params["noise"] is not None:
        frames = frames + params["noise"]
    frames = np.clip(frames, 0.0, 1.0).astype(np.float32)
    if backwards:
        frames, cov = frames[::-1].copy(), cov[::-1].copy()
    return (frames, cov) if return_coverage else frames


class MovingShapes(Dataset):
    """Clips of one shape that moves, grows, turns or fades over a cluttered, noisy background.

    Each item is ``(clip, label)``: ``clip`` a float32 tensor (C=3, T, H, W) in [0, 1] (after ``transform`` if given),
    ``label`` an int indexing :attr:`classes`. :attr:`pairs` lists the (i, j) class pairs that are time-reversed twins:
    a clip of class j is a clip of class i played backwards. Labels cycle through the classes (item ``k`` has label
    ``k % num_classes``), so every split is balanced.

    Args:
        split: "train", "val" or "test" — independent random streams.
        num_clips: clips in the split (default 2000 for train, 400 for val and test).
        num_frames: T, frames per clip (>= 2).
        size: H = W in pixels (>= 16).
        seed: the same (seed, split, index) always gives the same clip.
        clutter: number of static distractor shapes in the background.
        noise: standard deviation of the per-frame Gaussian pixel noise.
        transform: optional callable applied to the (C, T, H, W) tensor.
    """

    classes: tuple[str, ...] = MOVING_SHAPES_CLASSES
    pairs: list[tuple[int, int]] = list(MOVING_SHAPES_PAIRS)

    def __init__(self, split: str = "train", *, num_clips: int | None = None, num_frames: int = 16, size: int = 32,
                 seed: int = 0, clutter: int = 3, noise: float = 0.04,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.split = _check_split("MovingShapes", split)
        self.num_clips = _check_int(_DEFAULT_NUM_CLIPS[split] if num_clips is None else num_clips,
                                    "MovingShapes(num_clips)", 1)
        self.num_frames = _check_int(num_frames, "MovingShapes(num_frames)", 2)
        self.size = _check_int(size, "MovingShapes(size)", 16)
        self.seed = _check_int(seed, "MovingShapes(seed)", 0)
        self.clutter = _check_int(clutter, "MovingShapes(clutter)", 0)
        if not isinstance(noise, numbers.Real) or not 0 <= noise <= 0.5:
            raise ValueError(f"MovingShapes(noise={noise!r}): expected a number in [0, 0.5]")
        self.noise = float(noise)
        _check_transform("MovingShapes", transform)
        self.transform = transform

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def twin(self, label: int) -> int:
        """The class whose clips are the clips of ``label`` played backwards."""
        for i, j in self.pairs:
            if label in (i, j):
                return j if label == i else i
        raise ValueError(f"MovingShapes.twin(label={label!r}): expected an int in [0, {self.num_classes})")

    def __len__(self) -> int:
        return self.num_clips

    def label_of(self, index: int) -> int:
        return index % self.num_classes

    def params(self, index: int) -> dict:
        """The random draw behind item ``index`` (see :func:`sample_shape_params`)."""
        rng = np.random.default_rng([self.seed, _SPLITS[self.split], index])
        return sample_shape_params(rng, size=self.size, num_frames=self.num_frames, clutter=self.clutter,
                                   noise=self.noise)

    def frames(self, index: int, label: int | None = None) -> np.ndarray:
        """Item ``index`` as float32 frames (T, H, W, 3), rendered as class ``label`` (default: its own label)."""
        index = self._check_index(index)
        label = self.label_of(index) if label is None else label
        return render_moving_shape(label, self.params(index), size=self.size, num_frames=self.num_frames)

    def _check_index(self, index) -> int:
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"MovingShapes[index]: expected an int, got {type(index).__name__}")
        if index < 0:
            index += self.num_clips
        if not 0 <= index < self.num_clips:
            raise IndexError(f"MovingShapes[index]: index {index} out of range for {self.num_clips} clips")
        return int(index)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        index = self._check_index(index)
        # (T, H, W, C) -> (C, T, H, W); transposed in NumPy: torch's threaded copy is slow for many tiny clips
        clip = torch.from_numpy(np.ascontiguousarray(self.frames(index).transpose(3, 0, 1, 2)))
        if self.transform is not None:
            clip = self.transform(clip)
        return clip, self.label_of(index)

    def __repr__(self) -> str:
        return (f"MovingShapes(split={self.split!r}, num_clips={self.num_clips}, num_frames={self.num_frames}, "
                f"size={self.size}, seed={self.seed}, classes={self.num_classes})")


# ---------------------------------------------------------------------------------------------------------------------
# MovingDigits
# ---------------------------------------------------------------------------------------------------------------------

_DIGITS_CACHE: dict = {}


def _digit_images() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 digits as float32 (N, 8, 8) in [0, 1] and their labels (N,); loaded once."""
    if not _DIGITS_CACHE:
        from sklearn.datasets import load_digits

        digits = load_digits()
        _DIGITS_CACHE["images"] = (digits.images / 16.0).astype(np.float32)
        _DIGITS_CACHE["labels"] = digits.target.astype(np.int64)
    return _DIGITS_CACHE["images"], _DIGITS_CACHE["labels"]


def _bounce(start: np.ndarray, velocity: np.ndarray, num_frames: int, limit: float) -> np.ndarray:
    """Positions (T, 2) of a point moving at ``velocity`` and bouncing off the walls 0 and ``limit``."""
    raw = start[None, :] + velocity[None, :] * np.arange(num_frames)[:, None]
    folded = np.mod(raw, 2 * limit)
    return np.where(folded > limit, 2 * limit - folded, folded)


class MovingDigits(Dataset):
    """Moving-MNIST in miniature: scikit-learn's handwritten digits (upscaled to 16x16) bouncing in a black frame.

    ``mode="classify"`` (default): items are ``(clip, label)`` with ``clip`` float32 (C=1, T, H, W) in [0, 1] and
    ``label`` the digit (``num_digits=1``) or the sum of the digits (then there are ``9 * num_digits + 1`` classes).
    ``mode="predict"``: items are ``(past, future)``: the first ``num_input`` frames (1, num_input, H, W) and the rest
    (1, T - num_input, H, W), for next-frame prediction.

    Train, val and test draw from disjoint sets of digit images (80/10/10% of scikit-learn's 1797 digits).
    """

    def __init__(self, split: str = "train", *, num_clips: int | None = None, num_frames: int = 16, size: int = 64,
                 num_digits: int = 1, seed: int = 0, mode: str = "classify", num_input: int | None = None,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.split = _check_split("MovingDigits", split)
        self.num_clips = _check_int(_DEFAULT_NUM_CLIPS[split] if num_clips is None else num_clips,
                                    "MovingDigits(num_clips)", 1)
        self.num_frames = _check_int(num_frames, "MovingDigits(num_frames)", 2)
        self.size = _check_int(size, "MovingDigits(size)", 24)
        self.num_digits = _check_int(num_digits, "MovingDigits(num_digits)", 1)
        if self.num_digits > 4:
            raise ValueError(f"MovingDigits(num_digits={num_digits!r}): expected 1 to 4 digits")
        self.seed = _check_int(seed, "MovingDigits(seed)", 0)
        if mode not in ("classify", "predict"):
            raise ValueError(f"MovingDigits(mode={mode!r}): expected 'classify' or 'predict'")
        self.mode = mode
        if num_input is None:
            num_input = self.num_frames // 2
        self.num_input = _check_int(num_input, "MovingDigits(num_input)", 1)
        if self.num_input >= self.num_frames:
            raise ValueError(f"MovingDigits(num_input={num_input!r}): expected fewer than num_frames={num_frames}")
        _check_transform("MovingDigits", transform)
        self.transform = transform
        images, labels = _digit_images()
        pool = {"train": (0, 8), "val": (8, 9), "test": (9, 10)}[split]
        keep = np.isin(np.arange(len(images)) % 10, np.arange(*pool))
        self._pool = np.flatnonzero(keep)
        self.classes = tuple(str(k) for k in range(9 * self.num_digits + 1))
        self.digit_size = 16

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return self.num_clips

    def draw(self, index: int) -> dict:
        """The random draw behind item ``index``: digit image ids (num_digits,), positions (T, num_digits, 2)."""
        rng = np.random.default_rng([self.seed, 100 + _SPLITS[self.split], index])
        ids = self._pool[rng.integers(len(self._pool), size=self.num_digits)]
        limit = self.size - self.digit_size
        start = rng.uniform(0, limit, size=(self.num_digits, 2))
        angle = rng.uniform(0, 2 * np.pi, size=self.num_digits)
        speed = rng.uniform(1.5, 3.0, size=self.num_digits) * self.size / 64
        velocity = np.stack([np.cos(angle), np.sin(angle)], axis=1) * speed[:, None]
        positions = np.stack([_bounce(start[k], velocity[k], self.num_frames, limit)
                              for k in range(self.num_digits)], axis=1)
        return {"ids": ids, "positions": positions}

    def frames(self, index: int) -> tuple[np.ndarray, int]:
        """Item ``index`` as float32 frames (T, H, W) in [0, 1] and its label."""
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"MovingDigits[index]: expected an int, got {type(index).__name__}")
        if index < 0:
            index += self.num_clips
        if not 0 <= index < self.num_clips:
            raise IndexError(f"MovingDigits[index]: index {index} out of range for {self.num_clips} clips")
        images, labels = _digit_images()
        d = self.draw(int(index))
        frames = np.zeros((self.num_frames, self.size, self.size), dtype=np.float32)
        for k, image_id in enumerate(d["ids"]):
            patch = np.kron(images[image_id], np.ones((2, 2), np.float32))   # 8x8 -> 16x16
            for t, (x, y) in enumerate(np.rint(d["positions"][:, k]).astype(int)):
                view = frames[t, y:y + self.digit_size, x:x + self.digit_size]
                np.maximum(view, patch, out=view)
        return frames, int(labels[d["ids"]].sum())

    def __getitem__(self, index: int):
        frames, label = self.frames(index)
        clip = torch.from_numpy(frames)[None]                                  # (1, T, H, W)
        if self.transform is not None:
            clip = self.transform(clip)
        if self.mode == "predict":
            return clip[:, : self.num_input], clip[:, self.num_input:]
        return clip, label

    def __repr__(self) -> str:
        return (f"MovingDigits(split={self.split!r}, num_clips={self.num_clips}, num_frames={self.num_frames}, "
                f"size={self.size}, num_digits={self.num_digits}, mode={self.mode!r})")


def tensor_dataset(dataset) -> TensorDataset:
    """Render every item of a ``(clip, label)`` dataset once, into memory: a TensorDataset of clips (N, C, T, H, W)
    and int64 labels (N,).

    For the small synthetic datasets, so that training epochs reuse the clips instead of rendering them again.
    """
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"tensor_dataset(dataset): expected a map-style dataset of (clip, label) items, "
                        f"got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("tensor_dataset(dataset): the dataset is empty")
    clips, labels = zip(*(dataset[i] for i in range(len(dataset))))
    return TensorDataset(torch.stack(clips), torch.as_tensor(labels, dtype=torch.int64))
