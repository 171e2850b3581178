"""Chapter 12: pictures of video transformers — tubelet grids, attention maps (and a widget to step through layers
and frames), VideoMAE-style tube masking, and the cost of attention as clips get longer.
"""
from __future__ import annotations

import numbers
import textwrap

import numpy as np


def _frames(clip) -> np.ndarray:
    """(C, T, H, W) tensor/array in [0, 1] -> (T, H, W, C) float array for imshow (grey clips get 3 channels)."""
    import torch

    if torch.is_tensor(clip):
        clip = clip.detach().cpu().numpy()
    clip = np.asarray(clip, dtype=np.float32)
    if clip.ndim != 4:
        raise ValueError(f"expected a clip (C, T, H, W), got shape {clip.shape}")
    frames = clip.transpose(1, 2, 3, 0)
    if frames.shape[-1] == 1:
        frames = np.repeat(frames, 3, axis=-1)
    return np.clip(frames, 0, 1)


def pooled_attention(model, clip, layer: int = -1) -> np.ndarray:
    """Where the pooled query looks in one layer: a (T', H', W') array, averaged over heads.

    ``clip`` (C, T, H, W). The pooled query is the class token (``pooling="cls"``) or, with mean pooling, the average
    of all queries (how much attention each token *receives*). Joint attention: one distribution over the whole clip
    (sums to 1 over all T' H' W' tokens). Divided / space-only: the spatial attention of each frame (each frame's
    H' W' values sum to 1; the class token's attention to itself is left out and the rest renormalised).
    """
    import torch

    from ..models.transformer import VideoTransformer

    if not isinstance(model, VideoTransformer):
        raise TypeError(f"pooled_attention(model): expected a course.models.VideoTransformer, got {type(model).__name__}")
    if not torch.is_tensor(clip) or clip.ndim != 4:
        raise ValueError(f"pooled_attention(clip): expected a tensor (C, T, H, W), got "
                         f"{tuple(clip.shape) if torch.is_tensor(clip) else type(clip).__name__}")
    T, H, W = model.grid
    weights = model.attention_weights(clip[None], layers=layer)[0]
    has_cls = model.pooling == "cls"
    if model.attention == "joint":
        w = weights["joint"][0].mean(0)                                     # (L, L), heads averaged
        row = w[0, 1:] if has_cls else w.mean(0)
        row = row / row.sum()
        return row.reshape(T, H, W).numpy()
    w = weights["space"][0].mean(1)                                         # (T', L, L)
    rows = w[:, 0, 1:] if has_cls else w.mean(1)
    rows = rows / rows.sum(-1, keepdim=True)
    return rows.reshape(T, H, W).numpy()


def _upsample(grid_map: np.ndarray, tubelet, frames: int) -> np.ndarray:
    """(T', H', W') token map -> (T, H, W) pixel map (each token's value over its tubelet)."""
    t, h, w = tubelet
    return np.repeat(np.repeat(np.repeat(grid_map, t, 0), h, 1), w, 2)[:frames]


def plot_attention_maps(model, clip, *, layers=None, frames=None, title: str = ""):
    """Rows: layers; columns: token frames. Each panel is the first frame of that token frame with the pooled
    query's attention (:func:`pooled_attention`) overlaid. ``clip`` (C, T, H, W). Returns the figure."""
    import matplotlib.pyplot as plt

    layers = list(range(model.depth)) if layers is None else list(layers)
    T_tok = model.grid[0]
    frames = list(range(T_tok)) if frames is None else list(frames)
    pixels = _frames(clip)
    t = model.embed.tubelet[0]
    fig, axes = plt.subplots(len(layers), len(frames), figsize=(1.3 * len(frames) + 1, 1.35 * len(layers) + 0.6),
                             squeeze=False)
    for r, layer in enumerate(layers):
        att = _upsample(pooled_attention(model, clip, layer), model.embed.tubelet, pixels.shape[0])
        for c, f in enumerate(frames):
            ax = axes[r, c]
            ax.imshow(pixels[f * t])
            ax.imshow(att[f * t], cmap="inferno", alpha=0.55, vmin=0, vmax=att.max())
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frames {f * t}-{f * t + t - 1}" if t > 1 else f"frame {f}", fontsize=8)
            if c == 0:
                ax.set_ylabel(f"layer {layer}", fontsize=9)
    query = "class token" if model.pooling == "cls" else "mean of the queries"
    title = title or f"{model.attention} attention: where the {query} looks (brighter = more)"
    fig.suptitle(textwrap.fill(title, int(13 * fig.get_figwidth())), fontsize=10)   # ~13 characters of 10 pt per inch
    fig.tight_layout()
    return fig


def attention_explorer(model, clip):
    """An ipywidgets explorer: a layer slider and a frame slider (with play button) over ``clip`` (C, T, H, W): the
    frame, the pooled query's attention on it, and the attention over all token frames as a strip. Returns the widget
    container (make it the last expression of a cell)."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    pixels = _frames(clip)
    maps = [_upsample(pooled_attention(model, clip, layer), model.embed.tubelet, pixels.shape[0])
            for layer in range(model.depth)]
    layer_slider = widgets.IntSlider(value=model.depth - 1, min=0, max=model.depth - 1, description="layer",
                                     continuous_update=False)
    frame_slider = widgets.IntSlider(value=0, min=0, max=pixels.shape[0] - 1, description="frame")
    play = widgets.Play(value=0, min=0, max=pixels.shape[0] - 1, interval=300)
    widgets.jslink((play, "value"), (frame_slider, "value"))
    out = widgets.Output()

    def draw(_=None):
        att, f = maps[layer_slider.value], frame_slider.value
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 3, figsize=(9, 3), gridspec_kw={"width_ratios": [1, 1, 1.6]})
            axes[0].imshow(pixels[f])
            axes[0].set_title(f"frame {f}", fontsize=9)
            axes[1].imshow(pixels[f])
            axes[1].imshow(att[f], cmap="inferno", alpha=0.6, vmin=0, vmax=att.max())
            axes[1].set_title(f"layer {layer_slider.value}: attention", fontsize=9)
            per_frame = att.reshape(att.shape[0], -1).mean(1)
            axes[2].bar(np.arange(len(per_frame)), per_frame, color="tab:orange")
            axes[2].axvline(f, color="k", ls=":", label="this frame")
            axes[2].set_xlabel("frame")
            axes[2].set_ylabel("mean attention")
            axes[2].legend(fontsize=8)
            for ax in axes[:2]:
                ax.set_xticks([])
                ax.set_yticks([])
            fig.tight_layout()
            plt.show()

    layer_slider.observe(draw, names="value")
    frame_slider.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([layer_slider, play, frame_slider]), out])


def plot_tubelets(clip, tubelet, *, frames: int | None = None):
    """The first ``frames`` frames of ``clip`` (C, T, H, W) with the tubelet grid drawn on them; frames that share a
    token are framed in the same colour. Returns the figure."""
    import matplotlib.pyplot as plt

    pixels = _frames(clip)
    t, h, w = tubelet
    frames = min(pixels.shape[0], frames or 2 * t * 2)
    fig, axes = plt.subplots(1, frames, figsize=(1.4 * frames, 1.9), squeeze=False)
    colours = plt.cm.tab10.colors
    for f, ax in enumerate(axes[0]):
        ax.imshow(pixels[f])
        for y in range(0, pixels.shape[1] + 1, h):
            ax.axhline(y - 0.5, color="w", lw=0.8)
        for x in range(0, pixels.shape[2] + 1, w):
            ax.axvline(x - 0.5, color="w", lw=0.8)
        for spine in ax.spines.values():
            spine.set_edgecolor(colours[(f // t) % 10])
            spine.set_linewidth(3)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"frame {f}\ntoken frame {f // t}", fontsize=8)
    fig.suptitle(f"tubelets of {t} x {h} x {w} voxels: one token each", fontsize=10)
    fig.tight_layout()
    return fig


def tube_mask(grid, ratio: float = 0.9, *, seed: int = 0) -> np.ndarray:
    """VideoMAE's tube masking: a boolean (T', H', W') array, True = masked. One random set of spatial positions
    (``round(ratio * H' W')`` of them) is masked in *every* token frame, so a masked patch cannot be copied from the
    same place in a neighbouring frame."""
    if (not isinstance(grid, (tuple, list)) or len(grid) != 3
            or not all(isinstance(g, numbers.Integral) and g > 0 for g in grid)):
        raise ValueError(f"tube_mask(grid): expected (T', H', W') positive ints, got {grid!r}")
    if not isinstance(ratio, numbers.Real) or not 0 <= ratio < 1:
        raise ValueError(f"tube_mask(ratio={ratio!r}): expected a number in [0, 1)")
    T, H, W = grid
    rng = np.random.default_rng(seed)
    spatial = np.zeros(H * W, dtype=bool)
    spatial[rng.permutation(H * W)[: int(round(ratio * H * W))]] = True
    return np.broadcast_to(spatial.reshape(1, H, W), (T, H, W)).copy()


def plot_tube_masking(clip, tubelet, *, ratio: float = 0.9, seed: int = 0, frames: int = 6):
    """Top: frames of ``clip`` (C, T, H, W); bottom: what a VideoMAE encoder sees with ``ratio`` tube masking
    (masked tubelets greyed out). Returns (figure, mask (T', H', W'))."""
    import matplotlib.pyplot as plt

    pixels = _frames(clip)
    t, h, w = tubelet
    grid = (pixels.shape[0] // t, pixels.shape[1] // h, pixels.shape[2] // w)
    mask = tube_mask(grid, ratio, seed=seed)
    pixel_mask = _upsample(mask.astype(np.uint8), tubelet, pixels.shape[0]).astype(bool)
    shown = np.linspace(0, pixels.shape[0] - 1, min(frames, pixels.shape[0])).round().astype(int)
    fig, axes = plt.subplots(2, len(shown), figsize=(1.45 * len(shown), 3.3), squeeze=False)
    for c, f in enumerate(shown):
        masked = pixels[f].copy()
        masked[pixel_mask[f]] = 0.5
        axes[0, c].imshow(pixels[f])
        axes[1, c].imshow(masked)
        axes[0, c].set_title(f"frame {f}", fontsize=8)
        for ax in axes[:, c]:
            ax.set_xticks([])
            ax.set_yticks([])
    axes[0, 0].set_ylabel("clip", fontsize=9)
    axes[1, 0].set_ylabel(f"{ratio:.0%} masked", fontsize=9)
    fig.suptitle(f"tube masking: the same {mask[0].sum()} of {mask[0].size} patches hidden in every frame "
                 f"({(~mask).sum()} of {mask.size} tokens left)", fontsize=10)
    fig.tight_layout()
    return fig, mask


def plot_attention_scaling(rows, *, ax=None):
    """FLOPs of one forward pass of joint and divided attention vs frames T (log-log), with the divided/joint
    ratio on a second axis. ``rows``: dicts with ``frames``, ``joint_flops``, ``divided_flops`` and optionally
    ``joint_attention_flops``/``divided_attention_flops`` (as written by ``benchmarks/attention_cost.py``)."""
    import matplotlib.pyplot as plt

    if not rows or not all({"frames", "joint_flops", "divided_flops"} <= set(r) for r in rows):
        raise ValueError("plot_attention_scaling(rows): expected dicts with frames, joint_flops and divided_flops")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    T = [r["frames"] for r in rows]
    for key, label, style in (("joint_flops", "joint: total", "-o"), ("divided_flops", "divided: total", "-s"),
                              ("joint_attention_flops", "joint: attention products only", ":o"),
                              ("divided_attention_flops", "divided: attention products only", ":s")):
        if all(key in r for r in rows):
            ax.plot(T, [r[key] / 1e9 for r in rows], style, label=label,
                    color="tab:red" if key.startswith("joint") else "tab:blue")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(T, [str(t) for t in T])
    ax.set_xlabel("frames T (tokens per frame fixed)")
    ax.set_ylabel("GFLOPs per clip (log scale)")
    twin = ax.twinx()
    twin.plot(T, [r["divided_flops"] / r["joint_flops"] for r in rows], "--", color="gray", label="divided / joint")
    twin.set_ylabel("divided / joint")
    twin.set_ylim(0, 1.05)
    lines, labels = ax.get_legend_handles_labels()
    more, more_labels = twin.get_legend_handles_labels()
    twin.legend(lines + more, labels + more_labels, fontsize=8, loc="upper left")   # on the twin: drawn over its line
    ax.set_title("one forward pass: joint vs divided space-time attention", fontsize=10)
    return ax


def _mib(value) -> str:
    return f"{value / 2**20:.1f}" if value is not None else "-"


def format_attention_cost(record: dict) -> str:
    """The record of ``benchmarks/attention_cost.py`` (``course.train.recorded_runs("attention_cost")``) as text: the
    joint-vs-divided table (FLOPs, ratio, peak memory in MiB) and, if present, the table of real video models."""
    if not isinstance(record, dict) or not isinstance(record.get("runs"), list) or not record["runs"]:
        raise ValueError("format_attention_cost(record): expected a dict with a non-empty 'runs' list")
    rows = record["runs"]
    memory = any(r.get("joint_cpu_peak_bytes") is not None for r in rows)
    cuda = any(r.get("joint_cuda_peak_bytes") is not None for r in rows)
    headers = ["T", "tokens", "joint GFLOPs", "divided GFLOPs", "divided/joint"]
    if memory:
        headers += ["joint CPU MiB", "divided CPU MiB", "joint fused CPU MiB"]
    if cuda:
        headers += ["joint CUDA MiB", "divided CUDA MiB"]
    table = []
    for r in rows:
        line = [str(r["frames"]), str(r["tokens"]), f"{r['joint_flops'] / 1e9:.3f}", f"{r['divided_flops'] / 1e9:.3f}",
                f"{r['divided_flops'] / r['joint_flops']:.3f}"]
        if memory:
            line += [_mib(r.get("joint_cpu_peak_bytes")), _mib(r.get("divided_cpu_peak_bytes")),
                     _mib(r.get("joint_fused_cpu_peak_bytes"))]
        if cuda:
            line += [_mib(r.get("joint_cuda_peak_bytes")), _mib(r.get("divided_cuda_peak_bytes"))]
        table.append(line)
    lines = [f"device: {record.get('device', '?')} | torch {record.get('torch', '?')} | {record.get('date', '?')}",
             f"command: {record.get('command', '?')}",
             f"model: {record.get('model', '?')}, one clip 3 x T x {rows[0].get('size', '?')} x {rows[0].get('size', '?')},"
             " forward pass (no grad), attention by hand unless 'fused'", ""]
    lines += _aligned(headers, table)
    models = record.get("models") or []
    if models:
        lines += [""] + _aligned(["model", "built from", "input (C,T,H,W)", "params (M)", "GFLOPs / clip"],
                                 [[m["model"], m["source"], m["input"], f"{m['parameters'] / 1e6:.1f}",
                                   f"{m['flops'] / 1e9:.1f}"] for m in models])
    return "\n".join(lines)


def _aligned(headers, rows) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    out = ["  ".join(h.rjust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    return out + ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]


def format_comparison(record: dict) -> str:
    """The record of ``benchmarks/train_video_transformer.py --save`` (transformer vs 3D CNN trained on the same
    MovingShapes clips): parameters, MFLOPs per clip, training clips, epochs, training seconds (wall and CPU), load,
    test and within-pair accuracy."""
    if not isinstance(record, dict) or not isinstance(record.get("runs"), list) or not record["runs"]:
        raise ValueError("format_comparison(record): expected a dict with a non-empty 'runs' list; run "
                         "`python benchmarks/train_video_transformer.py --save`")
    cpu = [r.get("train_cpu_seconds") for r in record["runs"]]
    rows = [[r["model"], f"{r['parameters']:,}", f"{r['flops'] / 1e6:.0f}", str(r.get("train_clips", "?")),
             str(r["epochs"]), f"{r['train_seconds']:.0f}", "?" if c is None else f"{c:.0f}",
             f"{r.get('load_average', ['?'])[0]}", f"{r['test_acc']:.1%}", f"{r['within_pair_acc']:.1%}"]
            for r, c in zip(record["runs"], cpu)]
    commands = dict.fromkeys(r.get("command", record.get("command", "?")) for r in record["runs"])
    head = [f"device: {record.get('device', '?')} | torch {record.get('torch', '?')} | {record.get('date', '?')}",
            f"command: {'; '.join(commands)} | {record.get('test_clips', '?')} test clips of 3x16x32x32", ""]
    return "\n".join(head + _aligned(["model", "params", "MFLOPs/clip", "train clips", "epochs", "train s (wall)",
                                      "train s (CPU)", "load (1 min)", "test acc", "within-pair"], rows))
