"""Leave-persons-out cross-validation of the real-video recipe (chapter 14): decide on the development persons only.

One train / validation split of 8 + 8 persons measures a change to the recipe on 64 videos, where one video is 1.6
points, and a second seed can move the number by as much. Here every development person is held out once: the persons
are dealt into ``k`` folds, a model is trained on the other folds and scores the held-out one, so each video is scored
by a model that never saw its person; that is repeated for several seeds and each change is read as the mean and
spread over seeds of the pooled accuracy.

- :func:`person_folds`: persons dealt into ``k`` folds;
- :func:`cross_validate`: one recipe configuration, every fold and seed, several test-time settings;
- :func:`format_cv_table`: the table ``benchmarks/real_video_ablation.py`` prints and records.
"""
from __future__ import annotations

import numbers
from dataclasses import replace
from typing import Sequence

import numpy as np
import torch

from .real_video import RecipeConfig, eval_loader, kth_person, predict_videos, train_model

__all__ = ["person_folds", "cross_validate", "format_cv_table", "parse_eval_setting", "recorded_ablations"]


def person_folds(persons: Sequence[int], k: int) -> list[list[int]]:
    """The distinct ``persons``, sorted, dealt round-robin into ``k`` folds -> ``k`` lists of person numbers.

    ``person_folds([1, 4, 11, 12], 2)`` is ``[[1, 11], [4, 12]]``. ``k`` from 2 to the number of persons.
    """
    distinct = sorted({int(p) for p in persons})
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 2 <= k <= len(distinct):
        raise ValueError(f"person_folds(k): expected an int from 2 to the number of persons ({len(distinct)}), "
                         f"got {k!r}")
    return [distinct[i::k] for i in range(k)]


def parse_eval_setting(text: str) -> tuple[int, bool]:
    """A test-time setting ``"<clips>"`` or ``"<clips>f"`` (mirrored too) -> (clips per video, flip)."""
    flip = str(text).endswith("f")
    digits = str(text)[:-1] if flip else str(text)
    if not digits.isdigit() or int(digits) < 1:
        raise ValueError(f"parse_eval_setting(text): expected a clip count with an optional 'f' (e.g. 8 or 8f), "
                         f"got {text!r}")
    return int(digits), flip


def cross_validate(items: Sequence[tuple], videos: Sequence[torch.Tensor], num_classes: int, config: RecipeConfig,
                   *, folds: int = 2, seeds: Sequence[int] = (0, 1, 2), evals: Sequence[str] = ("3",),
                   progress: bool = False) -> dict:
    """Leave-persons-out accuracy of ``config`` for each seed and test-time setting.

    ``items``: ``[(path, label), ...]`` of KTH-named videos (the development persons), ``videos`` their decoded
    uint8 (T, H, W, C) tensors in the same order. For each seed and fold, a model is trained with ``config`` (and that
    seed) on the other folds for ``config.epochs`` epochs, keeping the last epoch (nothing is chosen on the held-out
    persons), and scores its fold with each setting of ``evals`` (:func:`parse_eval_setting`).

    Returns ``{"folds": [[persons], ...], "seeds", "evals", "accuracy": {setting: [pooled accuracy per seed]},
    "curve": [[pooled accuracy per epoch, config's test-time setting] per seed], "train_seconds": [per model],
    "n": videos scored per seed}``.
    """
    if len(items) != len(videos) or not items:
        raise ValueError(f"cross_validate(videos): expected one decoded video per item, got {len(videos)} videos "
                         f"for {len(items)} items")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, numbers.Integral) for s in seeds):
        raise ValueError(f"cross_validate(seeds): expected a non-empty list of ints, got {seeds!r}")
    settings = {e: parse_eval_setting(e) for e in evals}
    persons = [kth_person(p) for p, _ in items]
    labels = [int(y) for _, y in items]
    groups = person_folds(persons, folds)
    out = {"folds": groups, "seeds": [int(s) for s in seeds], "evals": list(settings),
           "accuracy": {e: [] for e in settings}, "curve": [], "train_seconds": [], "n": len(items)}
    for seed in seeds:
        cfg = replace(config, seed=int(seed), retrain=False)
        correct = {e: 0 for e in settings}
        curve = np.zeros(cfg.epochs)
        for held_out in groups:
            test = [i for i, p in enumerate(persons) if p in held_out]
            train = [i for i, p in enumerate(persons) if p not in held_out]
            test_videos, test_labels = [videos[i] for i in test], [labels[i] for i in test]
            trained = train_model([videos[i] for i in train], [labels[i] for i in train], num_classes, cfg,
                                  val=(test_videos, test_labels), keep_best=False, progress=progress)
            out["train_seconds"].append(trained["train_seconds"])
            curve += np.asarray(trained["val_curve"]) * len(test)
            for name, (clips, flip) in settings.items():
                scored = predict_videos(trained["model"], eval_loader(test_videos, test_labels, cfg, clips=clips,
                                                                      flip=flip))
                correct[name] += int(round(scored["video_accuracy"] * len(test)))
        for name in settings:
            out["accuracy"][name].append(correct[name] / len(items))
        out["curve"].append((curve / len(items)).tolist())
    return out


def format_cv_table(rows: Sequence[dict]) -> str:
    """Rows ``{"variant", "folds", "evals", "accuracy": {setting: [per seed]}, "n"}`` (one per :func:`cross_validate`
    call) as a table: mean, standard deviation over seeds and the per-seed values of each test-time setting."""
    header = (f"{'variant':30s} {'folds':>5s} {'test-time':>14s} {'mean':>6s} {'sd':>5s}  {'per seed':22s} "
              f"{'videos':>6s}")
    lines = [header, "-" * len(header)]
    for row in rows:
        for setting, accs in row["accuracy"].items():
            clips, flip = parse_eval_setting(setting)
            label = f"{clips} clip{'s' if clips > 1 else ''}{' +flip' if flip else ''}"
            per_seed = " ".join(f"{a:.1%}" for a in accs)
            sd = float(np.std(accs, ddof=1)) if len(accs) > 1 else float("nan")
            lines.append(f"{row['variant']:30s} {len(row['folds']):>5d} {label:>14s} {np.mean(accs):>6.1%} {sd:>5.1%}  "
                         f"{per_seed:22s} {row['n']:>6d}")
    return "\n".join(lines)


def recorded_ablations(directory=None) -> list[dict]:
    """The records of ``benchmarks/real_video_ablation.py --name ...`` (``real_video_kth_ablation_*.json`` in
    ``course/results/``), oldest first; each has ``command``, ``date``, ``load_before`` and ``runs[0]["rows"]``."""
    import json
    from pathlib import Path

    from .recorded import RESULTS_DIR

    records = [json.loads(p.read_text()) for p in Path(directory or RESULTS_DIR).glob("real_video_kth_ablation_*.json")]
    return sorted(records, key=lambda r: r.get("date", ""))
