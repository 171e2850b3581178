"""Groups — who or where a clip was filmed — and what they mean for splits and results (chapter 19).

Clips of the same person (or scene, or source video) look alike, so a split that puts one group on both sides lets a
model recognise the group instead of the action. Everything here is NumPy only (the capstone checker uses it without
PyTorch):

- :func:`read_group_file`: the group of every clip of the learner's own data (``path,group`` lines);
- :func:`split_by_groups`: indices of a group-disjoint split, given which groups are held out;
- :func:`shared_groups`: the groups found on both sides of a split (empty: no leak);
- :func:`per_group_accuracy`: correct / n per group — the fairness line of a report;
- :func:`group_bootstrap_interval`: a 95% interval that resamples whole groups (clips of one person are not
  independent trials).
"""
from __future__ import annotations

import csv
import numbers
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

__all__ = ["read_group_file", "split_by_groups", "shared_groups", "per_group_accuracy", "group_bootstrap_interval"]


def _labels(values, name: str, fn: str) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{fn}({name}): expected a sequence of class indices, got {type(values).__name__}")
    array = np.asarray(values)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise ValueError(f"{fn}({name}): expected a 1-D sequence of ints, got shape {array.shape} {array.dtype}")
    return array.astype(np.int64)


def _groups(values, name: str, fn: str) -> list[str]:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{fn}({name}): expected a sequence of group names, got {type(values).__name__}")
    return [str(g) for g in values]


def read_group_file(path, root=None) -> dict[str, str]:
    """Read a group file: one ``<video path>,<group>`` line per clip (a header ``path,group`` is allowed) ->
    ``{video path relative to root (POSIX): group}``.

    ``root``: the data folder the paths are relative to (``root/<class>/<video>``, the ``VideoFolder`` layout); when
    given, every listed file must exist under it. Raises ``FileNotFoundError`` for a missing file and ``ValueError``
    (naming the line) for a malformed line, an empty group or a clip listed twice.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"read_group_file(path): no file {str(path)!r}")
    groups: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                continue
            if number == 1 and [c.strip().lower() for c in row] == ["path", "group"]:
                continue
            if len(row) != 2 or not row[0].strip() or not row[1].strip():
                raise ValueError(f"read_group_file: {path}, line {number}: expected '<video path>,<group>', got {row!r}")
            clip, group = Path(row[0].strip()).as_posix(), row[1].strip()
            if clip in groups:
                raise ValueError(f"read_group_file: {path}, line {number}: {clip!r} is listed twice")
            if root is not None and not (Path(root) / clip).is_file():
                raise ValueError(f"read_group_file: {path}, line {number}: no video {clip!r} under {str(root)!r}")
            groups[clip] = group
    if not groups:
        raise ValueError(f"read_group_file: {path} lists no clip")
    return groups


def split_by_groups(groups: Sequence, held_out: Iterable) -> tuple[list[int], list[int]]:
    """Indices of a group-disjoint split -> (kept, held_out): clip ``i`` is held out iff ``groups[i]`` is in
    ``held_out``. Groups are compared as strings (person 3 and "3" are the same group). Raises ``ValueError`` when a
    held-out group has no clip or when either side would be empty."""
    names = _groups(groups, "groups", "split_by_groups")
    chosen = {str(g) for g in held_out}
    missing = sorted(chosen - set(names))
    if missing:
        raise ValueError(f"split_by_groups(held_out): groups {missing} have no clip (groups present: "
                         f"{sorted(set(names))})")
    kept = [i for i, g in enumerate(names) if g not in chosen]
    out = [i for i, g in enumerate(names) if g in chosen]
    if not kept or not out:
        raise ValueError("split_by_groups(held_out): one side of the split would be empty")
    return kept, out


def shared_groups(*sides: Sequence) -> list[str]:
    """Groups that appear on more than one of the given sides (each a sequence of group names), sorted: [] means
    the sides are group-disjoint."""
    if len(sides) < 2:
        raise ValueError(f"shared_groups(sides): expected at least two sides, got {len(sides)}")
    seen: dict[str, int] = {}
    for side in sides:
        for g in set(_groups(side, "sides", "shared_groups")):
            seen[g] = seen.get(g, 0) + 1
    return sorted(g for g, count in seen.items() if count > 1)


def per_group_accuracy(y_true: Sequence[int], y_pred: Sequence[int], groups: Sequence) -> dict[str, dict]:
    """Accuracy of each group: (N,) true labels, (N,) predictions, (N,) group names -> ``{group: {"n", "correct",
    "accuracy"}}`` with groups as strings, sorted by name."""
    t, p = _labels(y_true, "y_true", "per_group_accuracy"), _labels(y_pred, "y_pred", "per_group_accuracy")
    g = _groups(groups, "groups", "per_group_accuracy")
    if not len(t) == len(p) == len(g) or not len(t):
        raise ValueError(f"per_group_accuracy: expected y_true, y_pred and groups of one equal, non-zero length, got "
                         f"{len(t)}, {len(p)}, {len(g)}")
    out = {}
    for name in sorted(set(g)):
        mask = np.array([x == name for x in g])
        correct = int((t[mask] == p[mask]).sum())
        out[name] = {"n": int(mask.sum()), "correct": correct, "accuracy": correct / int(mask.sum())}
    return out


def group_bootstrap_interval(y_true: Sequence[int], y_pred: Sequence[int], groups: Sequence, *, draws: int = 2000,
                             seed: int = 0, confidence: float = 0.95) -> tuple[float, float]:
    """A bootstrap interval for the accuracy that resamples whole groups -> (low, high).

    Each draw picks as many groups as there are, with replacement, and pools their clips (correct / n of the pooled
    clips); the interval is the central ``confidence`` share of the draws (percentiles). When the errors concentrate
    in a few groups it is wider than an interval that treats every clip as an independent trial.
    ``y_true``, ``y_pred``, ``groups``: (N,) each.
    """
    t, p = _labels(y_true, "y_true", "group_bootstrap_interval"), _labels(y_pred, "y_pred", "group_bootstrap_interval")
    g = _groups(groups, "groups", "group_bootstrap_interval")
    if not len(t) == len(p) == len(g) or not len(t):
        raise ValueError("group_bootstrap_interval: expected y_true, y_pred and groups of one equal, non-zero length")
    if isinstance(draws, bool) or not isinstance(draws, numbers.Integral) or draws < 100:
        raise ValueError(f"group_bootstrap_interval(draws): expected an int >= 100, got {draws!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
        raise ValueError(f"group_bootstrap_interval(confidence): expected a number in (0, 1), got {confidence!r}")
    table = per_group_accuracy(t, p, g)
    correct = np.array([v["correct"] for v in table.values()], dtype=np.float64)
    n = np.array([v["n"] for v in table.values()], dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(n), size=(int(draws), len(n)))
    accuracies = correct[picks].sum(axis=1) / n[picks].sum(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(accuracies, [tail, 100 - tail])
    return float(low), float(high)
