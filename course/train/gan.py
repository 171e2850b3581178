"""GANs by experiment (chapter 17): the losses, a 1-D / 2-D toy where the distributions can be watched, a small video
GAN trained on the course's moving shapes, and the numbers that judge it (a motion classifier's verdict and a Frechet
distance between feature distributions).

Losses take the discriminator's *logits* l (D(x) = sigmoid(l)) and use ``binary_cross_entropy_with_logits``, the
numerically safe form of -[y log D + (1 - y) log(1 - D)]:

- :func:`discriminator_loss`: BCE(D(x), 1) + BCE(D(G(z)), 0) — the minimax objective of Goodfellow et al. (2014),
  written as a loss the discriminator minimises;
- :func:`articles_discriminator_loss`: BCE(D(x), 1) - BCE(D(G(z)), 0), the version some tutorials print. Minimising
  it *maximises* the fake term, i.e. pushes D(G(z)) towards 1: it rewards the discriminator for calling fakes real.
  It is here to be run and seen failing, not used;
- :func:`generator_loss`: ``saturating=True`` is the minimax generator loss log(1 - D(G(z))), whose gradient vanishes
  when the discriminator confidently rejects the fakes; the default is the non-saturating -log D(G(z)) that
  Goodfellow et al. recommend in practice.
"""
from __future__ import annotations

import numbers
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "discriminator_loss", "articles_discriminator_loss", "generator_loss", "D_LOSSES", "generator_output_gradient",
    "gaussian_mixture", "wasserstein_1d", "mode_counts", "ToyGANRun", "train_toy_gan",
    "MOTION_CLASSES", "motion_clips", "VideoGANRun", "train_video_gan", "train_motion_classifier", "clip_features",
    "predict_motion", "sqrtm_psd", "gaussian_frechet_distance", "frechet_distance", "judge_clips",
    "video_gan_experiment",
]


# --------------------------------------------------------------------------------------------------------------------
# Losses
# --------------------------------------------------------------------------------------------------------------------

def _check_logits(x, name: str, fn: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{fn}({name}): expected a torch.Tensor of logits (N,) or (N, 1), got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{fn}({name}): expected a floating-point tensor of logits, got dtype {x.dtype}")
    if x.ndim == 2 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 1 or x.shape[0] == 0:
        raise ValueError(f"{fn}({name}): expected logits of shape (N,) or (N, 1) with N >= 1, got {tuple(x.shape)}")
    return x


def _bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The discriminator's loss: BCE(D(x), 1) + BCE(D(G(z)), 0), each a mean over its batch.

    real_logits (N,) or (N, 1): D's logits on real samples; fake_logits (M,) or (M, 1): on generated ones. Returns a
    scalar. Minimising it maximises log D(x) + log(1 - D(G(z))), the discriminator's side of the minimax game.
    """
    real = _check_logits(real_logits, "real_logits", "discriminator_loss")
    fake = _check_logits(fake_logits, "fake_logits", "discriminator_loss")
    return _bce(real, 1.0) + _bce(fake, 0.0)


def articles_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The *wrong* discriminator loss some tutorials print: BCE(D(x), 1) - BCE(D(G(z)), 0). Shapes as in
    :func:`discriminator_loss`.

    The minus sign makes gradient descent *increase* BCE(D(G(z)), 0), i.e. push D(G(z)) to 1 (call fakes real), and
    the loss has no lower bound (-> -inf as the fake logits -> +inf). Kept to be run and seen failing.
    """
    real = _check_logits(real_logits, "real_logits", "articles_discriminator_loss")
    fake = _check_logits(fake_logits, "fake_logits", "articles_discriminator_loss")
    return _bce(real, 1.0) - _bce(fake, 0.0)


#: Name -> discriminator loss, for :func:`train_toy_gan`.
D_LOSSES: dict[str, Callable] = {"minimax": discriminator_loss, "articles": articles_discriminator_loss}


def generator_loss(fake_logits: torch.Tensor, *, saturating: bool = False) -> torch.Tensor:
    """The generator's loss on D's logits for generated samples (N,) or (N, 1); a scalar.

    ``saturating=False`` (default): -log D(G(z)) = BCE(D(G(z)), 1), the non-saturating loss.
    ``saturating=True``: log(1 - D(G(z))) = -BCE(D(G(z)), 0), the minimax game's own generator loss. Its gradient
    with respect to the logit is -D(G(z)), which vanishes when D confidently rejects the fakes (D(G(z)) -> 0).
    """
    if not isinstance(saturating, bool):
        raise TypeError(f"generator_loss(saturating={saturating!r}): expected True or False")
    fake = _check_logits(fake_logits, "fake_logits", "generator_loss")
    return -_bce(fake, 0.0) if saturating else _bce(fake, 1.0)


def generator_output_gradient(discriminator: nn.Module, fake: torch.Tensor, *, saturating: bool) -> torch.Tensor:
    """d(generator loss)/d(generated sample): how hard the loss pushes each sample. fake (N, ...) -> (N, ...).

    The gradient of the *summed* per-sample losses, so each row is that sample's own gradient (not divided by N).
    """
    if not isinstance(discriminator, nn.Module):
        raise TypeError(f"generator_output_gradient(discriminator): expected an nn.Module, "
                        f"got {type(discriminator).__name__}")
    if not isinstance(fake, torch.Tensor) or not fake.is_floating_point() or fake.ndim < 2:
        raise ValueError("generator_output_gradient(fake): expected a floating-point tensor (N, ...) of samples")
    x = fake.detach().clone().requires_grad_(True)
    loss = generator_loss(discriminator(x), saturating=saturating) * x.shape[0]
    (grad,) = torch.autograd.grad(loss, x)
    return grad


# --------------------------------------------------------------------------------------------------------------------
# The toy: 1-D or 2-D distributions
# --------------------------------------------------------------------------------------------------------------------

def gaussian_mixture(means, std: float) -> Callable[[int, torch.Generator], torch.Tensor]:
    """A sampler of an equal-weight mixture of isotropic Gaussians: ``sample(n, generator) -> (n, d)`` float32.

    means: (K,) for 1-D or (K, d) centres; std: the standard deviation of every component.
    """
    centres = torch.as_tensor(np.asarray(means, dtype=np.float32))
    if centres.ndim == 1:
        centres = centres[:, None]
    if centres.ndim != 2 or centres.shape[0] == 0:
        raise ValueError(f"gaussian_mixture(means): expected (K,) or (K, d) centres, got shape {tuple(centres.shape)}")
    if not isinstance(std, numbers.Real) or isinstance(std, bool) or not std > 0:
        raise ValueError(f"gaussian_mixture(std): expected a positive number, got {std!r}")

    def sample(n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.randint(len(centres), (n,), generator=generator)
        return centres[k] + float(std) * torch.randn(n, centres.shape[1], generator=generator)

    sample.means = centres
    sample.std = float(std)
    return sample


def wasserstein_1d(a, b) -> float:
    """The 1-D Wasserstein-1 distance between two equal-size samples (N,) or (N, 1): mean |sorted(a) - sorted(b)|.

    It is the average distance each generated sample must move to turn one histogram into the other (0: identical).
    """
    a, b = (torch.as_tensor(v, dtype=torch.float64).reshape(-1) for v in (a, b))
    if a.numel() != b.numel() or a.numel() == 0:
        raise ValueError(f"wasserstein_1d(a, b): expected two non-empty samples of equal size, got {a.numel()} and "
                         f"{b.numel()}")
    return float((a.sort().values - b.sort().values).abs().mean())


def mode_counts(samples, means, *, radius: float) -> np.ndarray:
    """How many of ``samples`` (N, d) lie within ``radius`` of each centre of ``means`` (K, d): counts (K,)."""
    x = torch.as_tensor(np.asarray(samples, dtype=np.float32))
    c = torch.as_tensor(np.asarray(means, dtype=np.float32))
    x = x[:, None] if x.ndim == 1 else x
    c = c[:, None] if c.ndim == 1 else c
    if x.ndim != 2 or c.ndim != 2 or x.shape[1] != c.shape[1]:
        raise ValueError(f"mode_counts(samples, means): expected (N, d) and (K, d), got {tuple(x.shape)} and "
                         f"{tuple(c.shape)}")
    return (torch.cdist(x, c) < radius).sum(0).numpy()


@dataclass
class ToyGANRun:
    """What :func:`train_toy_gan` recorded: per-step means of D(x) and D(G(z)) and both losses; ``snapshots`` maps a
    step to generated samples (n, d) (step 0 = before training); the trained ``generator`` and ``discriminator``."""
    d_real: list = field(default_factory=list)
    d_fake: list = field(default_factory=list)
    d_loss: list = field(default_factory=list)
    g_loss: list = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)
    generator: nn.Module | None = None
    discriminator: nn.Module | None = None
    seconds: float = 0.0


def train_toy_gan(sample_real: Callable, *, steps: int = 2000, batch_size: int = 128, d_loss: str = "minimax",
                  saturating: bool = False, lr: float = 1e-3, latent_dim: int = 4, width: int = 32, seed: int = 0,
                  snapshot_steps: Sequence[int] = (), snapshot_size: int = 2000, generator: nn.Module | None = None,
                  discriminator: nn.Module | None = None, train_discriminator: bool = True,
                  train_generator: bool = True, progress: bool = False) -> ToyGANRun:
    """Train a small MLP GAN on samples (N, d) of ``sample_real(n, torch_generator)``, alternating one discriminator
    step (loss ``d_loss``: "minimax" or "articles", see :data:`D_LOSSES`) and one generator step
    (:func:`generator_loss` with ``saturating``), Adam(lr, betas=(0.5, 0.999)).

    ``generator`` / ``discriminator``: start from these models (default: fresh :func:`~course.models.gan.toy_generator`
    / ``toy_discriminator`` of ``width``); ``train_discriminator=False`` freezes D (only G learns),
    ``train_generator=False`` freezes G (only D learns). Generated samples
    (``snapshot_size``, d) are kept at step 0 and at each of ``snapshot_steps``, from one fixed noise batch.
    """
    from ..models.gan import toy_discriminator, toy_generator
    from .loop import progress_bar

    if not callable(sample_real):
        raise TypeError("train_toy_gan(sample_real): expected a callable sample_real(n, generator) -> (n, d) tensor")
    if d_loss not in D_LOSSES:
        raise ValueError(f"train_toy_gan(d_loss={d_loss!r}): expected one of {list(D_LOSSES)}")
    for name, value in (("steps", steps), ("batch_size", batch_size), ("latent_dim", latent_dim)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_toy_gan({name}): expected a positive int, got {value!r}")
    if not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"train_toy_gan(lr): expected a positive number, got {lr!r}")
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    dims = sample_real(2, rng).shape[1]
    g = toy_generator(latent_dim, width=width, out_features=dims) if generator is None else generator
    d = toy_discriminator(dims, width=width) if discriminator is None else discriminator
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    fixed = torch.randn(snapshot_size, latent_dim, generator=rng)
    run = ToyGANRun(generator=g, discriminator=d)
    with torch.no_grad():
        run.snapshots[0] = g(fixed).numpy()
    wanted = set(int(s) for s in snapshot_steps)
    started = time.perf_counter()
    for step in progress_bar(range(1, steps + 1), enabled=progress, desc="toy GAN", leave=False):
        real = sample_real(batch_size, rng)
        fake = g(torch.randn(batch_size, latent_dim, generator=rng))
        real_logits, fake_logits = d(real), d(fake.detach())
        loss_d = D_LOSSES[d_loss](real_logits, fake_logits)
        if train_discriminator:
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        loss_g = generator_loss(d(fake), saturating=saturating)
        if train_generator:
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        run.d_real.append(float(torch.sigmoid(real_logits.detach()).mean()))
        run.d_fake.append(float(torch.sigmoid(fake_logits.detach()).mean()))
        run.d_loss.append(float(loss_d.detach()))
        run.g_loss.append(float(loss_g.detach()))
        if step in wanted:
            with torch.no_grad():
                run.snapshots[step] = g(fixed).numpy()
    run.seconds = time.perf_counter() - started
    return run


# --------------------------------------------------------------------------------------------------------------------
# The video GAN: data, training, judging
# --------------------------------------------------------------------------------------------------------------------

#: The four MovingShapes classes the video GAN learns; their index is the motion label of :func:`motion_clips`.
MOTION_CLASSES: tuple[str, ...] = ("move_right", "move_left", "move_down", "move_up")


def motion_clips(num_clips: int, *, split: str = "train", size: int = 16, num_frames: int = 16,
                 seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """MovingShapes clips of one shape moving right, left, down or up over a *black* background, with no clutter
    and no pixel noise: clips (num_clips, 3, num_frames, size, size) float32 in [0, 1] and labels (num_clips,) int64
    indexing :data:`MOTION_CLASSES` (balanced: clip k has label k % 4).

    The shape, colour, size, position and speed are MovingShapes' own random draws (``MovingShapes(split, seed=...)
    .params(k)``); only the textured background is dropped — a GAN trained for a minute on a CPU cannot learn it.
    """
    from ..data.synthetic import MOVING_SHAPES_CLASSES, MovingShapes, render_moving_shape

    for name, value, low in (("num_clips", num_clips, 1), ("size", size, 16), ("num_frames", num_frames, 2)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < low:
            raise ValueError(f"motion_clips({name}): expected an int >= {low}, got {value!r}")
    shapes = MovingShapes(split, num_clips=num_clips, num_frames=num_frames, size=size, seed=seed, clutter=0,
                          noise=0.0)
    labels = torch.arange(num_clips) % len(MOTION_CLASSES)
    clips = np.empty((num_clips, 3, num_frames, size, size), dtype=np.float32)
    for k in range(num_clips):
        params = shapes.params(k)
        params["background"] = np.zeros_like(params["background"])
        label = MOVING_SHAPES_CLASSES.index(MOTION_CLASSES[int(labels[k])])
        clips[k] = render_moving_shape(label, params, size=size, num_frames=num_frames).transpose(3, 0, 1, 2)
    return torch.from_numpy(clips), labels


def _check_clips(clips, name: str, fn: str) -> torch.Tensor:
    if not isinstance(clips, torch.Tensor) or not clips.is_floating_point():
        raise TypeError(f"{fn}({name}): expected a float tensor of clips (N, C, T, H, W), got "
                        f"{type(clips).__name__ if not isinstance(clips, torch.Tensor) else clips.dtype}")
    if clips.ndim != 5 or clips.shape[0] == 0:
        raise ValueError(f"{fn}({name}): expected clips (N, C, T, H, W) with N >= 1, got shape {tuple(clips.shape)}")
    return clips


@dataclass
class VideoGANRun:
    """What :func:`train_video_gan` recorded: per-step losses and mean D outputs on real and generated clips, and
    ``snapshots``: step -> the generator's clips (K, C, T, H, W) for the fixed noise (step 0 = before training)."""
    d_loss: list = field(default_factory=list)
    g_loss: list = field(default_factory=list)
    d_real: list = field(default_factory=list)
    d_fake: list = field(default_factory=list)
    snapshots: dict = field(default_factory=dict)
    seconds: float = 0.0


def train_video_gan(generator: nn.Module, discriminator: nn.Module, clips: torch.Tensor, *, steps: int,
                    batch_size: int = 32, lr: float = 2e-4, fixed_noise: torch.Tensor | None = None,
                    snapshot_steps: Sequence[int] = (), seed: int = 0, progress: bool = False) -> VideoGANRun:
    """Train ``generator`` (noise (N, latent_dim) -> clips) against ``discriminator`` (clips -> logits (N,)) on real
    ``clips`` (N, C, T, H, W) for ``steps`` steps: each step one discriminator update with
    :func:`discriminator_loss` and one generator update with the non-saturating :func:`generator_loss`, Adam(lr,
    betas=(0.5, 0.999)) as in DCGAN. Generated clips of ``fixed_noise`` (K, latent_dim) are kept at step 0 and at
    each of ``snapshot_steps`` (generator in eval mode for them). Both models are trained in place.
    """
    from .loop import progress_bar

    for name, model in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(model, nn.Module):
            raise TypeError(f"train_video_gan({name}): expected an nn.Module, got {type(model).__name__}")
    clips = _check_clips(clips, "clips", "train_video_gan")
    for name, value in (("steps", steps), ("batch_size", batch_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_video_gan({name}): expected a positive int, got {value!r}")
    if batch_size < 2:
        raise ValueError(f"train_video_gan(batch_size): expected at least 2 (batch norm), got {batch_size}")
    if not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"train_video_gan(lr): expected a positive number, got {lr!r}")
    latent_dim = generator.latent_dim
    if fixed_noise is not None and (not isinstance(fixed_noise, torch.Tensor) or fixed_noise.ndim != 2
                                    or fixed_noise.shape[1] != latent_dim):
        raise ValueError(f"train_video_gan(fixed_noise): expected a tensor (K, {latent_dim})")
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=lr, betas=(0.5, 0.999))
    run = VideoGANRun()

    def snapshot(step):
        if fixed_noise is not None:
            generator.eval()
            with torch.no_grad():
                run.snapshots[step] = generator(fixed_noise).clamp(0, 1)
            generator.train()

    snapshot(0)
    wanted = set(int(s) for s in snapshot_steps)
    generator.train()
    discriminator.train()
    started = time.perf_counter()
    for step in progress_bar(range(1, steps + 1), enabled=progress, desc="video GAN"):
        real = clips[torch.randint(len(clips), (batch_size,), generator=rng)]
        fake = generator(torch.randn(batch_size, latent_dim, generator=rng))
        real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
        loss_d = discriminator_loss(real_logits, fake_logits)
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = generator_loss(discriminator(fake))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        run.d_loss.append(float(loss_d.detach()))
        run.g_loss.append(float(loss_g.detach()))
        run.d_real.append(float(torch.sigmoid(real_logits.detach()).mean()))
        run.d_fake.append(float(torch.sigmoid(fake_logits.detach()).mean()))
        if step in wanted:
            snapshot(step)
    generator.eval()
    run.seconds = time.perf_counter() - started
    return run


def train_motion_classifier(clips: torch.Tensor, labels: torch.Tensor, *, epochs: int = 2, batch_size: int = 64,
                            lr: float = 3e-3, seed: int = 0, progress: bool = False) -> nn.Module:
    """The judge: chapter 10's ``r3d_small`` trained to tell the four motions of :data:`MOTION_CLASSES` from real
    ``clips`` (N, 3, T, H, W) and ``labels`` (N,); returned in eval mode. Its pooled features (:func:`clip_features`)
    are the space in which :func:`frechet_distance` compares real and generated clips."""
    from torch.utils.data import DataLoader, TensorDataset

    from ..models import r3d_small
    from .loop import fit

    clips = _check_clips(clips, "clips", "train_motion_classifier")
    if not isinstance(labels, torch.Tensor) or labels.shape != (len(clips),):
        raise ValueError(f"train_motion_classifier(labels): expected a tensor ({len(clips)},) of class indices")
    torch.manual_seed(seed)
    model = r3d_small(len(MOTION_CLASSES), in_channels=clips.shape[1])
    loader = DataLoader(TensorDataset(clips, labels), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    fit(model, loader, epochs=epochs, optimizer=torch.optim.Adam(model.parameters(), lr=lr), device="cpu",
        progress=progress)
    return model.eval()


def _batched(model_fn, clips: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model_fn(clips[i:i + batch_size]) for i in range(0, len(clips), batch_size)])


def clip_features(model: nn.Module, clips: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """``model.features`` of every clip (N, C, T, H, W) -> (N, F), in eval mode, without gradients."""
    if not hasattr(model, "features"):
        raise TypeError(f"clip_features(model): expected a model with a .features(x) method (e.g. r3d_small), got "
                        f"{type(model).__name__}")
    clips = _check_clips(clips, "clips", "clip_features")
    model.eval()
    return _batched(model.features, clips, batch_size)


def predict_motion(model: nn.Module, clips: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """The classifier's class probabilities for every clip (N, C, T, H, W) -> (N, K), in eval mode."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"predict_motion(model): expected an nn.Module, got {type(model).__name__}")
    clips = _check_clips(clips, "clips", "predict_motion")
    model.eval()
    return _batched(lambda x: model(x).softmax(dim=1), clips, batch_size)


# --------------------------------------------------------------------------------------------------------------------
# The Frechet distance
# --------------------------------------------------------------------------------------------------------------------

def _check_square(m, name: str, fn: str) -> torch.Tensor:
    m = torch.as_tensor(m, dtype=torch.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] == 0:
        raise ValueError(f"{fn}({name}): expected a square matrix (F, F), got shape {tuple(m.shape)}")
    if not torch.isfinite(m).all():
        raise ValueError(f"{fn}({name}): contains NaN or infinite values")
    return m


def sqrtm_psd(matrix) -> torch.Tensor:
    """The symmetric square root S of a symmetric positive semi-definite matrix (F, F): S @ S = matrix.

    By eigendecomposition (``torch.linalg.eigh``): S = V diag(sqrt(max(w, 0))) V^T — tiny negative eigenvalues from
    rounding are clipped to 0. Computed in float64.
    """
    m = _check_square(matrix, "matrix", "sqrtm_psd")
    if not torch.allclose(m, m.T, atol=1e-8 * max(1.0, float(m.abs().max()))):
        raise ValueError("sqrtm_psd(matrix): expected a symmetric matrix")
    w, v = torch.linalg.eigh((m + m.T) / 2)
    return (v * w.clamp(min=0).sqrt()) @ v.T


def gaussian_frechet_distance(mu_a, cov_a, mu_b, cov_b) -> float:
    """The squared Frechet (2-Wasserstein) distance between N(mu_a, cov_a) and N(mu_b, cov_b), means (F,) and
    covariances (F, F):

        |mu_a - mu_b|^2 + Tr(cov_a + cov_b - 2 (cov_a^1/2 cov_b cov_a^1/2)^1/2)

    (the trace of (cov_a cov_b)^1/2, which FID's formula writes, equals that of the symmetric form used here).
    """
    mu_a, mu_b = (torch.as_tensor(m, dtype=torch.float64) for m in (mu_a, mu_b))
    cov_a = _check_square(cov_a, "cov_a", "gaussian_frechet_distance")
    cov_b = _check_square(cov_b, "cov_b", "gaussian_frechet_distance")
    f = cov_a.shape[0]
    if mu_a.shape != (f,) or mu_b.shape != (f,) or cov_b.shape != (f, f):
        raise ValueError(f"gaussian_frechet_distance: expected means ({f},) and covariances ({f}, {f}), got "
                         f"{tuple(mu_a.shape)}, {tuple(cov_a.shape)}, {tuple(mu_b.shape)}, {tuple(cov_b.shape)}")
    root_a = sqrtm_psd(cov_a)
    cross = sqrtm_psd((root_a @ cov_b @ root_a + (root_a @ cov_b @ root_a).T) / 2)
    return float(((mu_a - mu_b) ** 2).sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * torch.trace(cross))


def frechet_distance(features_a, features_b) -> float:
    """The Frechet distance between two sets of features (N_a, F) and (N_b, F): fit a Gaussian (mean, covariance) to
    each and apply :func:`gaussian_frechet_distance`. 0 for identical sets; needs N >= 2 in each.

    With features of an Inception network on images this is FID (Heusel et al., 2017); with I3D features of
    Kinetics-trained video it is FVD (Unterthiner et al., 2018). With a small course model's features it is a
    miniature of those: its values are comparable only between sets measured with the same features.
    """
    a, b = (torch.as_tensor(x, dtype=torch.float64) for x in (features_a, features_b))
    for name, x in (("features_a", a), ("features_b", b)):
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"frechet_distance({name}): expected features (N, F) with N >= 2, got shape "
                             f"{tuple(x.shape)}")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"frechet_distance: features_a has {a.shape[1]} features, features_b {b.shape[1]}")
    return gaussian_frechet_distance(a.mean(0), torch.cov(a.T).reshape(a.shape[1], a.shape[1]), b.mean(0),
                                     torch.cov(b.T).reshape(b.shape[1], b.shape[1]))


def judge_clips(classifier: nn.Module, reference: torch.Tensor, candidates: dict) -> dict:
    """Judge sets of clips against real ``reference`` clips (N, C, T, H, W) with a trained motion ``classifier``.

    ``candidates``: name -> clips (M, C, T, H, W). For each, returns a dict: ``frechet_distance`` (to the reference
    in the classifier's feature space), ``predicted_share`` (fraction of clips predicted as each class, (K,) list),
    ``confidence`` (mean top probability) and ``probabilities`` (M, K) tensor.
    """
    if not isinstance(candidates, dict) or not candidates:
        raise ValueError("judge_clips(candidates): expected a non-empty dict name -> clips (M, C, T, H, W)")
    ref = clip_features(classifier, _check_clips(reference, "reference", "judge_clips"))
    out = {}
    for name, clips in candidates.items():
        clips = _check_clips(clips, f"candidates[{name!r}]", "judge_clips")
        probs = predict_motion(classifier, clips)
        k = probs.shape[1]
        out[name] = {"frechet_distance": frechet_distance(ref, clip_features(classifier, clips)),
                     "predicted_share": (torch.bincount(probs.argmax(1), minlength=k).float() / len(probs)).tolist(),
                     "confidence": float(probs.max(1).values.mean()), "probabilities": probs}
    return out


def video_gan_experiment(*, train_clips: int = 2000, test_clips: int = 1000, steps: int = 3000, batch_size: int = 32,
                         classifier_epochs: int = 2, seed: int = 0, progress: bool = False) -> dict:
    """The chapter's whole video-GAN measurement, as ``benchmarks/video_gan.py`` runs it: motion clips, the judge
    (:func:`train_motion_classifier`), a default :class:`~course.models.gan.VideoGenerator` /
    ``VideoDiscriminator`` pair trained by :func:`train_video_gan`, then :func:`judge_clips` on ``test_clips`` clips of
    the untrained generator (floor), the trained one and real held-out clips (ceiling), all against real training
    clips. Returns a dict of plain numbers (``fd_generated``, ``fd_untrained``, ``fd_real``, ``judge_accuracy``,
    per-set ``runs``, ``seconds``...) and, under ``"generator"``, the trained generator.
    """
    import copy

    from ..models.gan import VideoDiscriminator, VideoGenerator

    started = time.perf_counter()
    clips, labels = motion_clips(train_clips, split="train", seed=seed)
    held_out, held_out_labels = motion_clips(test_clips, split="test", seed=seed)
    judge = train_motion_classifier(clips, labels, epochs=classifier_epochs, seed=seed, progress=progress)
    with torch.no_grad():
        judge_acc = float((predict_motion(judge, held_out).argmax(1) == held_out_labels).float().mean())
    torch.manual_seed(seed)
    generator, discriminator = VideoGenerator(64, squash=False), VideoDiscriminator()
    untrained = copy.deepcopy(generator).eval()
    run = train_video_gan(generator, discriminator, clips, steps=steps, batch_size=batch_size, seed=seed,
                          progress=progress)
    with torch.no_grad():
        noise = torch.randn(test_clips, generator.latent_dim, generator=torch.Generator().manual_seed(seed + 11))
        sets = {"untrained generator": untrained(noise).clamp(0, 1), "trained generator": generator(noise).clamp(0, 1),
                "real held-out clips": held_out}
    verdict = judge_clips(judge, clips[:test_clips], sets)
    runs = [{"name": name, "frechet_distance": r["frechet_distance"], "confidence": r["confidence"],
             "predicted_share": r["predicted_share"]} for name, r in verdict.items()]
    fd = {name: r["frechet_distance"] for name, r in verdict.items()}
    return {"fd_generated": fd["trained generator"], "fd_untrained": fd["untrained generator"],
            "fd_real": fd["real held-out clips"], "judge_accuracy": judge_acc, "classes": list(MOTION_CLASSES),
            "runs": runs, "train_clips": train_clips, "test_clips": test_clips, "steps": steps,
            "batch_size": batch_size, "gan_seconds": run.seconds, "final_d_real": float(np.mean(run.d_real[-100:])),
            "final_d_fake": float(np.mean(run.d_fake[-100:])), "seed": seed,
            "seconds": time.perf_counter() - started, "generator": generator}
