"""Small, fair experiments (chapter 13): one training recipe, many variants, several seeds, one table.

- :func:`train_classifier` trains a fresh model on an in-memory :class:`~course.train.regularization.TensorSplit`
  with one set of knobs (optimizer, weight decay, L1/L2 penalty, label smoothing, early stopping, augmentation,
  schedule) for a fixed budget of epochs and returns its final train/validation accuracy and their gap.
- :func:`run_seeds` repeats a run over seeds; :func:`summarize_runs` / :func:`format_runs_summary` turn the runs
  into "mean +- std over seeds" rows: the spread between seeds is the error bar every comparison needs.
- :func:`log_uniform` draws hyper-parameters for a random search.
"""
from __future__ import annotations

import math
import numbers
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .early_stopping import EarlyStopping
from .regularization import TensorSplit, l1_penalty, l2_penalty

__all__ = ["train_classifier", "run_seeds", "summarize_runs", "format_runs_summary", "log_uniform", "SCHEDULES"]

SCHEDULES = ("constant", "step", "warmup_cosine", "one_cycle")


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(1) == y).double().mean())


def _make_scheduler(name: str, optimizer, lr: float, total: int):
    from .schedules import warmup_cosine

    if name == "constant":
        return None
    if name == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, total // 3), gamma=0.1)
    if name == "warmup_cosine":
        return warmup_cosine(optimizer, warmup_steps=max(1, total // 10), total_steps=total)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=total)


def train_classifier(make_model: Callable[[], nn.Module], data: TensorSplit, *, epochs: int, lr: float = 1e-3,
                     optimizer: str = "adam", weight_decay: float = 0.0, l1: float = 0.0, l2: float = 0.0,
                     label_smoothing: float = 0.0, patience: int | None = None,
                     augment: Callable[[torch.Tensor], torch.Tensor] | None = None, batch_size: int = 64,
                     schedule: str = "constant", seed: int = 0) -> dict:
    """Train ``make_model()`` (seeded with ``seed``) on ``data`` for ``epochs`` epochs; evaluate in eval mode.

    Knobs: ``optimizer`` "adam" (``weight_decay`` added to the gradient, i.e. an L2 penalty in disguise), "adamw"
    (decoupled weight decay) or "sgd" (momentum 0.9); ``l1``/``l2``: coefficients of :func:`l1_penalty` /
    :func:`l2_penalty` added to the loss; ``label_smoothing`` for the cross-entropy; ``patience``: early stopping on
    validation accuracy with the best weights restored; ``augment``: a function applied to each training batch
    (N, ...) -> (N, ...); ``schedule``: one of :data:`SCHEDULES`, stepped per batch.

    Returns a dict: ``train_acc`` (on the training labels, as given), ``val_acc``, ``gap`` (train - val),
    ``history`` (a list of per-epoch dicts: epoch, train_loss, val_acc, lr), ``epochs_run`` and ``model``.
    """
    if not callable(make_model):
        raise TypeError(f"train_classifier(make_model): expected a function returning a model, "
                        f"got {type(make_model).__name__}")
    if not isinstance(data, TensorSplit):
        raise TypeError(f"train_classifier(data): expected a TensorSplit, got {type(data).__name__}")
    if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"train_classifier(epochs={epochs!r}): expected an int >= 1")
    if optimizer not in ("adam", "adamw", "sgd"):
        raise ValueError(f"train_classifier(optimizer={optimizer!r}): expected 'adam', 'adamw' or 'sgd'")
    if schedule not in SCHEDULES:
        raise ValueError(f"train_classifier(schedule={schedule!r}): expected one of {SCHEDULES}")
    for name, value in (("lr", lr), ("weight_decay", weight_decay), ("l1", l1), ("l2", l2),
                        ("label_smoothing", label_smoothing)):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise ValueError(f"train_classifier({name}={value!r}): expected a non-negative number")
    if augment is not None and not callable(augment):
        raise TypeError(f"train_classifier(augment): expected a callable, got {type(augment).__name__}")
    torch.manual_seed(seed)
    model = make_model()
    params = model.parameters()
    opt = {"adam": lambda: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay),
           "adamw": lambda: torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay),
           "sgd": lambda: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)}[optimizer]()
    n = len(data.y_train)
    steps_per_epoch = math.ceil(n / batch_size)
    scheduler = _make_scheduler(schedule, opt, lr, epochs * steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=float(label_smoothing))
    stopper = EarlyStopping("val_acc", patience=patience) if patience else None
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start:start + batch_size]
            x = data.x_train[idx]
            x = augment(x) if augment is not None else x
            loss = loss_fn(model(x), data.y_train[idx])
            if l1:
                loss = loss + l1 * l1_penalty(model)
            if l2:
                loss = loss + l2 * l2_penalty(model)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            total += float(loss.detach()) * len(idx)
        record = {"epoch": epoch, "train_loss": total / n, "val_acc": _accuracy(model, data.x_val, data.y_val),
                  "lr": opt.param_groups[0]["lr"]}
        history.append(record)
        if stopper is not None and stopper.update(record, model):
            break
    if stopper is not None:
        stopper.restore(model)
    train_acc = _accuracy(model, data.x_train, data.y_train)
    val_acc = _accuracy(model, data.x_val, data.y_val)
    return {"train_acc": train_acc, "val_acc": val_acc, "gap": train_acc - val_acc, "history": history,
            "epochs_run": len(history), "model": model}


def run_seeds(run: Callable[[int], dict], seeds: Sequence[int], *, desc: str = "seeds",
              progress: bool = True) -> list[dict]:
    """``[run(seed) for seed in seeds]`` with a progress bar; each run returns a dict of results."""
    from tqdm.auto import tqdm

    if not callable(run):
        raise TypeError(f"run_seeds(run): expected a function run(seed) -> dict, got {type(run).__name__}")
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"run_seeds(seeds): expected a non-empty list of ints, got {seeds!r}")
    return [run(int(s)) for s in tqdm(seeds, desc=desc, disable=not progress, leave=False)]


def summarize_runs(runs: dict[str, list[dict]], keys: Sequence[str] = ("val_acc", "gap")) -> list[dict]:
    """One row per variant: ``{"name", "n", "<key>_mean", "<key>_std"}`` for every key (std over seeds, ddof=1;
    0 for a single run). ``runs`` maps a variant name to its list of run dicts."""
    if not isinstance(runs, dict) or not runs:
        raise ValueError("summarize_runs(runs): expected a non-empty dict {variant name: [run dicts]}")
    rows = []
    for name, results in runs.items():
        if not results or not all(isinstance(r, dict) for r in results):
            raise ValueError(f"summarize_runs(runs[{name!r}]): expected a non-empty list of dicts")
        row = {"name": name, "n": len(results)}
        for key in keys:
            if any(key not in r for r in results):
                raise KeyError(f"summarize_runs: a run of {name!r} has no {key!r}")
            values = np.array([float(r[key]) for r in results])
            row[f"{key}_mean"] = float(values.mean())
            row[f"{key}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def format_runs_summary(rows: list[dict], keys: Sequence[str] = ("val_acc", "gap")) -> str:
    """A text table of :func:`summarize_runs` rows: ``name | n | key mean +- std ...``."""
    width = max(len(r["name"]) for r in rows)
    head = f"{'variant':<{width}}  seeds  " + "  ".join(f"{k:>15}" for k in keys)
    lines = [head, "-" * len(head)]
    for r in rows:
        cells = "  ".join(f"{r[f'{k}_mean']:>7.3f} +- {r[f'{k}_std']:.3f}" for k in keys)
        lines.append(f"{r['name']:<{width}}  {r['n']:>5}  {cells}")
    return "\n".join(lines)


def log_uniform(rng: np.random.Generator, low: float, high: float, size: int) -> np.ndarray:
    """``size`` samples whose logarithm is uniform on [log low, log high] -> (size,) float64.

    Each decade (1e-4..1e-3, 1e-3..1e-2, ...) gets the same share of samples, the right prior for learning rates
    and weight decays.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"log_uniform(rng): expected a numpy Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    if not (isinstance(low, numbers.Real) and isinstance(high, numbers.Real) and 0 < low < high):
        raise ValueError(f"log_uniform(low={low!r}, high={high!r}): expected 0 < low < high")
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
        raise ValueError(f"log_uniform(size={size!r}): expected a positive int")
    return np.exp(rng.uniform(np.log(low), np.log(high), int(size)))
