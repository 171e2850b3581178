"""Chapter 04 plots: learning-rate schedules, several training runs side by side, misclassified images."""
from __future__ import annotations

import math

import numpy as np


def plot_lr_schedules(schedules: dict, ax=None, *, xlabel: str = "step", title: str | None = "learning-rate schedules"):
    """One line per schedule: ``schedules`` maps a name to the list of learning rates at steps 0, 1, ...

    (e.g. from :func:`course.train.lr_trace`). Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(schedules, dict) or not schedules:
        raise ValueError("plot_lr_schedules(schedules): expected a non-empty dict {name: list of learning rates}")
    for name, lrs in schedules.items():
        values = np.asarray(lrs, dtype=float)
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"plot_lr_schedules(schedules[{name!r}]): expected a 1-D list of learning rates")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.4), layout="constrained")
    for name, lrs in schedules.items():
        ax.plot(np.arange(len(lrs)), lrs, label=name, lw=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("learning rate")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    if title:
        ax.set_title(title)
    return ax


def compare_histories(histories: dict, metrics=("val_loss", "val_acc"), *, title: str | None = None,
                      styles: dict | None = None):
    """Curves of several runs (``{name: History}``) on one subplot per metric, with one shared legend below them.
    Returns the figure (at most 10 inches wide, so a notebook shows it without shrinking the text).

    ``styles`` optionally maps a run's name to matplotlib line settings, e.g. ``{"a": {"color": "C0", "ls": "--"}}``.
    """
    import matplotlib.pyplot as plt

    if not isinstance(histories, dict) or not histories:
        raise ValueError("compare_histories(histories): expected a non-empty dict {name: History}")
    styles = styles or {}
    if not isinstance(styles, dict) or not all(isinstance(v, dict) for v in styles.values()):
        raise ValueError("compare_histories(styles): expected a dict {run name: dict of matplotlib line settings}")
    if isinstance(metrics, str):
        metrics = (metrics,)
    fig, axes = plt.subplots(1, len(metrics), figsize=(min(10.0, 4.5 * len(metrics)), 3.8), squeeze=False,
                             layout="constrained")
    handles = {}
    for ax, metric in zip(axes[0], metrics):
        for name, history in histories.items():
            values = history[metric]
            if not all(math.isnan(v) for v in values):
                (line,) = ax.plot(history["epoch"], values, **{"marker": "o", "ms": 3, **styles.get(name, {})},
                                  label=name)
                handles.setdefault(name, line)
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", fontsize=9,
                   ncols=min(len(handles), 3))
    if title:
        fig.suptitle(title)
    return fig


def show_mistakes(images, preds, labels, class_names=None, *, max_images: int = 12):
    """Rows of up to 8 of the misclassified images among ``images`` (N, H, W) or (N, 1, H, W), titled "true → predicted".

    Returns the figure, or None when there is no mistake to show.
    """
    import matplotlib.pyplot as plt

    images, preds, labels = np.asarray(images), np.asarray(preds), np.asarray(labels)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"show_mistakes(images): expected (N, H, W) or (N, 1, H, W), got shape {images.shape}")
    if not (len(images) == len(preds) == len(labels)):
        raise ValueError(f"show_mistakes: images, preds and labels must have the same length, "
                         f"got {len(images)}, {len(preds)}, {len(labels)}")
    wrong = np.flatnonzero(preds != labels)[:max_images]
    if wrong.size == 0:
        print("no mistakes to show")
        return None
    name = (lambda c: str(class_names[c])) if class_names is not None else str
    ncols = min(len(wrong), 8)
    nrows = -(-len(wrong) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.6 * nrows), squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong):
        ax.imshow(images[i], cmap="gray_r")
        ax.set_title(f"{name(labels[i])} → {name(preds[i])}", fontsize=9)
    return fig
