"""Checks for chapter 19 (capstone): a group-disjoint split, accuracy per group, and a bootstrap over groups.

References come from :mod:`course.capstone.groups`. The bootstrap is random: its cases are chosen so that the
interval is fixed by the data (every group equally accurate: a single point) or falls on a wide, discrete step
(one group of four all wrong), so any correct implementation lands within the tolerance whatever its random numbers.
"""
from __future__ import annotations

import numbers

from ..capstone import groups as ref
from .core import Case, CheckResult, check_function


def _same_split(got, expected):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (kept indices, held-out indices), got {got!r:.80}"
    try:
        kept, out = sorted(int(i) for i in got[0]), sorted(int(i) for i in got[1])
    except (TypeError, ValueError):
        return "expected two lists of int indices"
    if kept != list(expected[0]):
        return f"kept indices {kept}, expected {list(expected[0])}"
    if out != list(expected[1]):
        return f"held-out indices {out}, expected {list(expected[1])}"
    return None


def split_by_groups(fn) -> CheckResult:
    """Check ``fn(groups, held_out) -> (kept, held_out_indices)``: clip i is held out iff its group is in
    ``held_out``; groups compare as strings."""
    cases = [
        Case((["p1", "p1", "p2", "p3", "p3"], ["p3"]), name="persons as strings"),
        Case(([11, 12, 1, 4, 12, 1], [1, 4]), name="KTH person numbers: hold out persons 1 and 4",
             hint="a clip goes to the held-out side iff its group is one of the held-out groups"),
        Case(([3, "3", 5, 7], ["3"]), name="person 3 and '3' are the same group",
             hint="compare str(group): a group file gives strings, file names give ints"),
        Case((["a", "b", "a", "c", "b", "a"], ["b", "c"]), name="clips of a group are not next to each other"),
    ]
    return check_function(fn, cases, title="split_by_groups", reference=ref.split_by_groups, compare_fn=_same_split)


def _same_table(got, expected):
    if not isinstance(got, dict):
        return f"expected a dict {{group: {{'n', 'correct', 'accuracy'}}}}, got {type(got).__name__}"
    got = {str(k): v for k, v in got.items()}
    if set(got) != set(expected):
        return f"groups {sorted(got)}, expected {sorted(expected)}"
    for g, want in expected.items():
        row = got[g]
        if not isinstance(row, dict) or not {"n", "correct", "accuracy"} <= set(row):
            return f"group {g}: expected a dict with 'n', 'correct' and 'accuracy', got {row!r:.60}"
        if row["n"] != want["n"] or row["correct"] != want["correct"]:
            return f"group {g}: {row['correct']} correct of {row['n']}, expected {want['correct']} of {want['n']}"
        if not isinstance(row["accuracy"], numbers.Real) or abs(row["accuracy"] - want["accuracy"]) > 1e-9:
            return f"group {g}: accuracy {row['accuracy']!r}, expected {want['accuracy']}"
    return None


def per_group_accuracy(fn) -> CheckResult:
    """Check ``fn(y_true, y_pred, groups) -> {group: {"n", "correct", "accuracy"}}`` with groups as strings."""
    cases = [
        Case(([0, 1, 1, 0], [0, 1, 0, 0], ["a", "a", "b", "b"]), name="two groups of two"),
        Case(([0, 0, 0, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1, 0], [1, 1, 1, 4, 4, 19, 19]), name="KTH persons (ints)",
             hint="the keys are str(group): '1', '4', '19'"),
        Case(([1, 0, 1], [1, 0, 1], ["x", "y", "x"]), name="everything right"),
        Case(([0] * 9 + [1], [0] * 9 + [0], ["big"] * 9 + ["small"]), name="a group of one clip",
             hint="a group of one is 0% or 100%: report n beside the accuracy"),
    ]
    return check_function(fn, cases, title="per_group_accuracy", reference=ref.per_group_accuracy,
                          compare_fn=_same_table)


def _close_interval(got, expected, tolerance=0.05):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (low, high), got {got!r:.80}"
    try:
        low, high = float(got[0]), float(got[1])
    except (TypeError, ValueError):
        return "expected two numbers (low, high)"
    if low > high:
        return f"low {low:.3f} is above high {high:.3f}"
    if abs(low - expected[0]) > tolerance or abs(high - expected[1]) > tolerance:
        return f"({low:.3f}, {high:.3f}), expected about ({expected[0]:.3f}, {expected[1]:.3f})"
    return None


def group_bootstrap_interval(fn) -> CheckResult:
    """Check ``fn(y_true, y_pred, groups, draws, seed) -> (low, high)``: the 95% percentile interval of the accuracy
    when whole groups are resampled with replacement and their clips pooled."""
    y_true = [0] * 40
    cases = [
        Case((y_true, [1 if i % 5 == 0 else 0 for i in range(40)], [i // 5 for i in range(40)], 2000, 0),
             name="every group 4/5 right: no variation between groups", expected=(0.8, 0.8),
             hint="resample groups, not clips: when every group has the same accuracy, every draw gives 0.8"),
        Case((y_true, [1] * 10 + [0] * 30, [i // 10 for i in range(40)], 4000, 1),
             name="4 groups of 10, one all wrong", expected=(0.25, 1.0),
             hint="draw len(groups) groups with replacement; 1 - (wrong groups drawn) / 4 ranges from 0 to 1"),
        Case(([0] * 32, [1, 1] + [0] * 30, [0, 0] + [1] * 10 + [2] * 10 + [3] * 10, 4000, 2),
             name="a group of 2 clips (both wrong) and three of 10: pool the clips, do not average the groups",
             expected=(0.625, 1.0),
             hint="accuracy of a draw = sum of correct / sum of n over the drawn groups"),
    ]
    return check_function(fn, cases, title="group_bootstrap_interval", compare_fn=_close_interval,
                          hint="rng.integers(0, G, size=(draws, G)) picks groups; np.percentile(acc, [2.5, 97.5])")
