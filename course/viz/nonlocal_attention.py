"""Chapter 11: where does a non-local block look? One query position's attention, shown over every frame.

:func:`query_attention` takes one row of a :class:`course.models.NonLocalBlock` attention map and reshapes it to
(T, H, W); :func:`plot_query_attention` draws it over the clip's frames; :func:`nonlocal_attention_explorer` is the
widget: pick a frame and a pixel, see where that position attends in every frame.
"""
from __future__ import annotations

import numbers

import numpy as np


def _check_clip(clip, owner: str) -> np.ndarray:
    arr = np.asarray(clip.detach().cpu() if hasattr(clip, "detach") else clip, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[0] not in (1, 3):
        raise ValueError(f"{owner}(clip): expected a clip (C, T, H, W) with C = 1 or 3, got shape {arr.shape}")
    return arr


def query_attention(attention, query, grid) -> np.ndarray:
    """The attention of position ``query`` = (t, y, x) as a (T, H, W) array.

    ``attention``: (L, L) or (1, L, L) weights (row = query) over a (T, H, W) ``grid`` of L = T*H*W positions in
    (T, H, W) order, as :meth:`course.models.NonLocalBlock.attention` returns for one clip.
    """
    a = np.asarray(attention.detach().cpu() if hasattr(attention, "detach") else attention, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    t, h, w = (int(s) for s in grid) if len(grid) == 3 else (None,) * 3
    if t is None or a.ndim != 2 or a.shape != (t * h * w, t * h * w):
        raise ValueError(f"query_attention(attention, grid={tuple(grid)!r}): expected attention (L, L) with "
                         f"L = T*H*W of the grid, got shape {a.shape}")
    if (len(query) != 3 or not all(isinstance(q, numbers.Integral) for q in query)
            or not all(0 <= q < n for q, n in zip(query, (t, h, w)))):
        raise ValueError(f"query_attention(query={tuple(query)!r}): expected (t, y, x) inside the grid {(t, h, w)}")
    qt, qy, qx = query
    return a[(qt * h + qy) * w + qx].reshape(t, h, w)


def plot_query_attention(clip, weights, query, *, frames=None, axes=None, title: str = ""):
    """Frames of ``clip`` (C, T, H, W) in [0, 1] with ``weights`` (T', H', W') from :func:`query_attention` over them.

    The attention grid is stretched over the frames (T' = T, or every T/T'-th frame is shown); the query is marked
    with a red cross in its frame, and each frame's title gives the share of the attention it receives.
    ``frames``: indices of the grid's frames to show (default: all, at most 8). Returns the figure.
    """
    import matplotlib.pyplot as plt

    arr = _check_clip(clip, "plot_query_attention")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 3:
        raise ValueError(f"plot_query_attention(weights): expected (T, H, W) weights, got shape {w.shape}")
    c, t, height, width = arr.shape
    tg, hg, wg = w.shape
    if t % tg:
        raise ValueError(f"plot_query_attention: the clip's {t} frames are not a multiple of the grid's {tg}")
    frames = sorted({int(round(v)) for v in np.linspace(0, tg - 1, min(tg, 8))}) if frames is None else list(frames)
    if axes is None:
        fig, axes = plt.subplots(1, len(frames), figsize=(1.15 * len(frames) + 0.8, 1.85), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    vmax = max(w.max(), 1e-12)
    qt, qy, qx = query
    image = None
    for ax, f in zip(axes, frames):
        frame = arr[:, f * (t // tg)].transpose(1, 2, 0)
        ax.imshow(frame[..., 0] if c == 1 else np.clip(frame, 0, 1), cmap="gray" if c == 1 else None)
        image = ax.imshow(w[f], cmap="magma", alpha=0.6, vmin=0, vmax=vmax, extent=(-0.5, width - 0.5, height - 0.5,
                                                                                   -0.5), interpolation="nearest")
        ax.set_title(f"frame {f * (t // tg)}: {w[f].sum():.0%}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        if f == qt:
            sy, sx = height / hg, width / wg
            ax.plot((qx + 0.5) * sx - 0.5, (qy + 0.5) * sy - 0.5, "x", color="red", markersize=9, mew=2,
                    label="query")
            ax.legend(loc="lower right", fontsize=8, framealpha=0.7)
    cbar = fig.colorbar(image, ax=list(axes), fraction=0.03, pad=0.02)
    cbar.set_label("attention weight", fontsize=8)
    cbar.ax.tick_params(labelsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def nonlocal_attention_explorer(block, clip, features=None):
    """A widget: sliders for a frame t and a pixel (y, x) of the attention grid; shows where it attends.

    ``block``: a :class:`course.models.NonLocalBlock`; ``clip`` (C, T, H, W) in [0, 1] to draw; ``features``
    (1, C_block, T', H', W') the block attends over (default: the clip itself, batched). Returns the widget.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import torch
    from IPython.display import display

    from course.models import NonLocalBlock

    if not isinstance(block, NonLocalBlock):
        raise TypeError(f"nonlocal_attention_explorer(block): expected a NonLocalBlock, got {type(block).__name__}")
    arr = _check_clip(clip, "nonlocal_attention_explorer")
    feats = torch.as_tensor(arr)[None] if features is None else features
    with torch.no_grad():
        attention = block.attention(feats)[0]
    grid = tuple(feats.shape[2:])
    sliders = {name: widgets.IntSlider(value=n // 2, min=0, max=n - 1, description=name,
                                       continuous_update=False) for name, n in zip(("frame t", "row y", "column x"),
                                                                                   grid)}
    out = widgets.Output()

    def redraw(_=None):
        query = tuple(s.value for s in sliders.values())
        with out:
            out.clear_output(wait=True)
            plot_query_attention(arr, query_attention(attention, query, grid), query,
                                 title=f"where position (t={query[0]}, y={query[1]}, x={query[2]}) attends")
            plt.show()

    for s in sliders.values():
        s.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([widgets.HBox(list(sliders.values())), out])
    display(box)
    return box
