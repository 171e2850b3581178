"""Chapter 19's exercise checks pass the reference solutions and fail typical mistakes."""
from __future__ import annotations

import numpy as np
import pytest

from course.capstone import groups as ref
from course.checks import ch19_capstone as ch19


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


def _split_without_str(groups, held_out):
    out = [i for i, g in enumerate(groups) if g in held_out]            # 3 != "3": a group split in two
    return [i for i in range(len(groups)) if i not in out], out


def _per_group_accuracy_only_over_all(y_true, y_pred, groups):
    overall = float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))
    return {str(g): {"n": groups.count(g), "correct": round(overall * groups.count(g)), "accuracy": overall}
            for g in set(groups)}


def _bootstrap_clips(y_true, y_pred, groups, draws=2000, seed=0):
    """Resamples clips, as if they were independent: too narrow when errors sit in a group."""
    right = (np.asarray(y_true) == np.asarray(y_pred)).astype(float)
    picks = np.random.default_rng(seed).integers(0, len(right), size=(draws, len(right)))
    return tuple(np.percentile(right[picks].mean(axis=1), [2.5, 97.5]))


def _bootstrap_mean_of_groups(y_true, y_pred, groups, draws=2000, seed=0):
    """Averages group accuracies instead of pooling the drawn clips."""
    table = ref.per_group_accuracy(y_true, y_pred, groups)
    acc = np.array([v["accuracy"] for v in table.values()])
    picks = np.random.default_rng(seed).integers(0, len(acc), size=(draws, len(acc)))
    return tuple(np.percentile(acc[picks].mean(axis=1), [2.5, 97.5]))


CASES = {
    "split_by_groups": (ref.split_by_groups, [_split_without_str]),
    "per_group_accuracy": (ref.per_group_accuracy, [_per_group_accuracy_only_over_all]),
    "group_bootstrap_interval": (lambda t, p, g, draws, seed: ref.group_bootstrap_interval(t, p, g, draws=draws,
                                                                                            seed=seed),
                                 [_bootstrap_clips, _bootstrap_mean_of_groups]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_passes_the_solution_and_fails_mistakes(name, capsys):
    right, mistakes = CASES[name]
    check = getattr(ch19, name)
    assert check(right).passed, capsys.readouterr().out
    for wrong in mistakes:
        assert not check(wrong).passed, wrong.__name__
    assert not check(lambda *a: (_ for _ in ()).throw(NotImplementedError())).passed
    assert not check("not a function").passed


def test_the_bootstrap_check_passes_other_random_streams(capsys):
    """Any correct implementation passes, whatever its random numbers: the reference with other seeds."""
    for offset in (100, 200, 300):
        assert ch19.group_bootstrap_interval(
            lambda t, p, g, draws, seed: ref.group_bootstrap_interval(t, p, g, draws=draws, seed=seed + offset)).passed
