"""Chapter 06: telling a class from its time-reversed twin — per-pair confusion matrices and within-pair accuracy."""
from __future__ import annotations

import numpy as np


def _labels(preds, labels, owner: str) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(preds.detach().cpu() if hasattr(preds, "detach") else preds)
    y = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    if p.ndim != 1 or y.ndim != 1 or p.shape != y.shape:
        raise ValueError(f"{owner}(preds, labels): expected two 1-D arrays of class indices (N,) of the same length, "
                         f"got shapes {p.shape} and {y.shape}")
    if not (np.issubdtype(p.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
        raise TypeError(f"{owner}(preds, labels): expected integer class indices, got {p.dtype} and {y.dtype}")
    return p, y


def pair_confusions(preds, labels, pairs) -> np.ndarray:
    """For each time-reversed pair (i, j): the 2x2 confusion matrix of the clips labelled i or j (P, 2, 2).

    Row = true class (i, j), column = predicted class (i, j); predictions outside the pair are not counted.
    """
    p, y = _labels(preds, labels, "pair_confusions")
    out = np.zeros((len(pairs), 2, 2), dtype=np.int64)
    for k, pair in enumerate(pairs):
        for r, true in enumerate(pair):
            for c, guess in enumerate(pair):
                out[k, r, c] = np.sum((y == true) & (p == guess))
    return out


def within_pair_accuracy(preds, labels, pairs) -> float:
    """Among clips whose *pair* was predicted right, the fraction whose direction in time was right too.

    Chance is 0.5: a model blind to frame order cannot do better on average.
    """
    conf = pair_confusions(preds, labels, pairs)
    total = conf.sum()
    return float(np.trace(conf, axis1=1, axis2=2).sum() / total) if total else float("nan")


def pair_accuracy(preds, labels, pairs) -> float:
    """Fraction of clips whose predicted class is in the same time-reversed pair as the true class."""
    p, y = _labels(preds, labels, "pair_accuracy")
    pair_of = {c: k for k, pair in enumerate(pairs) for c in pair}
    return float(np.mean([pair_of.get(int(a), -1) == pair_of.get(int(b), -2) for a, b in zip(p, y)]))


def plot_pair_confusions(preds, labels, classes, pairs, *, title: str = "", axes=None):
    """One small 2x2 confusion matrix per pair, with the within-pair accuracy of each. Returns the figure."""
    import matplotlib.pyplot as plt

    conf = pair_confusions(preds, labels, pairs)
    if axes is None:
        fig, axes = plt.subplots(1, len(pairs), figsize=(2.3 * len(pairs), 3.0), layout="constrained")
    axes = np.atleast_1d(axes)
    fig = axes[0].figure
    for ax, (i, j), m in zip(axes, pairs, conf):
        ax.imshow(m, cmap="Blues", vmin=0, vmax=max(1, m.sum(axis=1).max()))
        for r in range(2):
            for c in range(2):
                ax.text(c, r, str(m[r, c]), ha="center", va="center", fontsize=9,
                        color="white" if m[r, c] > m.sum(axis=1).max() / 2 else "black")
        names = [classes[i], classes[j]]
        ax.set_xticks([0, 1], names, rotation=30, ha="right", fontsize=8)
        ax.set_yticks([0, 1], names, fontsize=8)
        ax.set_xlabel("predicted", fontsize=8)
        acc = np.trace(m) / m.sum() if m.sum() else float("nan")
        ax.set_title(f"{acc:.0%} within pair", fontsize=8)
    axes[0].set_ylabel("true", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    return fig
