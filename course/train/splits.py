"""Splits that don't lie (chapter 13).

- :func:`last_fraction_split` is what Keras' ``validation_split=0.2`` does: the *last* 20% of the arrays, unshuffled.
  On data stored class by class (a folder per class, read in order) the validation set then holds only the last
  classes, which the model never trained on: 0% validation accuracy (see chapter 13). Shuffle (stratified) first.
- :func:`grouped_copies` makes synthetic groups: several jittered copies of each source image, like the clips cut
  from one long video (UCF101's "groups": the same actor, room and camera). Splitting such copies at random puts
  near-duplicates on both sides, and the validation accuracy measures memory, not generalisation; split by group
  (scikit-learn's ``GroupShuffleSplit``, ``StratifiedGroupKFold``).
- :func:`ucf101_group` reads the group of a UCF101 file name.
"""
from __future__ import annotations

import numbers
import re

import numpy as np

__all__ = ["last_fraction_split", "grouped_copies", "ucf101_group"]


def last_fraction_split(n: int, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train (n - m,), val (m,))`` with the validation set the last ``m = int(n * val_fraction)`` samples,
    in order — Keras' ``validation_split`` (which takes the split *before* any shuffling)."""
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 2:
        raise ValueError(f"last_fraction_split(n={n!r}): expected an int >= 2")
    if not isinstance(val_fraction, numbers.Real) or not 0 < val_fraction < 1:
        raise ValueError(f"last_fraction_split(val_fraction={val_fraction!r}): expected a fraction in (0, 1)")
    m = max(1, int(n * val_fraction))
    index = np.arange(n)
    return index[: n - m], index[n - m:]


def grouped_copies(images: np.ndarray, labels: np.ndarray, *, copies: int = 5, shift: int = 1, noise: float = 0.1,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``copies`` jittered versions of every image: each shifted by up to ``shift`` pixels and with Gaussian noise.

    ``images`` (N, H, W), ``labels`` (N,) -> ``(images (N * copies, H, W), labels (N * copies,), groups
    (N * copies,))`` where ``groups[i]`` is the index of the source image: copies of one source form a group.
    """
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3:
        raise ValueError(f"grouped_copies(images): expected (N, H, W), got shape {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"grouped_copies(labels): expected shape ({images.shape[0]},), got {labels.shape}")
    for name, value, low in (("copies", copies, 1), ("shift", shift, 0), ("seed", seed, 0)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"grouped_copies({name}={value!r}): expected an int >= {low}")
    if not isinstance(noise, numbers.Real) or noise < 0:
        raise ValueError(f"grouped_copies(noise={noise!r}): expected a number >= 0")
    rng = np.random.default_rng(seed)
    out = np.repeat(images.astype(np.float32), copies, axis=0)
    for i in range(len(out)):
        dy, dx = rng.integers(-shift, shift + 1, 2)
        out[i] = np.roll(out[i], (dy, dx), axis=(0, 1))
    out += noise * rng.standard_normal(out.shape).astype(np.float32)
    return out, np.repeat(labels, copies), np.repeat(np.arange(len(images)), copies)


_UCF_NAME = re.compile(r"v_(?P<action>[A-Za-z]+)_g(?P<group>\d+)_c(?P<clip>\d+)")


def ucf101_group(name: str) -> int:
    """The group number (1..25) in a UCF101 file name: ``"v_ApplyEyeMakeup_g08_c01.avi"`` -> 8.

    The clips of one group come from one long video (same actor, background, viewpoint); the official splits keep
    each group on one side (groups 1-7 test in split 1, 8-14 in split 2, 15-21 in split 3).
    """
    if not isinstance(name, str):
        raise TypeError(f"ucf101_group(name): expected a file name string, got {type(name).__name__}")
    match = _UCF_NAME.search(name)
    if match is None:
        raise ValueError(f"ucf101_group(name={name!r}): expected a UCF101 name like v_<Action>_g<group>_c<clip>.avi")
    return int(match.group("group"))
