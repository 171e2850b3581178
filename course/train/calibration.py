"""Calibration: does a predicted 90% mean right 9 times out of 10? (Guo et al. 2017, "On Calibration of Modern
Neural Networks").

- :func:`reliability_bins` sorts predictions by confidence (the top softmax probability) into equal-width bins and
  measures each bin's accuracy: a calibrated model's bins lie on the diagonal.
- :func:`expected_calibration_error` (ECE): the bins' mean |accuracy - confidence|, weighted by how many
  predictions fall in each.
- :func:`fit_temperature`: temperature scaling, one number T fitted on *validation* logits by minimising the
  negative log-likelihood of ``softmax(logits / T)``. T > 1 softens an over-confident model; the argmax, and so the
  accuracy, does not change. :class:`TemperatureScaled` wraps a model with it.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["ReliabilityBins", "reliability_bins", "expected_calibration_error", "fit_temperature",
           "TemperatureScaled"]


def _probs_labels(probs, labels, fn: str) -> tuple[np.ndarray, np.ndarray]:
    probs = probs.detach().cpu().numpy() if torch.is_tensor(probs) else np.asarray(probs)
    labels = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] == 0 or probs.shape[1] < 2:
        raise ValueError(f"{fn}(probs): expected probabilities (N, K) with N >= 1 and K >= 2, got shape {probs.shape}")
    if not np.issubdtype(probs.dtype, np.floating) or probs.min() < 0 or not np.allclose(probs.sum(1), 1, atol=1e-3):
        raise ValueError(f"{fn}(probs): each row must be probabilities summing to 1 (apply softmax to logits first)")
    if labels.shape != (probs.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{fn}(labels): expected {probs.shape[0]} integer class indices (N,), "
                         f"got shape {labels.shape} dtype {labels.dtype}")
    if labels.min() < 0 or labels.max() >= probs.shape[1]:
        raise ValueError(f"{fn}(labels): class indices must be in [0, {probs.shape[1]})")
    return probs.astype(np.float64), labels.astype(np.int64)


def _num_bins(num_bins, fn: str) -> int:
    if not isinstance(num_bins, numbers.Integral) or isinstance(num_bins, bool) or num_bins < 1:
        raise ValueError(f"{fn}(num_bins={num_bins!r}): expected a positive int")
    return int(num_bins)


@dataclass
class ReliabilityBins:
    """Per confidence bin (B bins of equal width on [0, 1]): ``edges`` (B + 1,), ``confidence`` (B,) mean top
    probability, ``accuracy`` (B,) fraction right, ``counts`` (B,) predictions; empty bins hold NaN and count 0."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    counts: np.ndarray

    @property
    def ece(self) -> float:
        used = self.counts > 0
        gaps = np.abs(self.accuracy[used] - self.confidence[used])
        return float((gaps * self.counts[used]).sum() / self.counts.sum())


def reliability_bins(probs, labels, *, num_bins: int = 10) -> ReliabilityBins:
    """Bin predictions by confidence. ``probs`` (N, K) softmax probabilities, ``labels`` (N,) class indices."""
    probs, labels = _probs_labels(probs, labels, "reliability_bins")
    num_bins = _num_bins(num_bins, "reliability_bins")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, num_bins - 1)   # bins (lo, hi]
    counts = np.bincount(which, minlength=num_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, weights=confidence, minlength=num_bins) / counts
        mean_acc = np.bincount(which, weights=correct, minlength=num_bins) / counts
    return ReliabilityBins(edges=edges, confidence=mean_conf, accuracy=mean_acc, counts=counts)


def expected_calibration_error(probs, labels, *, num_bins: int = 10) -> float:
    """ECE in [0, 1]: ``sum_b (n_b / N) * |accuracy_b - confidence_b|`` over ``num_bins`` equal-width confidence
    bins. ``probs`` (N, K) softmax probabilities, ``labels`` (N,) class indices."""
    return reliability_bins(probs, labels, num_bins=num_bins).ece


def fit_temperature(logits, labels, *, max_iter: int = 200) -> float:
    """The temperature T > 0 minimising the cross-entropy of ``softmax(logits / T)`` on held-out data.

    ``logits`` (N, K) of a *validation* set (never the test set), ``labels`` (N,) class indices. Fitted by L-BFGS on
    log T, so T stays positive. Returns T as a float.
    """
    logits = torch.as_tensor(logits).detach().cpu().double()
    labels = torch.as_tensor(labels).detach().cpu()
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(f"fit_temperature(logits): expected (N, K) with N >= 1 and K >= 2, "
                         f"got shape {tuple(logits.shape)}")
    if not torch.isfinite(logits).all():
        raise ValueError("fit_temperature(logits): contains NaN or infinity")
    if labels.shape != (logits.shape[0],) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"fit_temperature(labels): expected {logits.shape[0]} integer class indices (N,), "
                         f"got shape {tuple(labels.shape)} dtype {labels.dtype}")
    if int(labels.min()) < 0 or int(labels.max()) >= logits.shape[1]:
        raise ValueError(f"fit_temperature(labels): class indices must be in [0, {logits.shape[1]})")
    if not isinstance(max_iter, numbers.Integral) or isinstance(max_iter, bool) or max_iter < 1:
        raise ValueError(f"fit_temperature(max_iter={max_iter!r}): expected a positive int")
    labels = labels.long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=int(max_iter), line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())


class TemperatureScaled(nn.Module):
    """``model`` with its logits divided by a fixed ``temperature``: (N, ...) -> logits / T (N, K).

    Same predictions (argmax), softer (T > 1) or sharper (T < 1) probabilities.
    """

    def __init__(self, model: nn.Module, temperature: float):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"TemperatureScaled(model): expected a torch.nn.Module, got {type(model).__name__}")
        if (not isinstance(temperature, numbers.Real) or isinstance(temperature, bool) or not temperature > 0
                or not math.isfinite(temperature)):
            raise ValueError(f"TemperatureScaled(temperature={temperature!r}): expected a positive finite number "
                             "(e.g. from fit_temperature)")
        self.model = model
        self.temperature = float(temperature)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) / self.temperature
