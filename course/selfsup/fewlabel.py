"""Does pretraining pay when labels are few? (chapter 18)

The comparison: the same encoder architecture, randomly initialised ("from scratch") or pretrained on unlabelled
clips, trained on 1%, 10% or 100% of the labelled training clips, either as a *linear probe* (encoder frozen, only a
linear layer on its embeddings is trained) or *fine-tuned* (everything trained). Same epochs for every run, several
seeds, mean and spread. The learning rate of each (encoder, mode) is chosen on the validation clips only
(:func:`choose_lr`); the test clips are scored once per run and never used to choose anything.

Encoders are ``nn.Module`` s mapping clips (N, C, T, H, W) -> embeddings (N, D) with an int attribute ``embed_dim``;
each run starts from a fresh copy (pass a module, which is deep-copied, or a factory returning a fresh one).
"""
from __future__ import annotations

import copy
import math
import numbers
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["FewLabelData", "MODES", "choose_lr", "embed", "few_label_runs", "format_few_label_table",
           "label_fraction_indices", "summarize_few_label", "train_few_label"]

MODES = ("probe", "finetune")


@dataclass
class FewLabelData:
    """Labelled clips (N, C, T, H, W) with int64 labels (N,), in three disjoint splits."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def __post_init__(self):
        for split in ("train", "val", "test"):
            x, y = getattr(self, f"x_{split}"), getattr(self, f"y_{split}")
            if not isinstance(x, torch.Tensor) or x.ndim != 5 or not x.is_floating_point():
                raise ValueError(f"FewLabelData(x_{split}): expected a float tensor (N, C, T, H, W), got "
                                 f"{getattr(x, 'shape', type(x).__name__)}")
            if not isinstance(y, torch.Tensor) or y.ndim != 1 or len(y) != len(x) or y.dtype != torch.int64:
                raise ValueError(f"FewLabelData(y_{split}): expected int64 labels ({len(x)},), got "
                                 f"{getattr(y, 'shape', type(y).__name__)}")

    @property
    def num_classes(self) -> int:
        return int(torch.cat([self.y_train, self.y_val, self.y_test]).max()) + 1

    @classmethod
    def from_datasets(cls, train, val, test) -> "FewLabelData":
        """From three map-style datasets of (clip (C, T, H, W), label), rendered into memory once."""
        from ..data import tensor_dataset

        tensors = [tensor_dataset(d).tensors for d in (train, val, test)]
        return cls(*tensors[0], *tensors[1], *tensors[2])


def _check_fraction(fraction, fn: str) -> float:
    if not isinstance(fraction, numbers.Real) or isinstance(fraction, bool) or not 0 < fraction <= 1:
        raise ValueError(f"{fn}(fraction): expected a number in (0, 1], got {fraction!r}")
    return float(fraction)


def label_fraction_indices(labels, fraction: float, *, seed: int = 0) -> np.ndarray:
    """Which training clips keep their label: a stratified random ``fraction`` of each class (at least one per class).

    ``labels``: int labels (N,) (tensor or array). Returns sorted int indices (M,); the same seed gives the same subset.
    """
    labels = np.asarray(labels.cpu() if isinstance(labels, torch.Tensor) else labels)
    if labels.ndim != 1 or len(labels) == 0 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"label_fraction_indices(labels): expected a non-empty 1-d array of int labels, got "
                         f"shape {labels.shape} dtype {labels.dtype}")
    fraction = _check_fraction(fraction, "label_fraction_indices")
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        count = max(1, int(round(fraction * len(members))))
        keep.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(keep))


def _fresh(encoder, fn: str) -> nn.Module:
    """A fresh copy of an encoder given as a module (deep-copied) or a factory (called)."""
    if isinstance(encoder, nn.Module):
        made = copy.deepcopy(encoder)
    elif callable(encoder):
        made = encoder()
    else:
        raise TypeError(f"{fn}(encoder): expected an nn.Module or a function returning one, got "
                        f"{type(encoder).__name__}")
    if not isinstance(made, nn.Module) or not isinstance(getattr(made, "embed_dim", None), int):
        raise TypeError(f"{fn}(encoder): expected an nn.Module with an int attribute embed_dim, got "
                        f"{type(made).__name__}")
    return made


@torch.no_grad()
def embed(encoder: nn.Module, clips: torch.Tensor, *, batch_size: int = 128) -> torch.Tensor:
    """The encoder's embeddings of clips (N, C, T, H, W) -> (N, D), in eval mode, without gradients."""
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"embed(encoder): expected an nn.Module, got {type(encoder).__name__}")
    if not isinstance(clips, torch.Tensor) or clips.ndim != 5:
        raise ValueError(f"embed(clips): expected a tensor (N, C, T, H, W), got {getattr(clips, 'shape', clips)!r}")
    was_training = encoder.training
    encoder.eval()
    out = torch.cat([encoder(clips[i:i + batch_size]) for i in range(0, len(clips), batch_size)])
    encoder.train(was_training)
    return out


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        preds = torch.cat([model(x[i:i + 128]).argmax(1) for i in range(0, len(x), 128)])
    return float((preds == y).double().mean())


def train_few_label(encoder, data: FewLabelData, *, fraction: float, mode: str = "finetune", epochs: int = 15,
                    lr: float = 3e-3, batch_size: int = 16, seed: int = 0) -> dict:
    """Train a classifier on ``fraction`` of ``data``'s training labels; score it on the validation and test clips.

    ``mode="probe"``: the encoder is frozen, its embeddings (N, D) computed once, and a linear layer D -> K trained on
    them. ``mode="finetune"``: encoder + linear layer trained together on the clips (N, C, T, H, W). Adam with a
    cosine-decayed learning rate ``lr`` for ``epochs`` epochs; ``seed`` fixes the label subset, the head's
    initialisation and the batch order.

    Returns ``{"fraction", "mode", "seed", "lr", "labels", "val_acc", "test_acc", "seconds"}`` (``labels``: how many
    labelled clips were used).
    """
    if not isinstance(data, FewLabelData):
        raise TypeError(f"train_few_label(data): expected a FewLabelData, got {type(data).__name__}")
    if mode not in MODES:
        raise ValueError(f"train_few_label(mode): expected one of {MODES}, got {mode!r}")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_few_label({name}): expected a positive int, got {value!r}")
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"train_few_label(lr): expected a positive number, got {lr!r}")
    started = time.perf_counter()
    keep = torch.from_numpy(label_fraction_indices(data.y_train, fraction, seed=seed))
    torch.manual_seed(seed)
    encoder = _fresh(encoder, "train_few_label")
    head = nn.Linear(encoder.embed_dim, data.num_classes)
    if mode == "probe":
        for p in encoder.parameters():
            p.requires_grad_(False)
        x_train, x_val, x_test = (embed(encoder, x) for x in (data.x_train[keep], data.x_val, data.x_test))
        model, params = head, head.parameters()
    else:
        x_train, x_val, x_test = data.x_train[keep], data.x_val, data.x_test
        model = nn.Sequential(encoder, head)
        params = model.parameters()
    y_train = data.y_train[keep]
    optimizer = torch.optim.Adam(params, lr=lr)
    steps = epochs * math.ceil(len(keep) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(keep), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return {"fraction": float(fraction), "mode": mode, "seed": int(seed), "lr": float(lr), "labels": len(keep),
            "val_acc": _accuracy(model, x_val, data.y_val), "test_acc": _accuracy(model, x_test, data.y_test),
            "seconds": time.perf_counter() - started}


def choose_lr(encoder, data: FewLabelData, *, mode: str, lrs: Sequence[float], fraction: float = 0.1,
              epochs: int = 15, seed: int = 0, **kwargs) -> tuple[float, dict]:
    """The learning rate in ``lrs`` with the best *validation* accuracy at ``fraction`` of the labels (one seed).

    Returns ``(best_lr, {lr: val_acc})``. The test clips are not looked at.
    """
    lrs = list(lrs)
    if not lrs:
        raise ValueError("choose_lr(lrs): expected at least one learning rate")
    scores = {float(lr): train_few_label(encoder, data, fraction=fraction, mode=mode, epochs=epochs, lr=lr,
                                         seed=seed, **kwargs)["val_acc"] for lr in lrs}
    return max(scores, key=scores.get), scores


def few_label_runs(encoders: dict, data: FewLabelData, *, fractions: Sequence[float] = (0.01, 0.1, 1.0),
                   modes: Sequence[str] = MODES, seeds: Sequence[int] = (0, 1, 2), epochs: int = 15,
                   lrs: dict | None = None, progress: bool = True, **kwargs) -> list[dict]:
    """Every (encoder, mode, fraction, seed) run of :func:`train_few_label`: a list of run dicts, each with its
    ``"encoder"`` name added. ``encoders`` maps a name to an encoder module or factory; ``lrs`` maps
    ``(name, mode)`` to the learning rate to use (default 3e-3 for fine-tuning, 3e-2 for a probe)."""
    from tqdm.auto import tqdm

    if not isinstance(encoders, dict) or not encoders:
        raise ValueError("few_label_runs(encoders): expected a non-empty dict {name: encoder or factory}")
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"few_label_runs(modes): expected modes from {MODES}, got {mode!r}")
    fractions = [_check_fraction(f, "few_label_runs") for f in fractions]
    lrs = dict(lrs or {})
    jobs = [(name, mode, f, s) for name in encoders for mode in modes for f in fractions for s in seeds]
    runs = []
    for name, mode, fraction, seed in tqdm(jobs, desc="few-label runs", disable=not progress):
        lr = lrs.get((name, mode), 3e-3 if mode == "finetune" else 3e-2)
        run = train_few_label(encoders[name], data, fraction=fraction, mode=mode, epochs=epochs, lr=lr, seed=seed,
                              **kwargs)
        runs.append({"encoder": name, **run})
    return runs


def summarize_few_label(runs: list[dict], key: str = "test_acc") -> list[dict]:
    """One row per (encoder, mode, fraction): ``{"encoder", "mode", "fraction", "labels", "n", "mean", "std", "min",
    "max"}`` of ``key`` over the seeds (std with ddof=1; 0 for one seed), in the order first seen."""
    if not runs or not all(isinstance(r, dict) and key in r for r in runs):
        raise ValueError(f"summarize_few_label(runs): expected a non-empty list of run dicts with {key!r}")
    groups: dict = {}
    for r in runs:
        groups.setdefault((r["encoder"], r["mode"], r["fraction"]), []).append(r)
    rows = []
    for (name, mode, fraction), group in groups.items():
        values = np.array([g[key] for g in group], dtype=float)
        rows.append({"encoder": name, "mode": mode, "fraction": fraction, "labels": group[0]["labels"],
                     "n": len(values), "mean": float(values.mean()),
                     "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                     "min": float(values.min()), "max": float(values.max())})
    return rows


def format_few_label_table(rows: list[dict]) -> str:
    """A text table of :func:`summarize_few_label` rows: one line per (encoder, mode), one column per fraction,
    each cell ``mean +- std`` in percent."""
    if not rows:
        raise ValueError("format_few_label_table(rows): expected at least one row")
    fractions = sorted({r["fraction"] for r in rows})
    labels = {r["fraction"]: r["labels"] for r in rows}
    lines = {}
    for r in rows:
        cell = f"{100 * r['mean']:5.1f} +- {100 * r['std']:4.1f}"
        lines.setdefault((r["encoder"], r["mode"]), {})[r["fraction"]] = cell
    width = max(len(f"{e} ({m})") for e, m in lines)
    head = f"{'encoder (mode)':<{width}}  " + "  ".join(f"{f'{f:.0%} ({labels[f]} clips)':>15}" for f in fractions)
    out = [head, "-" * len(head)]
    for (name, mode), cells in lines.items():
        out.append(f"{f'{name} ({mode})':<{width}}  " + "  ".join(f"{cells.get(f, '-'):>15}" for f in fractions))
    return "\n".join(out)
