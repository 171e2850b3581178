"""Chapter 09: the LSTM's gate blocks, gradients through time, and the side-by-side comparison of video models.

Shapes: sequences are batch-first (N, T, D); clips (N, C, T, H, W).
"""
from __future__ import annotations

import numbers

import numpy as np


def plot_gate_blocks(weight, gate_order, *, title: str = "nn.LSTM weight_ih_l0 = four (H, D) blocks stacked"):
    """Show a stacked LSTM weight (4H, D) as its four (H, D) gate blocks, one panel per gate. Returns the figure."""
    import matplotlib.pyplot as plt

    w = weight.detach().cpu().numpy() if hasattr(weight, "detach") else np.asarray(weight)
    gates = list(gate_order)
    if w.ndim != 2 or len(gates) == 0 or w.shape[0] % len(gates):
        raise ValueError(f"plot_gate_blocks(weight): expected a 2-D (G*H, D) array with G = {len(gates)} gates, "
                         f"got shape {w.shape}")
    h = w.shape[0] // len(gates)
    vmax = float(np.abs(w).max()) or 1.0
    fig, axes = plt.subplots(1, len(gates), figsize=(2.4 * len(gates), 3.0), sharey=True, layout="constrained")
    for k, (ax, gate) in enumerate(zip(np.atleast_1d(axes), gates)):
        ax.imshow(w[k * h:(k + 1) * h], cmap="bwr", vmin=-vmax, vmax=vmax)
        ax.set_title(f"gate {gate}: rows {k * h}..{(k + 1) * h - 1}", fontsize=9)
        ax.set_xlabel("input feature")
    np.atleast_1d(axes)[0].set_ylabel("hidden unit")
    fig.suptitle(f"{title}: {', '.join(gates)}", fontsize=10)
    return fig


def gradient_through_time(model, x) -> np.ndarray:
    """``||d loss / d x_{T-k}||`` for k = 0 .. T-1, where the loss (squared last output) depends only on the last step.

    ``model``: a batch-first recurrent module returning ``(outputs (N, T, H), state)`` (``nn.RNN``, ``nn.LSTM``,
    ``nn.GRU``); ``x``: (N, T, D) float tensor. Returns a (T,) array; index k is k steps back from the end.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"gradient_through_time(model): expected an nn.RNN/LSTM/GRU, got {type(model).__name__}")
    if not isinstance(x, torch.Tensor) or x.ndim != 3 or not x.is_floating_point():
        raise ValueError("gradient_through_time(x): expected a float tensor (N, T, D), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    x = x.detach().clone().requires_grad_(True)
    out, _ = model(x)
    out[:, -1].pow(2).sum().backward()
    return x.grad.norm(dim=(0, 2)).flip(0).numpy()


def plot_gradients_through_time(grads: dict, ax=None):
    """Log-scale curves of gradient norm vs steps back, one per entry of ``grads`` ({name: (T,) array})."""
    import matplotlib.pyplot as plt

    if not isinstance(grads, dict) or not grads:
        raise TypeError("plot_gradients_through_time(grads): expected a non-empty dict {name: (T,) array}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    for name, g in grads.items():
        ax.semilogy(np.maximum(np.asarray(g, dtype=float), 1e-30), label=name)
    ax.set_xlabel("k: time steps back from the last output")
    ax.set_ylabel(r"gradient norm w.r.t. the input $x_{T-k}$")
    ax.set_title("how much the last output can learn from the input k steps earlier", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return ax


def compare_video_models(models: dict, test_loader, reversed_loader, one_clip, *, pairs, repeats: int = 10,
                         progress: bool = True) -> dict:
    """Measure each model of ``models`` ({name: nn.Module}) on the same clips. Returns {name: {measure: value}}.

    Measures: test accuracy, pair and within-pair accuracy (``pairs``: time-reversed class pairs), "same answer
    reversed" (the fraction of clips whose prediction does not change when ``reversed_loader`` plays them backwards;
    the two loaders must yield the same clips in the same order), parameters, MFLOPs for ``one_clip`` (1, C, T, H, W)
    and CPU latency in ms for it (the fastest of ``repeats`` single-clip forward passes on one thread).
    """
    import torch
    from tqdm.auto import tqdm

    from ..models import count_flops, count_parameters
    from ..timing import best_time, limited_threads
    from ..train import evaluate
    from .frames_vs_time import pair_accuracy, within_pair_accuracy

    if not isinstance(models, dict) or not models:
        raise TypeError("compare_video_models(models): expected a non-empty dict {name: nn.Module}")
    if not isinstance(one_clip, torch.Tensor) or one_clip.ndim != 5 or one_clip.shape[0] != 1:
        raise ValueError("compare_video_models(one_clip): expected a tensor (1, C, T, H, W), got "
                         f"{getattr(one_clip, 'shape', type(one_clip).__name__)}")
    if not isinstance(repeats, numbers.Integral) or repeats < 1:
        raise ValueError(f"compare_video_models(repeats): expected a positive int, got {repeats!r}")
    rows = {}
    for name, net in tqdm(models.items(), desc="measuring", disable=not progress):
        p, y = evaluate(net, test_loader)
        p_reversed, _ = evaluate(net, reversed_loader)
        net.eval()
        with limited_threads(1), torch.no_grad():   # one thread: a single small clip gains little from more
            latency = 1e3 * best_time(lambda: net(one_clip), repeats, warmup=2)
        rows[name] = {
            "test acc": float((p == y).mean()),
            "pair acc": pair_accuracy(p, y, pairs),
            "within-pair acc": within_pair_accuracy(p, y, pairs),
            "same answer reversed": float((p_reversed == p).mean()),
            "parameters": count_parameters(net),
            "MFLOPs / clip": count_flops(net, tuple(one_clip.shape)) / 1e6,
            "CPU ms / clip": latency,
        }
    return rows


def format_comparison(rows: dict) -> str:
    """The table of :func:`compare_video_models` as text, one line per model."""
    lines = [f"{'model':30s} {'test acc':>8s} {'pair acc':>8s} {'within-pair':>11s} {'same rev.':>9s} "
             f"{'parameters':>10s} {'MFLOPs/clip':>11s} {'CPU ms/clip':>11s}"]
    for name, r in rows.items():
        lines.append(f"{name:30s} {r['test acc']:8.3f} {r['pair acc']:8.3f} {r['within-pair acc']:11.3f} "
                     f"{r['same answer reversed']:9.3f} {r['parameters']:10,d} {r['MFLOPs / clip']:11.1f} "
                     f"{r['CPU ms / clip']:11.1f}")
    return "\n".join(lines)


def plot_model_comparison(rows: dict):
    """Two scatter plots of :func:`compare_video_models` rows: accuracy vs FLOPs, within-pair accuracy vs latency.

    Marker area grows with the parameter count; the legend sits below the plots, clear of the chance line.
    """
    import matplotlib.pyplot as plt

    if not isinstance(rows, dict) or not rows:
        raise TypeError("plot_model_comparison(rows): expected the non-empty dict of compare_video_models")
    fig, axes = plt.subplots(1, 2, figsize=(9.8, 4.6), layout="constrained")
    for name, r in rows.items():
        size = 40 + r["parameters"] / 2e3
        axes[0].scatter(r["MFLOPs / clip"], r["test acc"], s=size, label=name, alpha=0.8)
        axes[1].scatter(r["CPU ms / clip"], r["within-pair acc"], s=size, alpha=0.8)
    axes[0].set_xlabel("MFLOPs per clip")
    axes[0].set_ylabel("test accuracy")
    axes[1].axhline(0.5, color="gray", ls=":")
    axes[1].annotate("chance within a pair", (0.02, 0.5), xycoords=("axes fraction", "data"), va="bottom",
                     fontsize=8, color="gray")
    axes[1].set_xlabel("CPU latency per clip (ms, 1 thread)")
    axes[1].set_ylabel("within-pair accuracy")
    for ax in axes:
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncols=min(4, len(rows)), fontsize=8,
               title="marker area grows with the number of parameters", title_fontsize=8)
    return fig
