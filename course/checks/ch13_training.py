"""Checks for chapter 13 (training that works).

References are the course's own implementations (``course.train.l1_penalty``, ``expected_calibration_error``,
the per-video average of ``evaluate_videos``) or properties a correct answer must have (a split without leaks).
"""
from __future__ import annotations

import numpy as np

from ..train.calibration import expected_calibration_error as _reference_ece
from ..train.regularization import l1_penalty as _reference_l1
from .core import Case, CheckResult, check_function, compare


# --------------------------------------------------------------------------------------------------------------------
# L1 penalty
# --------------------------------------------------------------------------------------------------------------------

def _model(kind: str, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 10))
    if kind == "conv":
        return nn.Sequential(nn.Conv3d(3, 4, 3), nn.BatchNorm3d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    return nn.Linear(3, 1, bias=False)


def _l1_value(fn, kind: str, seed: int):
    import torch

    model = _model(kind, seed)
    if kind == "conv":
        model(torch.zeros(1, 3, 4, 6, 6))   # materialise the lazy layer
    value = fn(model)
    if not torch.is_tensor(value) or value.ndim != 0:
        raise TypeError(f"expected a 0-dim tensor (so it can be added to the loss), got {type(value).__name__}"
                        + (f" of shape {tuple(value.shape)}" if torch.is_tensor(value) else ""))
    if not value.requires_grad:
        raise ValueError("the penalty has no gradient: build it from the parameters with torch operations "
                         "(no .item(), no .detach(), no NumPy)")
    return float(value.detach())


def l1_penalty(fn) -> CheckResult:
    """Check ``fn(model) -> 0-dim tensor`` = sum of |w| over parameters with 2 or more dims (weights, not biases)."""
    cases = [
        Case((fn, "mlp", 0), name="an MLP (two Linear layers with biases)",
             hint="skip the biases: keep parameters with p.ndim >= 2"),
        Case((fn, "conv", 1), name="a Conv3d + BatchNorm model",
             hint="batch-norm scales and shifts are 1-D: they are not penalised either"),
        Case((fn, "single", 2), name="one weight matrix, no bias"),
    ]
    return check_function(_l1_value, cases, title="l1_penalty",
                          reference=lambda _fn, kind, seed: _l1_value(_reference_l1, kind, seed), rtol=1e-5,
                          hint="sum(p.abs().sum() for p in model.parameters() if p.ndim >= 2)")


# --------------------------------------------------------------------------------------------------------------------
# splits
# --------------------------------------------------------------------------------------------------------------------

def _index_pair(result, n: int) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"expected a pair (train_indices, val_indices), got {type(result).__name__}")
    train, val = (np.asarray(r) for r in result)
    if train.ndim != 1 or val.ndim != 1 or not (np.issubdtype(train.dtype, np.integer)
                                                and np.issubdtype(val.dtype, np.integer)):
        raise TypeError("expected two 1-D integer index arrays")
    if set(train) & set(val):
        raise ValueError(f"{len(set(train) & set(val))} indices are in both train and val")
    if sorted(np.concatenate([train, val]).tolist()) != list(range(n)):
        raise ValueError(f"train and val together must hold every index 0..{n - 1} exactly once")
    return train, val


def _last_of_each(keys: np.ndarray, val: np.ndarray) -> bool:
    """True when, for every value of ``keys`` (a class, a group), the validation indices holding it are that value's
    last indices in storage order: the unshuffled "take the last k" rule."""
    val_set = set(val.tolist())
    for key in np.unique(keys):
        where = np.flatnonzero(keys == key)
        chosen = [i for i in where if i in val_set]
        if chosen != list(where[len(where) - len(chosen):]):
            return False
    return True


def _stratified_problem(fn, labels, val_fraction, seed):
    """None when fn's split is stratified and shuffled, else what is wrong."""
    labels = np.asarray(labels)
    train, val = _index_pair(fn(labels.copy(), val_fraction, seed), len(labels))
    for c in np.unique(labels):
        want = val_fraction * np.sum(labels == c)
        got = np.sum(labels[val] == c)
        if abs(got - want) > 1:
            return f"class {c}: {got} validation samples, expected about {want:.1f} (val_fraction of its samples)"
    if len(val) > 1 and np.all(np.diff(np.sort(val)) == 1) and val.max() == len(labels) - 1:
        return "the validation set is the last block of the data: shuffle first"
    if len(val) > 1 and _last_of_each(labels, val):
        return ("the validation set is the last samples of every class, in storage order: pick them at random "
                "(shuffle with the seed) — stored order often follows recording sessions or people")
    return None


def _seed_problem(split_problem, fn, keys, val_fraction, seeds):
    """None when ``fn`` gives the same split for the same seed and a different validation set for each seed in
    ``seeds`` (each split must also pass ``split_problem``), else what is wrong."""
    keys = np.asarray(keys)
    for seed in seeds:
        problem = split_problem(fn, keys, val_fraction, seed)
        if problem:
            return f"seed {seed}: {problem}"
    vals = [tuple(sorted(np.asarray(fn(keys.copy(), val_fraction, seed)[1]).tolist())) for seed in seeds]
    again = tuple(sorted(np.asarray(fn(keys.copy(), val_fraction, seeds[0])[1]).tolist()))
    if again != vals[0]:
        return (f"seed {seeds[0]} twice gave two different splits: the split must depend on the seed only (use "
                f"np.random.default_rng(seed) or random_state=seed, not the global random state)")
    if len(set(vals)) < len(vals):
        same = [s for s, v in zip(seeds, vals) if vals.count(v) > 1]
        return (f"seeds {same} gave the same validation set: the seed must decide which samples are drawn (pass it "
                f"to the random generator; do not ignore it)")
    return None


def _split_verdict(split_problem, fn, keys, val_fraction, seed):
    """One case of a split check: ``split_problem`` for one seed, or :func:`_seed_problem` for a tuple of seeds."""
    if isinstance(seed, tuple):
        return _seed_problem(split_problem, fn, keys, val_fraction, seed)
    return split_problem(fn, keys, val_fraction, seed)


def stratified_split(fn) -> CheckResult:
    """Check ``fn(labels (N,), val_fraction, seed) -> (train_idx, val_idx)``: disjoint, complete, every class split
    in proportion (within one sample), shuffled (not the last samples of each class), and drawn by the seed: the
    same seed gives the same split, different seeds different ones."""
    sorted_labels = np.repeat(np.arange(5), 20)                   # class-sorted, like a folder per class
    rng = np.random.default_rng(3)
    uneven = rng.permutation(np.concatenate([np.zeros(50, int), np.ones(10, int), np.full(40, 2)]))
    split = _stratified_problem
    cases = [
        Case((split, fn, sorted_labels, 0.2, 0), name="class-sorted labels, 20% validation", expected=None,
             hint="the last 20% of class-sorted data is one class only: split each class separately"),
        Case((split, fn, uneven, 0.3, 1), name="unbalanced classes (50/10/40), 30% validation", expected=None),
        Case((split, fn, sorted_labels, 0.5, 2), name="half and half", expected=None),
        Case((split, fn, sorted_labels, 0.2, (0, 1, 2)), expected=None,
             name="the seed draws the split: seeds 0, 1, 2 give three different splits, seed 0 twice the same one",
             hint="shuffle with the seed: train_test_split(..., random_state=seed) or np.random.default_rng(seed)"),
    ]
    return check_function(_split_verdict, cases, title="stratified_split", compare_fn=lambda got, exp: got,
                          hint="sklearn.model_selection.train_test_split(np.arange(n), test_size=val_fraction, "
                               "stratify=labels, random_state=seed)")


def _group_problem(fn, groups, val_fraction, seed):
    groups = np.asarray(groups)
    train, val = _index_pair(fn(groups.copy(), val_fraction, seed), len(groups))
    shared = set(groups[train]) & set(groups[val])
    if shared:
        return f"groups {sorted(shared)[:5]} have clips on both sides: whole groups must go to one side"
    share = len(set(groups[val])) / len(set(groups))
    if abs(share - val_fraction) > 0.15:
        return f"{share:.0%} of the groups went to validation, expected about {val_fraction:.0%}"
    names = np.unique(groups)                       # sorted ids
    _, first = np.unique(groups, return_index=True)
    in_storage_order = groups[np.sort(first)]       # ids in order of first appearance
    val_groups = set(groups[val].tolist())
    k = len(val_groups)
    if 1 < k < len(names) and (val_groups == set(names[-k:].tolist())
                               or val_groups == set(in_storage_order[-k:].tolist())):
        return ("the validation groups are the last ones (by id or in storage order): pick the groups at random, "
                "with the seed")
    return None


def group_split(fn) -> CheckResult:
    """Check ``fn(groups (N,), val_fraction, seed) -> (train_idx, val_idx)``: no group on both sides, about
    ``val_fraction`` of the groups in validation, chosen at random (not the last groups) by the seed: the same seed
    gives the same split, different seeds different ones."""
    rng = np.random.default_rng(0)
    stored = np.repeat(np.arange(20), 5)
    split = _group_problem
    cases = [
        Case((split, fn, stored, 0.25, 0), name="20 groups of 5 clips, stored group by group", expected=None),
        Case((split, fn, rng.permutation(np.repeat(np.arange(30), 4)), 0.2, 1), name="30 groups, clips in random order",
             expected=None, hint="split the *groups*, then take every clip of the chosen groups"),
        Case((split, fn, np.repeat(np.arange(8), [1, 2, 3, 4, 5, 6, 7, 8]), 0.25, 2), name="groups of different sizes",
             expected=None),
        Case((split, fn, stored, 0.25, (0, 1, 2)), expected=None,
             name="the seed draws the groups: seeds 0, 1, 2 give three different splits, seed 0 twice the same one",
             hint="GroupShuffleSplit(..., random_state=seed), or np.random.default_rng(seed).choice(groups, ...)"),
    ]
    return check_function(_split_verdict, cases, title="group_split", compare_fn=lambda got, exp: got,
                          hint="sklearn.model_selection.GroupShuffleSplit(n_splits=1, test_size=val_fraction, "
                               "random_state=seed).split(groups, groups=groups)")


# --------------------------------------------------------------------------------------------------------------------
# clip -> video average
# --------------------------------------------------------------------------------------------------------------------

def _reference_average(clip_probs, video_ids):
    import torch

    ids, inverse = torch.unique(video_ids, sorted=True, return_inverse=True)
    sums = torch.zeros(len(ids), clip_probs.shape[1], dtype=clip_probs.dtype).index_add_(0, inverse, clip_probs)
    return ids, sums / torch.bincount(inverse).to(clip_probs.dtype)[:, None]


def _compare_pair(got, expected):
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return f"expected a pair (video_ids (V,), video_probs (V, K)), got {type(got).__name__}"
    return compare(got[0], expected[0]) or compare(got[1], expected[1], rtol=1e-5, atol=1e-7)


def average_per_video(fn) -> CheckResult:
    """Check ``fn(clip_probs (N, K), video_ids (N,)) -> (ids (V,), probs (V, K))``, sorted by video id."""
    import torch

    g = torch.Generator().manual_seed(5)
    probs = torch.softmax(torch.randn(12, 4, generator=g), 1)
    cases = [
        Case((probs, torch.arange(12) // 3), name="4 videos x 3 clips, in order"),
        Case((probs, torch.tensor([5, 2, 5, 9, 2, 2, 9, 5, 9, 2, 5, 9])), name="ids in any order, not 0..V-1",
             hint="sort the distinct ids (torch.unique) and average the rows of each"),
        Case((probs[:5], torch.tensor([1, 1, 1, 1, 0])), name="videos with different numbers of clips",
             hint="divide each sum by that video's own number of clips"),
    ]
    return check_function(fn, cases, title="average_per_video", reference=_reference_average,
                          compare_fn=_compare_pair)


# --------------------------------------------------------------------------------------------------------------------
# expected calibration error
# --------------------------------------------------------------------------------------------------------------------

def _on_the_edges() -> tuple[np.ndarray, np.ndarray]:
    """12 predictions whose confidences (0.5, 0.625, 0.75: exact in binary) sit on and between the edges of 4 bins,
    under-confident at 0.5 and 0.625, over-confident at 0.75: (lo, hi] and [lo, hi) bins give different ECEs."""
    rows = {0.5: [0.5, 0.25, 0.125, 0.125], 0.625: [0.625, 0.125, 0.125, 0.125], 0.75: [0.75, 0.125, 0.0625, 0.0625]}
    right = {0.5: 3, 0.625: 4, 0.75: 1}            # of 4 predictions at each confidence (all predict class 0)
    probs = np.array([rows[c] for c in rows for _ in range(4)])
    labels = np.array([0 if i < right[c] else 1 for c in rows for i in range(4)])
    return probs, labels


def _mixed_predictions(n: int = 300, classes: int = 4, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Predictions whose labels are drawn from their own probabilities: calibrated on average, so some bins are
    over- and others under-confident (an ECE without binning, or with other bins, comes out different)."""
    rng = np.random.default_rng(seed)
    logits = 1.5 * rng.standard_normal((n, classes))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(classes, p=row) for row in probs])
    return probs, labels


def expected_calibration_error(fn) -> CheckResult:
    """Check ``fn(probs (N, K) array, labels (N,) array, num_bins) -> float``."""
    rng = np.random.default_rng(2)
    logits = 3 * rng.standard_normal((200, 5))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 5, 200)
    mixed_probs, mixed_labels = _mixed_predictions()
    cases = [
        Case((np.tile([1.0, 0.0], (10, 1)), np.array([0] * 7 + [1] * 3), 10), name="100% sure, right 7 times in 10",
             expected=0.3),
        Case((probs, labels, 10), name="200 random predictions, 10 bins"),
        Case((probs, labels, 4), name="4 bins", hint="bins of equal width on [0, 1]: np.linspace(0, 1, num_bins + 1)"),
        Case((probs, probs.argmax(1), 10), name="always right",
             hint="weight each bin's |accuracy - confidence| by its share of the predictions"),
        Case((mixed_probs, mixed_labels, 10), name="over-confident in some bins, under-confident in others (10 bins)",
             hint="take |accuracy - confidence| in each bin separately, then the weighted sum: the gaps of different "
                  "bins must not cancel"),
        Case((mixed_probs, mixed_labels, 5), name="the same predictions in 5 bins",
             hint="num_bins bins: np.linspace(0, 1, num_bins + 1) gives their num_bins + 1 edges"),
        Case(_on_the_edges() + (4,), name="confidences exactly on bin edges (0.5, 0.75 with 4 bins)",
             hint="a bin is (lo, hi]: a confidence equal to an edge belongs to the bin below it "
                  "(confidence > lo and confidence <= hi)"),
    ]
    return check_function(fn, cases, title="expected_calibration_error",
                          reference=lambda p, y, b: _reference_ece(p, y, num_bins=b), rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------------------------------------------------
# temporal occlusion
# --------------------------------------------------------------------------------------------------------------------

def _reference_occlusion(score_fn, clip):
    import torch

    t = clip.shape[1]
    copies = clip[None].repeat(t, 1, 1, 1, 1)
    for i in range(t):
        copies[i, :, i] = clip.mean(dim=1)
    return score_fn(clip[None])[0] - score_fn(copies)


def _score_of_frame(k):
    return lambda clips: clips[:, :, k].mean(dim=(1, 2, 3)) * 10


def _motion_score(clips):
    return (clips[:, :, 1:] - clips[:, :, :-1]).abs().mean(dim=(1, 2, 3, 4)) * 10


def occlusion_drops(fn) -> CheckResult:
    """Check ``fn(score_fn, clip (C, T, H, W)) -> drops (T,)`` with frames blanked to the clip's mean frame."""
    import torch

    g = torch.Generator().manual_seed(7)
    clip = torch.rand(3, 6, 4, 4, generator=g)
    cases = [
        Case((_score_of_frame(2), clip), name="a score that only looks at frame 2",
             hint="only blanking frame 2 may change the score: the other drops are 0"),
        Case((_motion_score, clip), name="a score that measures motion"),
        Case((_score_of_frame(0), clip[:, :3]), name="a 3-frame clip",
             hint="blank frame t to clip.mean(dim=1), the mean over time, in a copy of the clip"),
    ]
    return check_function(fn, cases, title="occlusion_drops", reference=_reference_occlusion, rtol=1e-5, atol=1e-6)
