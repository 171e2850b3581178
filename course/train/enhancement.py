"""Video enhancement in its smallest form — denoising (chapter 17): noisy clips, training a denoiser, PSNR.

Clips are (N, C, T, H, W) with pixels in [0, 1]; noise is additive white Gaussian noise of standard deviation
``sigma``, drawn from a seeded generator so that every run sees the same noisy clips.
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from .prediction import adam_epochs, psnr

__all__ = ["add_noise", "train_denoiser", "denoise", "denoising_psnr"]


def _check_clips(x, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.ndim != 5:
        got = f"shape {tuple(x.shape)}, dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected a float tensor (N, C, T, H, W), got {got}")
    return x


def add_noise(clean: torch.Tensor, sigma: float, *, seed: int = 0) -> torch.Tensor:
    """clean (N, C, T, H, W) + Gaussian noise of std ``sigma``, same shape (not clipped: the noise stays zero-mean)."""
    clean = _check_clips(clean, "add_noise(clean)")
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real) or sigma < 0:
        raise ValueError(f"add_noise(sigma): expected a non-negative number, got {sigma!r}")
    generator = torch.Generator().manual_seed(seed)
    return clean + sigma * torch.randn(clean.shape, generator=generator, dtype=clean.dtype)


def train_denoiser(model: nn.Module, clean: torch.Tensor, sigma: float, *, epochs: int, batch_size: int = 16,
                   lr: float = 2e-3, seed: int = 0, progress: bool = True, desc: str = "denoiser") -> list[float]:
    """Train ``model(noisy) -> clean`` with MSE and Adam on clean clips (N, C, T, H, W); fresh noise every batch.

    Returns the mean training loss of each epoch. A tqdm bar runs over the batches.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"train_denoiser(model): expected an nn.Module, got {type(model).__name__}")
    clean = _check_clips(clean, "train_denoiser(clean)")
    if len(clean) == 0:
        raise ValueError("train_denoiser(clean): no clips")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_denoiser({name}): expected a positive int, got {value!r}")

    def batch_loss(idx, generator):
        y = clean[idx]
        return F.mse_loss(model(y + sigma * torch.randn(y.shape, generator=generator, dtype=y.dtype)), y)

    return adam_epochs(model, len(clean), batch_loss, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                       progress=progress, desc=desc)


@torch.no_grad()
def denoise(model: nn.Module, noisy: torch.Tensor, *, batch_size: int = 32) -> torch.Tensor:
    """``model`` applied in eval mode, in batches, clipped to [0, 1]: (N, C, T, H, W) -> (N, C, T, H, W)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"denoise(model): expected an nn.Module, got {type(model).__name__}")
    noisy = _check_clips(noisy, "denoise(noisy)")
    model.eval()
    return torch.cat([model(noisy[i:i + batch_size]) for i in range(0, len(noisy), batch_size)]).clamp(0, 1)


def denoising_psnr(clean: torch.Tensor, noisy: torch.Tensor, models: dict[str, nn.Module]) -> dict[str, float]:
    """PSNR (dB) against ``clean`` of the noisy clips themselves (``"noisy input"``, clipped to [0, 1]) and of each
    model's output: ``{"noisy input": ..., name: ...}``."""
    clean = _check_clips(clean, "denoising_psnr(clean)")
    noisy = _check_clips(noisy, "denoising_psnr(noisy)")
    if clean.shape != noisy.shape:
        raise ValueError(f"denoising_psnr: clean {tuple(clean.shape)} and noisy {tuple(noisy.shape)} differ")
    out = {"noisy input": psnr(noisy.clamp(0, 1), clean)}
    for name, model in models.items():
        out[name] = psnr(denoise(model, noisy), clean)
    return out
