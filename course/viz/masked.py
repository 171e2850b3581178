"""Chapter 18: masked tube autoencoding — reconstructions next to the input and the mask, a slider over the masking
ratio, and the reconstruction losses of the model and the trivial baselines under tube and random masking."""
from __future__ import annotations

import numpy as np

from .transformer import _frames


def _pixel_mask(mask, tubelet, size) -> np.ndarray:
    """(L,) token mask (True = hidden) -> (T, H, W) pixel mask for clips of ``size = (T, H, W)``."""
    import torch

    from ..selfsup.masked import unpatchify

    t, h, w = tubelet
    tokens = torch.as_tensor(mask).reshape(1, -1, 1).expand(1, -1, t * h * w).float()
    return unpatchify(tokens, tubelet, size, channels=1)[0, 0].numpy() > 0.5


def plot_reconstruction(clip, mask, reconstruction, tubelet, *, frames: int = 6, title: str = ""):
    """Three rows over ``frames`` evenly spaced frames: the clip (C, T, H, W), what the encoder sees (hidden
    tubelets grey) and the reconstruction (hidden tubelets painted by the decoder). ``mask`` (L,) bool, True =
    hidden. Returns the figure."""
    import matplotlib.pyplot as plt

    pixels, painted = _frames(clip), np.clip(_frames(reconstruction), 0, 1)
    if pixels.shape != painted.shape:
        raise ValueError(f"plot_reconstruction(reconstruction): expected the clip's shape, got {painted.shape} vs "
                         f"{pixels.shape}")
    hidden = _pixel_mask(mask, tubelet, pixels.shape[:3])
    seen = pixels.copy()
    seen[hidden] = 0.5
    shown = np.linspace(0, pixels.shape[0] - 1, min(frames, pixels.shape[0])).round().astype(int)
    fig, axes = plt.subplots(3, len(shown), figsize=(1.5 * len(shown), 4.9), squeeze=False)
    for r, (name, images) in enumerate((("input", pixels), ("encoder sees", seen), ("reconstruction", painted))):
        for c, f in enumerate(shown):
            ax = axes[r, c]
            ax.imshow(images[f])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"frame {f}", fontsize=9)
        axes[r, 0].set_ylabel(name, fontsize=9)
    fig.suptitle(title or f"{hidden[0].mean():.0%} of each frame hidden", fontsize=10)
    fig.tight_layout()
    return fig


def reconstruction_slider(model, clip, *, ratios=(0.5, 0.6, 0.75, 0.9), masking: str = "tube", seed: int = 0,
                          frames: int = 6):
    """An ipywidgets slider over the masking ratio: ``model`` (a MaskedAutoencoder) reconstructs ``clip``
    (C, T, H, W) under a fresh seeded mask of that ratio, drawn by :func:`plot_reconstruction` with the loss on the
    hidden tokens in the title. Reconstructions are computed once per ratio. Returns the widget container."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import torch

    from ..selfsup.masked import make_mask

    clips = torch.as_tensor(clip)[None].float()
    results = {}
    for ratio in ratios:
        mask = make_mask(1, model.encoder.grid, ratio, masking=masking, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            loss = float(model(clips, mask)["loss"])
        results[ratio] = (mask[0], model.reconstruct(clips, mask)[0], loss)
    slider = widgets.SelectionSlider(options=[(f"{r:.0%}", r) for r in ratios], value=ratios[-1],
                                     description="masked", continuous_update=False)
    out = widgets.Output()

    def draw(_=None):
        mask, painted, loss = results[slider.value]
        with out:
            out.clear_output(wait=True)
            plot_reconstruction(clips[0], mask, painted, model.encoder.tubelet, frames=frames,
                                title=f"{masking} masking, {slider.value:.0%} hidden: loss {loss:.3f} on hidden tubes")
            plt.show()

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])


def plot_masking_losses(reports: dict, *, ax=None):
    """Grouped bars: for each masking setting (a key such as "tube 90%"), the reconstruction loss on hidden tokens of
    the model, of copying the nearest visible frame, and of the mean baseline. ``reports`` maps the setting
    to a :func:`course.selfsup.masked.reconstruction_report` dict. Returns the axes."""
    import matplotlib.pyplot as plt

    if not reports:
        raise ValueError("plot_masking_losses(reports): expected at least one setting")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.4))
    names = list(reports)
    x = np.arange(len(names))
    bars = (("model", "MAE (trained)", "tab:blue"), ("copy", "copy nearest visible frame", "tab:orange"),
            ("mean_pixel", "mean baseline", "tab:grey"))
    width = 0.8 / len(bars)
    for i, (key, label, colour) in enumerate(bars):
        values = [reports[n][key] for n in names]
        ax.bar(x + (i - 1) * width, values, width, label=label, color=colour)
    ax.set_xticks(x, [n.replace(" ", "\n", 1) for n in names], fontsize=9)
    ax.set_xlabel("masking used for evaluation")
    ax.set_ylabel("MSE on hidden tubes\n(normalised pixels)")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_title("what it takes to fill the holes", fontsize=10)
    ax.figure.tight_layout()
    return ax
