"""Chapter 17: GANs watched — toy densities over training, what the discriminator says, generated clips over training,
the judge's verdict, and a latent-interpolation slider.

- :func:`plot_toy_densities`: real vs generated histograms of a 1-D toy GAN, one row per run, one column per step;
- :func:`plot_discriminator_outputs`: mean D(x) on real and generated samples over training, per run;
- :func:`plot_clip_grid`: a fixed-noise grid — generated clips (a few frames each) at several training steps;
- :func:`plot_gan_training`: the video GAN's losses and D outputs over steps;
- :func:`plot_judgement`: the motion classifier's predicted-class shares, its confidence and the Frechet distance for
  each set of clips (untrained generator, trained generator, real held-out clips);
- :func:`plot_interpolation` and :func:`latent_interpolation_widget`: clips generated along a straight line between
  two noise vectors, as a figure and as a slider.
"""
from __future__ import annotations

import numbers
import textwrap
from typing import Mapping, Sequence

import numpy as np

_COLOURS = {"real": "0.55", "generated": "tab:red"}


def _as_numpy(x) -> np.ndarray:
    return np.asarray(x.detach().cpu() if hasattr(x, "detach") else x, dtype=np.float32)


def _check_runs(runs, owner: str) -> None:
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(f"{owner}(runs): expected a non-empty dict name -> run")


def plot_toy_densities(runs: Mapping, real_samples, *, steps: Sequence[int] | None = None, bins: int = 80,
                       value_range: tuple[float, float] | None = None, title: str | None = None):
    """Histograms of real samples (N,) or (N, 1) (grey) and generated samples (red) of 1-D toy GAN runs.

    ``runs``: name -> :class:`course.train.gan.ToyGANRun` (its ``snapshots`` map step -> samples (n, 1)); one row per
    run, one column per step of ``steps`` (default: the first run's snapshot steps). Returns the figure.
    """
    import matplotlib.pyplot as plt

    _check_runs(runs, "plot_toy_densities")
    real = _as_numpy(real_samples).reshape(-1)
    first = next(iter(runs.values()))
    steps = sorted(first.snapshots) if steps is None else list(steps)
    for name, run in runs.items():
        missing = [s for s in steps if s not in run.snapshots]
        if missing:
            raise ValueError(f"plot_toy_densities: run {name!r} has no snapshot at steps {missing}")
        if np.asarray(run.snapshots[steps[0]]).reshape(len(run.snapshots[steps[0]]), -1).shape[1] != 1:
            raise ValueError(f"plot_toy_densities: run {name!r} is not 1-D (use samples of shape (n, 1))")
    if value_range is None:
        everything = np.concatenate([real] + [np.asarray(r.snapshots[s]).reshape(-1) for r in runs.values()
                                              for s in steps])
        value_range = tuple(np.percentile(everything, [0.5, 99.5]))
    edges = np.linspace(value_range[0], value_range[1], bins + 1)
    fig, axes = plt.subplots(len(runs), len(steps), figsize=(2.3 * len(steps) + 0.8, 1.9 * len(runs) + 0.6),
                             squeeze=False, sharex=True, layout="constrained")
    for i, (name, run) in enumerate(runs.items()):
        for j, step in enumerate(steps):
            ax = axes[i, j]
            ax.hist(real, bins=edges, density=True, color=_COLOURS["real"], alpha=0.6, label="real")
            ax.hist(np.asarray(run.snapshots[step]).reshape(-1), bins=edges, density=True, histtype="step",
                    color=_COLOURS["generated"], linewidth=1.5, label="generated")
            ax.set_yticks([])
            if i == 0:
                ax.set_title(f"step {step}", fontsize=10)
            if j == 0:
                ax.set_ylabel(textwrap.fill(name, 22), fontsize=9)
            if i == len(runs) - 1:
                ax.set_xlabel("x")
    axes[0, -1].legend(fontsize=8, loc="upper right")
    if title:
        fig.suptitle(title)
    return fig


def plot_discriminator_outputs(runs: Mapping, *, smooth: int = 20, title: str | None = None):
    """Mean D(x) on real (solid) and generated (dashed) samples at every training step, one panel per run
    (``runs``: name -> a run with ``d_real`` and ``d_fake`` lists). Returns the figure."""
    import matplotlib.pyplot as plt

    _check_runs(runs, "plot_discriminator_outputs")
    if not isinstance(smooth, numbers.Integral) or smooth < 1:
        raise ValueError(f"plot_discriminator_outputs(smooth): expected a positive int, got {smooth!r}")
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs), 2.8), squeeze=False, sharey=True,
                             layout="constrained")
    kernel = np.ones(smooth) / smooth
    for ax, (name, run) in zip(axes[0], runs.items()):
        for key, style, label in (("d_real", "-", "D(real)"), ("d_fake", "--", "D(generated)")):
            values = np.asarray(getattr(run, key), dtype=float)
            if len(values) >= smooth:
                values = np.convolve(values, kernel, mode="valid")
            ax.plot(np.arange(1, len(values) + 1), values, style, label=label,
                    color=_COLOURS["real" if key == "d_real" else "generated"])
        ax.axhline(0.5, color="0.8", linewidth=0.8)
        ax.set(title=name, xlabel="training step", ylim=(-0.03, 1.03))
    axes[0, 0].set_ylabel("mean D(x) (1 = 'real')")
    axes[0, 0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def _strip(clip: np.ndarray, frames: Sequence[int]) -> np.ndarray:
    """Frames of one clip (C, T, H, W) side by side with a 1-pixel white gap: (H, len(frames) * (W + 1) - 1, 3)."""
    c, _, h, w = clip.shape
    parts = []
    for k, t in enumerate(frames):
        frame = clip[:, t].transpose(1, 2, 0)
        parts.append(np.repeat(frame, 3, axis=2) if c == 1 else frame)
        if k < len(frames) - 1:
            parts.append(np.ones((h, 1, 3), dtype=np.float32))
    return np.clip(np.concatenate(parts, axis=1), 0, 1)


def _check_clip_batch(clips, owner: str) -> np.ndarray:
    arr = _as_numpy(clips)
    if arr.ndim != 5 or arr.shape[1] not in (1, 3) or arr.shape[0] == 0:
        raise ValueError(f"{owner}: expected clips (K, C, T, H, W) with C = 1 or 3, got shape {arr.shape}")
    return arr


def plot_clip_grid(snapshots: Mapping, *, frames: Sequence[int] | None = None, max_clips: int = 4,
                   title: str | None = None):
    """A fixed-noise grid: one row per training step of ``snapshots`` (step -> clips (K, C, T, H, W) in [0, 1]; a
    string key is used as the row's label instead of "step k"),
    one column per clip (the same noise in every row), each shown as ``frames`` (default 4 spread over the clip)
    side by side, time running to the right. Returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(snapshots, Mapping) or not snapshots:
        raise ValueError("plot_clip_grid(snapshots): expected a non-empty dict step -> clips (K, C, T, H, W)")
    arrays = {step: _check_clip_batch(clips, f"plot_clip_grid(snapshots[{step}])")
              for step, clips in snapshots.items()}
    t = next(iter(arrays.values())).shape[2]
    frames = list(np.linspace(0, t - 1, 4).round().astype(int)) if frames is None else list(frames)
    if not frames or not all(isinstance(f, numbers.Integral) and 0 <= f < t for f in frames):
        raise ValueError(f"plot_clip_grid(frames): expected frame indices in [0, {t}), got {frames}")
    k = min(max_clips, min(a.shape[0] for a in arrays.values()))
    by_step = all(isinstance(step, numbers.Integral) for step in arrays)
    fig, axes = plt.subplots(len(arrays), k, figsize=(2.4 * k + 0.6, 0.75 * len(arrays) + 0.7), squeeze=False,
                             layout="constrained")
    for i, (step, arr) in enumerate(arrays.items()):
        for j in range(k):
            ax = axes[i, j]
            ax.imshow(_strip(arr[j], frames), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                label = f"step {step}" if isinstance(step, numbers.Integral) else str(step)
                ax.set_ylabel(label, fontsize=9, rotation=0, ha="right", va="center")
            if i == 0:
                ax.set_title(f"noise {j}" if by_step else f"clip {j}", fontsize=9)
    fig.suptitle(title or f"the same noise over training (frames {', '.join(map(str, frames))} of each clip)",
                 fontsize=10)
    return fig


def plot_gan_training(run, *, smooth: int = 25, title: str | None = None):
    """The video GAN's training curves: discriminator and generator losses, and mean D(real) / D(generated), per step
    (``run``: a :class:`course.train.gan.VideoGANRun`), smoothed over ``smooth`` steps. Returns the figure."""
    import matplotlib.pyplot as plt

    for key in ("d_loss", "g_loss", "d_real", "d_fake"):
        if not hasattr(run, key):
            raise TypeError(f"plot_gan_training(run): expected a VideoGANRun with {key!r}, got {type(run).__name__}")
    if not run.d_loss:
        raise ValueError("plot_gan_training(run): the run has no steps")
    kernel = np.ones(min(smooth, len(run.d_loss))) / min(smooth, len(run.d_loss))

    def sm(values):
        return np.convolve(np.asarray(values, dtype=float), kernel, mode="valid")

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3), layout="constrained")
    left.plot(sm(run.d_loss), label="discriminator loss")
    left.plot(sm(run.g_loss), label="generator loss (non-saturating)")
    left.set(xlabel="training step", ylabel="loss", title="losses")
    left.legend(fontsize=8)
    right.plot(sm(run.d_real), color=_COLOURS["real"], label="D(real)")
    right.plot(sm(run.d_fake), "--", color=_COLOURS["generated"], label="D(generated)")
    right.set(xlabel="training step", ylabel="mean D(x)", ylim=(-0.03, 1.03), title="what D says")
    right.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def plot_judgement(results: Mapping, classes: Sequence[str], *, title: str | None = None):
    """The judge's verdict on each set of clips (``results``: name -> a dict of :func:`course.train.gan.judge_clips`):
    share of clips predicted as each class, the classifier's mean confidence, and the Frechet distance to real
    clips (log scale). Returns the figure."""
    import matplotlib.pyplot as plt

    if not isinstance(results, Mapping) or not results:
        raise ValueError("plot_judgement(results): expected a non-empty dict name -> judge_clips result")
    for name, r in results.items():
        if len(r.get("predicted_share", ())) != len(classes):
            raise ValueError(f"plot_judgement: results[{name!r}] has no predicted_share over the {len(classes)} "
                             "classes")
    names = list(results)
    fig, axes = plt.subplots(1, 3, figsize=(9.6, 3.4), layout="constrained",
                             gridspec_kw={"width_ratios": [2.2, 1, 1]})
    width = 0.8 / len(names)
    x = np.arange(len(classes))
    for i, name in enumerate(names):
        axes[0].bar(x + (i - (len(names) - 1) / 2) * width, results[name]["predicted_share"], width, label=name)
    axes[0].axhline(1 / len(classes), color="0.5", linewidth=0.8, linestyle=":")
    axes[0].set_xticks(x, classes, fontsize=8)
    axes[0].set(ylabel="share of clips", title="predicted motion", ylim=(0, 1.05))
    axes[0].legend(fontsize=8)
    colours = [f"C{i}" for i in range(len(names))]
    axes[1].bar(range(len(names)), [results[n]["confidence"] for n in names], color=colours)
    axes[1].set(ylabel="mean top probability", title="confidence", ylim=(0, 1.05))
    axes[1].set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    fds = [max(results[n]["frechet_distance"], 1e-3) for n in names]
    axes[2].bar(range(len(names)), fds, color=colours)
    axes[2].set_yscale("log")
    axes[2].set(ylabel="Frechet distance to real (log)", title="Frechet distance")
    axes[2].set_xticks(range(len(names)), names, rotation=20, fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def interpolate_latents(z_start, z_end, alphas) -> "torch.Tensor":  # noqa: F821
    """Points on the straight line between two noise vectors (latent_dim,): (len(alphas), latent_dim)."""
    import torch

    a, b = (torch.as_tensor(z).reshape(-1).float() for z in (z_start, z_end))
    if a.shape != b.shape:
        raise ValueError(f"interpolate_latents: z_start has shape {tuple(a.shape)}, z_end {tuple(b.shape)}")
    w = torch.as_tensor(np.asarray(alphas, dtype=np.float32)).reshape(-1, 1)
    return (1 - w) * a + w * b


def plot_interpolation(generator, z_start, z_end, *, alphas: Sequence[float] = (0, 0.25, 0.5, 0.75, 1),
                       frames: Sequence[int] | None = None, title: str | None = None):
    """Clips generated from noise on the line z_start -> z_end (each (latent_dim,)), one row per alpha in
    ``alphas``, each clip shown as ``frames`` side by side. ``generator`` maps (N, latent_dim) -> clips (N, C, T, H,
    W); it is run in eval mode. Returns the figure."""
    import matplotlib.pyplot as plt
    import torch

    alphas = [float(a) for a in alphas]
    if not alphas:
        raise ValueError("plot_interpolation(alphas): expected at least one value")
    generator.eval()
    with torch.no_grad():
        clips = _check_clip_batch(generator(interpolate_latents(z_start, z_end, alphas)).clamp(0, 1),
                                  "plot_interpolation(generator output)")
    t = clips.shape[2]
    frames = list(np.linspace(0, t - 1, 6).round().astype(int)) if frames is None else list(frames)
    if not frames or not all(isinstance(f, numbers.Integral) and 0 <= f < t for f in frames):
        raise ValueError(f"plot_interpolation(frames): expected frame indices in [0, {t}), got {frames}")
    fig, axes = plt.subplots(len(alphas), 1, figsize=(0.75 * len(frames) + 1.4, 0.8 * len(alphas) + 0.6),
                             squeeze=False, layout="constrained")
    for ax, alpha, clip in zip(axes[:, 0], alphas, clips):
        ax.imshow(_strip(clip, frames), interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"alpha {alpha:.2f}", fontsize=9, rotation=0, ha="right", va="center")
    fig.suptitle(title or f"(1 - alpha) z0 + alpha z1; frames {', '.join(map(str, frames))}", fontsize=10)
    return fig


def latent_interpolation_widget(generator, z_start, z_end):
    """A slider for alpha in [0, 1]: the clip generated from (1 - alpha) z_start + alpha z_end (each (latent_dim,)),
    all its frames side by side. Returns the widget."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import torch
    from IPython.display import display

    if not callable(generator):
        raise TypeError(f"latent_interpolation_widget(generator): expected a model, got {type(generator).__name__}")
    slider = widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="alpha",
                                 continuous_update=False)
    out = widgets.Output()
    generator.eval()

    def redraw(_=None):
        with torch.no_grad():
            clip = _check_clip_batch(generator(interpolate_latents(z_start, z_end, [slider.value])).clamp(0, 1),
                                     "latent_interpolation_widget(generator output)")[0]
        t = clip.shape[1]
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(9, 1.2), layout="constrained")
            ax.imshow(_strip(clip, range(t)), interpolation="nearest")
            ax.set_axis_off()
            ax.set_title(f"alpha = {slider.value:.2f}: frames 0 to {t - 1}, time to the right", fontsize=9)
            plt.show()

    slider.observe(redraw, names="value")
    redraw()
    box = widgets.VBox([slider, out])
    display(box)
    return box
