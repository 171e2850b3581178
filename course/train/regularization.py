"""Regularisation pieces (chapter 13): weight penalties, sparsity, and a label-noise task where they matter.

- :func:`l1_penalty` / :func:`l2_penalty`: sum of |w| / w^2 over weight matrices and kernels (biases and norm-layer
  scales are not penalised, as in most recipes).
- :func:`weight_sparsity`: the fraction of weights that are (nearly) zero — what an L1 penalty produces.
- :func:`noisy_digits`: scikit-learn's 8x8 digits with a small training set whose labels are partly wrong, so an
  unregularised network memorises the noise (train accuracy 100%, a large gap) and every regulariser has something
  to fix. The validation labels are clean.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["l1_penalty", "l2_penalty", "weight_sparsity", "penalized_weights", "TensorSplit", "noisy_digits"]


def penalized_weights(model: nn.Module) -> list[torch.Tensor]:
    """The parameters a weight penalty applies to: those with 2 or more dims (Linear/Conv weights), not biases or
    batch-norm scales."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"penalized_weights(model): expected a torch.nn.Module, got {type(model).__name__}")
    return [p for p in model.parameters() if p.ndim >= 2]


def l1_penalty(model: nn.Module) -> torch.Tensor:
    """sum |w| over :func:`penalized_weights` — a 0-dim tensor with gradients (add ``lambda * l1_penalty(model)``)."""
    weights = penalized_weights(model)
    return sum((w.abs().sum() for w in weights), torch.zeros(()))


def l2_penalty(model: nn.Module) -> torch.Tensor:
    """sum w^2 over :func:`penalized_weights` — a 0-dim tensor. Its gradient is 2 w: with plain SGD, adding
    ``lambda / 2 * l2_penalty`` *is* weight decay; with Adam it is not (the gradient gets rescaled), hence AdamW."""
    weights = penalized_weights(model)
    return sum((w.pow(2).sum() for w in weights), torch.zeros(()))


def weight_sparsity(model: nn.Module, *, threshold: float = 1e-3) -> float:
    """Fraction in [0, 1] of the penalised weights with |w| < ``threshold``."""
    if not isinstance(threshold, numbers.Real) or isinstance(threshold, bool) or threshold <= 0:
        raise ValueError(f"weight_sparsity(threshold={threshold!r}): expected a positive number")
    weights = penalized_weights(model)
    if not weights:
        raise ValueError("weight_sparsity(model): the model has no weight matrices or kernels")
    flat = torch.cat([w.detach().reshape(-1) for w in weights])
    return float((flat.abs() < threshold).double().mean())


@dataclass
class TensorSplit:
    """A small in-memory data set: ``x_train`` (N, ...), ``y_train`` (N,), ``x_val`` (M, ...), ``y_val`` (M,)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor

    def __repr__(self) -> str:
        return (f"TensorSplit(train {tuple(self.x_train.shape)}, val {tuple(self.x_val.shape)}, "
                f"classes {int(self.y_train.max()) + 1})")


def noisy_digits(n_train: int = 300, *, label_noise: float = 0.3, n_val: int = 600, seed: int = 0) -> TensorSplit:
    """scikit-learn's digits as float images (N, 1, 8, 8) in [0, 1]: ``n_train`` training images of which a fraction
    ``label_noise`` get a wrong label (uniformly among the other 9 classes), and ``n_val`` validation images with
    their true labels, disjoint from the training ones. Stratified, reproducible given ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    for name, value in (("n_train", n_train), ("n_val", n_val), ("seed", seed)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < (0 if name == "seed" else 20):
            raise ValueError(f"noisy_digits({name}={value!r}): expected an int >= {0 if name == 'seed' else 20}")
    if n_train + n_val > 1797:
        raise ValueError(f"noisy_digits: n_train + n_val = {n_train + n_val} is more than the 1797 digits")
    if not isinstance(label_noise, numbers.Real) or not 0 <= label_noise < 0.9:
        raise ValueError(f"noisy_digits(label_noise={label_noise!r}): expected a fraction in [0, 0.9)")
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    x_tr, x_va, y_tr, y_va = train_test_split(x, digits.target, train_size=n_train, test_size=n_val,
                                              random_state=seed, stratify=digits.target)
    rng = np.random.default_rng(seed)
    flip = rng.random(n_train) < label_noise
    y_noisy = y_tr.copy()
    y_noisy[flip] = (y_tr[flip] + rng.integers(1, 10, flip.sum())) % 10
    as_long = lambda a: torch.as_tensor(a, dtype=torch.int64)  # noqa: E731
    return TensorSplit(torch.from_numpy(x_tr), as_long(y_noisy), torch.from_numpy(x_va), as_long(y_va))
