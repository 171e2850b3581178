"""Chapter 18: pretext tasks, the shortcut, the few-label table and retrieval by embeddings."""
from __future__ import annotations

import numpy as np


def _new_axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_pretext_examples(clip, order, *, every: int = 1, title: str = "one unlabelled clip, three pretext inputs"):
    """Three rows of frames of one clip (C, T, H, W) in [0, 1]: as recorded, played backwards (arrow of time, label
    1), and with its 3 sub-clips in ``order`` (clip order); sub-clip boundaries are marked by the frame colours."""
    import matplotlib.pyplot as plt

    from ..selfsup.pretext import CLIP_ORDERS, reverse_clip, shuffle_subclips

    if not hasattr(clip, "ndim") or clip.ndim != 4:
        raise ValueError(f"plot_pretext_examples(clip): expected (C, T, H, W), got {getattr(clip, 'shape', clip)!r}")
    shuffled = shuffle_subclips(clip, order)
    order = CLIP_ORDERS[order] if isinstance(order, int) else tuple(order)
    length = clip.shape[1] // 3
    rows = [("forward (label 0)", clip[:, :3 * length], list(range(3 * length))),
            ("reversed (label 1)", reverse_clip(clip)[:, :3 * length], list(range(3 * length))[::-1]),
            (f"order {order} (label {CLIP_ORDERS.index(order)})", shuffled,
             [order[t // length] * length + t % length for t in range(3 * length)])]
    frames = list(range(0, 3 * length, every))
    fig, axes = plt.subplots(3, len(frames), figsize=(0.6 * len(frames) + 1.6, 3.0), squeeze=False)
    colours = ("#1b9e77", "#d95f02", "#7570b3")
    for r, (name, x, source) in enumerate(rows):
        for ax, t in zip(axes[r], frames):
            ax.imshow(np.clip(x[:, t].permute(1, 2, 0).numpy(), 0, 1))
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color(colours[source[t] // length])
                spine.set_linewidth(2.5)
            if r == 0:
                ax.set_title(f"t={t}", fontsize=8)
        axes[r][0].set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
    fig.suptitle(title + "\n(border colour: which third of the recording a frame comes from)", fontsize=9)
    fig.tight_layout()
    return fig


def plot_shortcut(results: dict, *, title: str = "the fade shortcut, measured"):
    """Bars per setting (``{setting: {"pretext": acc or None, "downstream": acc}}``): accuracy on the pretext task
    and on the labelled task (a linear probe on the frozen encoder), with chance levels as dashed lines if given
    (``{"chance": {"pretext": p, "downstream": q}}``). ``None``: not applicable (e.g. a random encoder's pretext)."""
    import matplotlib.pyplot as plt

    chance = results.get("chance", {}) if isinstance(results, dict) else {}
    settings = [k for k in results if k != "chance"] if isinstance(results, dict) else []
    if not settings or not all(isinstance(results[s], dict) and {"pretext", "downstream"} <= set(results[s])
                               for s in settings):
        raise ValueError("plot_shortcut(results): expected {setting: {'pretext': acc, 'downstream': acc}}")
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    for ax, key, label in zip(axes, ("pretext", "downstream"), ("pretext task", "labelled task (linear probe)")):
        values = [np.nan if results[s][key] is None else 100 * results[s][key] for s in settings]
        ax.bar(range(len(settings)), values, color=["#e41a1c", "#377eb8", "#4daf4a", "#984ea3"][:len(settings)])
        for i, v in enumerate(values):
            ax.text(i, (0 if np.isnan(v) else v) + 1, "n/a" if np.isnan(v) else f"{v:.0f}%", ha="center", fontsize=9)
        if key in chance:
            ax.axhline(100 * chance[key], ls="--", color="grey", label="chance")
            ax.legend(loc="upper right", fontsize=8)   # bar labels sit low on the right (n/a, a random encoder)
        ax.set_xticks(range(len(settings)), settings, fontsize=8)
        ax.set_xlim(-0.6, len(settings) - 0.4)   # a setting without a bar (n/a) keeps its place
        ax.set_ylim(0, 110)
        ax.set_ylabel("accuracy (%)")
        ax.set_title(label)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_few_label(rows: list, *, title: str = "test accuracy vs labelled clips (mean +- std over seeds)"):
    """Accuracy against the number of labelled clips (log scale), one line per (encoder, mode), error bars = std,
    from :func:`course.selfsup.fewlabel.summarize_few_label` rows; probes dashed, fine-tuning solid."""
    import matplotlib.pyplot as plt

    if not rows or not all(isinstance(r, dict) and {"encoder", "mode", "labels", "mean", "std"} <= set(r)
                           for r in rows):
        raise ValueError("plot_few_label(rows): expected summarize_few_label rows")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    encoders = list(dict.fromkeys(r["encoder"] for r in rows))
    colours = dict(zip(encoders, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, mode in zip(axes, ("probe", "finetune")):
        for name in encoders:
            mine = sorted((r for r in rows if r["encoder"] == name and r["mode"] == mode), key=lambda r: r["labels"])
            if not mine:
                continue
            ax.errorbar([r["labels"] for r in mine], [100 * r["mean"] for r in mine],
                        yerr=[100 * r["std"] for r in mine], marker="o", capsize=3, color=colours[name],
                        ls="--" if mode == "probe" else "-", label=name)
        ax.set_xscale("log")
        ax.set_xlabel("labelled training clips (log scale)")
        ax.set_title("linear probe (encoder frozen)" if mode == "probe" else "fine-tuned (everything trained)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("test accuracy (%)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_retrieval(rows: list, *, title: str = "video search by nearest neighbours (held-out clips)", ax=None):
    """Grouped bars of recall@k per encoder, from :func:`course.selfsup.retrieval.retrieval_table` rows."""
    if not rows or not all(isinstance(r, dict) and "encoder" in r for r in rows):
        raise ValueError("plot_retrieval(rows): expected retrieval_table rows")
    keys = [k for k in rows[0] if k.startswith("recall@")]
    ax = _new_axes(ax, (7, 3.2))
    width = 0.8 / max(len(keys), 1)
    x = np.arange(len(rows))
    for i, key in enumerate(keys):
        values = [100 * r[key] for r in rows]
        ax.bar(x + (i - (len(keys) - 1) / 2) * width, values, width, label=key)
        for xi, v in zip(x, values):
            ax.text(xi + (i - (len(keys) - 1) / 2) * width, v + 1, f"{v:.0f}", ha="center", fontsize=8)
    ax.set_xticks(x, [r["encoder"] for r in rows], fontsize=8)
    ax.set_ylim(0, 110)
    ax.set_ylabel("recall (%)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left")
    return ax
