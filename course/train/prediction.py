"""Next-frame prediction: baselines, per-horizon-step errors, PSNR, and training a forecaster (chapter 17).

Clips use the course's layout (N, C, T, H, W) with pixels in [0, 1]. A forecaster sees ``past`` (N, C, T_in, H, W)
and predicts ``future`` (N, C, horizon, H, W). Every prediction result is compared with two baselines that learn
nothing: copy the last observed frame, and the mean of the observed frames.

SSIM is not computed: none of the course's declared libraries (torch, torchvision, scikit-learn) provides it, and the
chapter reports MSE and PSNR instead.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..models.blocks import check_tensor
from .loop import progress_bar

__all__ = ["copy_last_frame", "mean_frame", "per_horizon_mse", "psnr", "prediction_loss", "prediction_tensors",
           "train_forecaster", "predict_frames", "horizon_curves", "sharpness", "LOSSES"]

LOSSES = ("mse", "bce")


def _check_clip(x, name: str, ndim: int = 5, layout: str = "(N, C, T, H, W)") -> torch.Tensor:
    return check_tensor(x, ndim, layout, name)


def _check_horizon(horizon, name: str) -> int:
    if not isinstance(horizon, numbers.Integral) or isinstance(horizon, bool) or horizon < 1:
        raise ValueError(f"{name}: expected a positive int, got {horizon!r}")
    return int(horizon)


def copy_last_frame(past: torch.Tensor, horizon: int) -> torch.Tensor:
    """Baseline: the last observed frame, repeated. past (N, C, T_in, H, W) -> (N, C, horizon, H, W)."""
    past = _check_clip(past, "copy_last_frame(past)")
    horizon = _check_horizon(horizon, "copy_last_frame(horizon)")
    return past[:, :, -1:].expand(-1, -1, horizon, -1, -1).clone()


def mean_frame(past: torch.Tensor, horizon: int) -> torch.Tensor:
    """Baseline: the mean of the clip's observed frames, repeated. past (N, C, T_in, H, W) -> (N, C, horizon, H, W).

    A blur of where the digits have been: it is wrong everywhere a little instead of badly somewhere.
    """
    past = _check_clip(past, "mean_frame(past)")
    horizon = _check_horizon(horizon, "mean_frame(horizon)")
    return past.mean(dim=2, keepdim=True).expand(-1, -1, horizon, -1, -1).clone()


def _check_pair(predicted, target, owner: str) -> tuple[torch.Tensor, torch.Tensor]:
    predicted = _check_clip(predicted, f"{owner}(predicted)")
    target = _check_clip(target, f"{owner}(target)")
    if predicted.shape != target.shape:
        raise ValueError(f"{owner}: predicted {tuple(predicted.shape)} and target {tuple(target.shape)} must have "
                         f"the same shape (N, C, T, H, W)")
    return predicted, target


def per_horizon_mse(predicted: torch.Tensor, target: torch.Tensor) -> np.ndarray:
    """Mean squared error at each predicted step: (N, C, T, H, W) twice -> float64 array (T,).

    Entry k averages over clips, channels and pixels of step k + 1 after the last observed frame.
    """
    predicted, target = _check_pair(predicted, target, "per_horizon_mse")
    return ((predicted.double() - target.double()) ** 2).mean(dim=(0, 1, 3, 4)).numpy()


def psnr(predicted: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range^2 / MSE)`` over all elements (higher is better).

    predicted, target: tensors of the same shape (any number of dims), pixels in [0, data_range]. Identical inputs
    give ``inf``.
    """
    for name, x in (("predicted", predicted), ("target", target)):
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"psnr({name}): expected a floating-point torch.Tensor, got "
                            f"{type(x).__name__ if not isinstance(x, torch.Tensor) else x.dtype}")
    if predicted.shape != target.shape:
        raise ValueError(f"psnr: predicted {tuple(predicted.shape)} and target {tuple(target.shape)} must have the "
                         f"same shape")
    if isinstance(data_range, bool) or not isinstance(data_range, numbers.Real) or data_range <= 0:
        raise ValueError(f"psnr(data_range): expected a positive number, got {data_range!r}")
    mse = float(((predicted.double() - target.double()) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(data_range ** 2 / mse)


def sharpness(frames: torch.Tensor) -> np.ndarray:
    """How sharp the frames at each step are: the mean squared difference between neighbouring pixels (horizontal
    and vertical), (N, C, T, H, W) -> float64 array (T,). A blurred frame scores lower than the true one; compare a
    prediction's curve with the true future's."""
    frames = _check_clip(frames, "sharpness(frames)").double()
    dx = (frames[..., :, 1:] - frames[..., :, :-1]) ** 2
    dy = (frames[..., 1:, :] - frames[..., :-1, :]) ** 2
    return (dx.mean(dim=(0, 1, 3, 4)) + dy.mean(dim=(0, 1, 3, 4))).numpy()


def prediction_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """The training loss of a forecaster that outputs logits: (N, C, T, H, W) twice -> a scalar.

    ``"mse"``: mean squared error of ``sigmoid(logits)`` against the target pixels. ``"bce"``: binary cross-entropy
    with the pixels in [0, 1] as soft targets (``binary_cross_entropy_with_logits``) — a per-pixel Bernoulli
    likelihood, as used for Moving MNIST.
    """
    logits, target = _check_pair(logits, target, "prediction_loss")
    if kind == "mse":
        return F.mse_loss(torch.sigmoid(logits), target)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    raise ValueError(f"prediction_loss(kind={kind!r}): expected one of {LOSSES}")


def prediction_tensors(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """Render a ``(past, future)`` dataset (e.g. ``MovingDigits(mode="predict")``) into two tensors
    (N, C, T_in, H, W) and (N, C, T_out, H, W)."""
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"prediction_tensors(dataset): expected a map-style dataset of (past, future) items, "
                        f"got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError("prediction_tensors(dataset): the dataset is empty")
    past, future = zip(*(dataset[i] for i in range(len(dataset))))
    return torch.stack(past), torch.stack(future)


def _check_model_data(model, past, future, owner: str):
    if not isinstance(model, nn.Module):
        raise TypeError(f"{owner}(model): expected an nn.Module, got {type(model).__name__}")
    past = _check_clip(past, f"{owner}(past)")
    future = _check_clip(future, f"{owner}(future)")
    if past.shape[0] != future.shape[0] or past.shape[0] == 0:
        raise ValueError(f"{owner}: past {tuple(past.shape)} and future {tuple(future.shape)} need the same, "
                         f"nonzero number of clips")
    return past, future


def train_forecaster(model: nn.Module, past: torch.Tensor, future: torch.Tensor, *, epochs: int,
                     batch_size: int = 16, lr: float = 2e-3, loss: str = "mse", teacher_forcing: bool = False,
                     seed: int = 0, progress: bool = True, desc: str = "train") -> list[float]:
    """Train a forecaster ``model(past, horizon, future=None) -> logits`` with Adam; returns the mean training loss
    of each epoch.

    past (N, C, T_in, H, W), future (N, C, horizon, H, W). ``teacher_forcing=True`` feeds the forecaster the true
    previous frame at each step (``model(past, horizon, future)``); ``False`` feeds back its own predictions, exactly
    as at test time. ``loss``: ``"mse"`` or ``"bce"`` (:func:`prediction_loss`). A tqdm bar runs over the batches.
    """
    past, future = _check_model_data(model, past, future, "train_forecaster")
    epochs = _check_horizon(epochs, "train_forecaster(epochs)")
    batch_size = _check_horizon(batch_size, "train_forecaster(batch_size)")
    if loss not in LOSSES:
        raise ValueError(f"train_forecaster(loss={loss!r}): expected one of {LOSSES}")
    horizon = future.shape[2]

    def batch_loss(idx, _generator):
        x, y = past[idx], future[idx]
        return prediction_loss(model(x, horizon, future=y if teacher_forcing else None), y, loss)

    return adam_epochs(model, len(past), batch_loss, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                       progress=progress, desc=desc)


def adam_epochs(model: nn.Module, num_items: int, batch_loss, *, epochs: int, batch_size: int, lr: float, seed: int,
                progress: bool, desc: str) -> list[float]:
    """The training loop of chapter 17's models: ``epochs`` passes over ``num_items`` items in a seeded random order,
    minibatches of ``batch_size`` indices, ``batch_loss(indices, generator) -> scalar loss``, one Adam step each.
    Returns the mean loss of each epoch; leaves the model in eval mode. A tqdm bar runs over the batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    steps = math.ceil(num_items / batch_size)
    history = []
    model.train()
    bar = progress_bar(None, enabled=progress, total=epochs * steps, desc=desc, leave=False)
    for _ in range(epochs):
        order = torch.randperm(num_items, generator=generator)
        total = 0.0
        for k in range(steps):
            idx = order[k * batch_size:(k + 1) * batch_size]
            value = batch_loss(idx, generator)
            optimizer.zero_grad()
            value.backward()
            optimizer.step()
            total += value.item() * len(idx)
            bar.update(1)
        history.append(total / num_items)
    bar.close()
    model.eval()
    return history


@torch.no_grad()
def predict_frames(model: nn.Module, past: torch.Tensor, horizon: int, *, batch_size: int = 64) -> torch.Tensor:
    """The model's predicted frames in [0, 1], fed back its own predictions: past (N, C, T_in, H, W) ->
    (N, C, horizon, H, W) = ``sigmoid(model(past, horizon))``, in eval mode, in batches."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"predict_frames(model): expected an nn.Module, got {type(model).__name__}")
    past = _check_clip(past, "predict_frames(past)")
    horizon = _check_horizon(horizon, "predict_frames(horizon)")
    model.eval()
    return torch.cat([torch.sigmoid(model(past[i:i + batch_size], horizon))
                      for i in range(0, len(past), batch_size)])


def horizon_curves(past: torch.Tensor, future: torch.Tensor, predictions: dict[str, torch.Tensor] | None = None
                   ) -> dict[str, np.ndarray]:
    """Per-step MSE (horizon,) of each prediction (N, C, horizon, H, W) and of the two baselines on the same clips:
    ``{name: curve, ..., "copy last frame": curve, "mean frame": curve}``."""
    past = _check_clip(past, "horizon_curves(past)")
    future = _check_clip(future, "horizon_curves(future)")
    horizon = future.shape[2]
    curves = {name: per_horizon_mse(p, future) for name, p in (predictions or {}).items()}
    curves["copy last frame"] = per_horizon_mse(copy_last_frame(past, horizon), future)
    curves["mean frame"] = per_horizon_mse(mean_frame(past, horizon), future)
    return curves
