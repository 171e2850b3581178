"""Pruning a 3D CNN (chapter 15): zeros that do not make it faster, and channels removed that do.

- :func:`magnitude_prune` — ``torch.nn.utils.prune``'s global unstructured L1 pruning: the smallest weights become
  zero. The tensors keep their shape, and dense kernels multiply the zeros like any other number: sparsity without
  speed (the chapter measures it).
- :func:`filter_l1_norms` and :func:`prune_channels` — structured pruning: score every output channel (filter) of
  every convolution by the L1 norm of its weights, keep the strongest, and *rebuild* the network with thinner
  ``Conv3d`` layers (fewer output channels here, fewer input channels in the next layer, fewer inputs to fc6). The
  smaller dense tensors are what make it faster.
"""
from __future__ import annotations

import copy
import numbers

import torch
from torch import nn

__all__ = ["magnitude_prune", "sparsity", "filter_l1_norms", "keep_channels", "prune_channels"]


def _fraction(value, name: str, fn: str, *, high_open: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{fn}({name}): expected a fraction in [0, 1), got {value!r}")
    return float(value)


def _prunable(model: nn.Module) -> list[tuple[nn.Module, str]]:
    return [(m, "weight") for m in model.modules() if isinstance(m, (nn.Conv3d, nn.Conv2d, nn.Linear))]


def magnitude_prune(model: nn.Module, amount: float) -> nn.Module:
    """A copy of ``model`` with the fraction ``amount`` of its conv/linear weights with the smallest magnitude, over
    the whole network, set to zero (``prune.global_unstructured`` with L1, then ``prune.remove`` to make it final)."""
    from torch.nn.utils import prune

    if not isinstance(model, nn.Module):
        raise TypeError(f"magnitude_prune(model): expected an nn.Module, got {type(model).__name__}")
    amount = _fraction(amount, "amount", "magnitude_prune")
    out = copy.deepcopy(model)
    targets = _prunable(out)
    prune.global_unstructured(targets, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in targets:
        prune.remove(module, name)
    return out


def sparsity(model: nn.Module) -> float:
    """Fraction of exactly-zero weights over the model's conv and linear weights."""
    weights = [m.weight for m, _ in _prunable(model)]
    if not weights:
        raise ValueError("sparsity(model): the model has no Conv or Linear layer")
    return float(sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights))


def filter_l1_norms(conv: nn.Conv3d) -> torch.Tensor:
    """The channel-selection score: the L1 norm of each output filter, ``sum |W[o, :, :, :, :]|`` -> (out_channels,).

    A filter whose weights are all small contributes little to the next layer (Li et al., "Pruning Filters for
    Efficient ConvNets", ICLR 2017); removing it changes the output least.
    """
    if not isinstance(conv, nn.Conv3d):
        raise TypeError(f"filter_l1_norms(conv): expected an nn.Conv3d, got {type(conv).__name__}")
    return conv.weight.detach().abs().flatten(1).sum(dim=1)


def keep_channels(conv: nn.Conv3d, fraction_removed: float) -> torch.Tensor:
    """Indices (sorted) of the filters kept when ``fraction_removed`` of them go, the weakest L1 norms first; at least
    one filter is kept -> int64 (kept,)."""
    fraction_removed = _fraction(fraction_removed, "fraction_removed", "keep_channels")
    norms = filter_l1_norms(conv)
    kept = max(1, int(round(len(norms) * (1 - fraction_removed))))
    return torch.sort(torch.topk(norms, kept).indices).values


def prune_channels(model: nn.Module, fraction_removed: float) -> nn.Module:
    """A new, thinner :class:`course.models.C3D`: every convolution keeps the ``1 - fraction_removed`` of its filters
    with the largest L1 norm; weights, BatchNorm statistics and the classifier are copied for the kept channels.

    ``model``: a C3D (e.g. :func:`course.models.c3d_small`) with batch norm. With ``fraction_removed=0`` the new model
    computes exactly the same function. Fine-tune after pruning a real fraction: the network must adapt.
    Shapes: clips (N, C, T, H, W) -> logits (N, classes), like ``model``.
    """
    from ..models.c3d import C3D

    if not isinstance(model, C3D):
        raise TypeError(f"prune_channels(model): expected a course.models.C3D, got {type(model).__name__}")
    fraction_removed = _fraction(fraction_removed, "fraction_removed", "prune_channels")
    stages = [m for m in model.features.children() if isinstance(getattr(m, "conv", None), nn.Conv3d)]
    if not all(hasattr(s, "bn") for s in stages):
        raise ValueError("prune_channels(model): expected a C3D built with batch_norm=True")
    keeps = [keep_channels(s.conv, fraction_removed) for s in stages]
    fc6 = model.classifier.fc6[0]
    thin = C3D(model.num_classes, in_channels=model.in_channels, dropout=model.classifier.fc6[2].p,
               widths=[len(k) for k in keeps], fc_features=fc6.out_features, input_size=model.input_size,
               batch_norm=True)
    new_stages = [m for m in thin.features.children() if isinstance(getattr(m, "conv", None), nn.Conv3d)]
    previous = torch.arange(model.in_channels)
    with torch.no_grad():
        for old, new, keep in zip(stages, new_stages, keeps):
            new.conv.weight.copy_(old.conv.weight[keep][:, previous])
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(new.bn, name).copy_(getattr(old.bn, name)[keep])
            new.bn.num_batches_tracked.copy_(old.bn.num_batches_tracked)
            previous = keep
        c, ft, fh, fw = model.feature_shape
        columns = fc6.weight.reshape(fc6.out_features, c, ft * fh * fw)[:, previous].reshape(fc6.out_features, -1)
        thin.classifier.fc6[0].weight.copy_(columns)
        thin.classifier.fc6[0].bias.copy_(fc6.bias)
        thin.classifier.fc7.load_state_dict(model.classifier.fc7.state_dict())
        thin.classifier.fc8.load_state_dict(model.classifier.fc8.state_dict())
    return thin.train(model.training)
