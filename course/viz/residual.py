"""Chapter 10 plots: gradient norms through a deep stack, learning curves of several runs, edge effects over time."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["plot_edge_effect", "plot_gradient_norms", "plot_runs", "weight_gradient_norms"]


def _check_mapping(value, name: str) -> dict:
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{name}: expected a non-empty dict label -> sequence of numbers, got {type(value).__name__}")
    out = {}
    for label, seq in value.items():
        arr = np.asarray(seq, dtype=float)
        if arr.ndim != 1 or arr.size == 0:
            raise ValueError(f"{name}[{label!r}]: expected a 1-D sequence of numbers, got shape {arr.shape}")
        out[str(label)] = arr
    return out


def weight_gradient_norms(model: nn.Module, clips: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    """One forward/backward pass of cross-entropy on (clips (N, C, T, H, W), labels (N,)); returns, for every Conv3d
    of ``model`` in order (input side first), the L2 norm of its weight gradient, shape (num_convs,).

    The model's gradients are zeroed before and after, so it is left as it was.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"weight_gradient_norms(model): expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(clips, torch.Tensor) or clips.ndim != 5:
        raise ValueError("weight_gradient_norms(clips): expected a tensor (N, C, T, H, W), got "
                         f"{tuple(clips.shape) if isinstance(clips, torch.Tensor) else type(clips).__name__}")
    if not isinstance(labels, torch.Tensor) or labels.shape != clips.shape[:1]:
        raise ValueError(f"weight_gradient_norms(labels): expected a tensor of shape ({clips.shape[0]},)")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv3d)]
    if not convs:
        raise ValueError("weight_gradient_norms(model): the model has no Conv3d layers")
    model.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(clips), labels).backward()
    norms = np.array([m.weight.grad.norm().item() for m in convs])
    model.zero_grad(set_to_none=True)
    return norms


def plot_gradient_norms(norms: Mapping[str, Sequence[float]], *, ax=None, title: str = "Gradient reaching each layer"):
    """One line per model: gradient norm (log scale) against layer depth (1 = next to the input). Returns the axes."""
    import matplotlib.pyplot as plt

    series = _check_mapping(norms, "plot_gradient_norms(norms)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, values in series.items():
        ax.semilogy(np.arange(1, values.size + 1), values, marker="o", markersize=3, label=label)
    return _label(ax, "conv layer (1 = nearest the input)", "||dLoss/dW|| (log scale)", title)


def _label(ax, xlabel: str, ylabel: str, title: str):
    """The chapter's common finish: axis labels, title (if any), legend and grid at readable sizes."""
    ax.set_xlabel(xlabel, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=10)
    if title:
        ax.set_title(title, fontsize=11)
    ax.tick_params(labelsize=9)
    ax.legend(fontsize=9)
    ax.grid(alpha=0.3)
    return ax


def plot_runs(runs: Mapping[str, Sequence[float]], *, ylabel: str, xlabel: str = "epoch", chance: float | None = None,
              ax=None, title: str = ""):
    """Learning curves of several runs on one axes (x = 1, 2, ...); an optional dashed chance line. Returns the axes."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    series = _check_mapping(runs, "plot_runs(runs)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.6))
    for label, values in series.items():
        ax.plot(np.arange(1, values.size + 1), values, marker="o", markersize=4, label=label)
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # epochs are whole numbers
    return _label(ax, xlabel, ylabel, title)


def plot_edge_effect(ratios: Mapping[str, Sequence[float]], *, ax=None,
                     title: str = "Inflated conv on a boring video, frame by frame"):
    """Per-frame ratio (3D output / 2D output) for each padding: 1 everywhere means the boring-video property holds."""
    import matplotlib.pyplot as plt

    series = _check_mapping(ratios, "plot_edge_effect(ratios)")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.4))
    for label, values in series.items():
        ax.plot(np.arange(values.size), values, marker="o", label=label)
    ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)
    return _label(ax, "frame t", "3D output / 2D output", title)


def shape_frames(dataset, *, frames_per_clip: int = 2, seed: int = 0):
    """Single frames of a MovingShapes ``dataset`` labelled by the *kind of shape* that moves (square, triangle, ...).

    A frame task a 2D network can learn (one frame shows the shape, but not its motion), used in chapter 10 to
    pretrain a 2D ResNet before inflating it. Returns ``(TensorDataset of frames (N*k, 3, H, W) and labels (N*k,),
    shape names)`` with ``k = frames_per_clip`` frames drawn at random times from each clip.
    """
    from torch.utils.data import TensorDataset

    if not hasattr(dataset, "params") or not hasattr(dataset, "num_frames"):
        raise TypeError(f"shape_frames(dataset): expected a course.data.MovingShapes, got {type(dataset).__name__}")
    if not isinstance(frames_per_clip, int) or isinstance(frames_per_clip, bool) or not \
            1 <= frames_per_clip <= dataset.num_frames:
        raise ValueError(f"shape_frames(frames_per_clip): expected an int in [1, {dataset.num_frames}], "
                         f"got {frames_per_clip!r}")
    kinds = [dataset.params(i)["shape"] for i in range(len(dataset))]
    names = sorted(set(kinds))
    g = torch.Generator().manual_seed(seed)
    frames, labels = [], []
    for i in range(len(dataset)):
        clip, _ = dataset[i]                                            # (3, T, H, W)
        for t in torch.randperm(dataset.num_frames, generator=g)[:frames_per_clip].tolist():
            frames.append(clip[:, t])
            labels.append(names.index(kinds[i]))
    return TensorDataset(torch.stack(frames), torch.tensor(labels)), names
