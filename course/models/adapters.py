"""Chapter 11: adapters — fine-tune a frozen video backbone by training a few small bottleneck layers.

An :class:`Adapter` is a residual bottleneck ``x + up(relu(down(x)))`` whose up-projection starts at zero, so inserting
it changes nothing at first (after Houlsby et al. 2019; the temporal kernel follows ST-Adapter, Pan et al. 2022).
:func:`add_adapters` puts one after chosen blocks of a model, freezes everything else (batch-norm statistics
included) and leaves the adapters and the classifier head trainable.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .blocks import check_input, check_positive_int


class Adapter(nn.Module):
    """x + up(relu(down(x))) on (N, C, T, H, W) -> (N, C, T, H, W).

    ``down``: a 1x1x1 convolution C -> C // reduction (at least 1); then, if ``temporal_kernel > 1``, a depthwise
    convolution over time (kernel ``temporal_kernel`` x 1 x 1) so the adapter can pick up motion the frozen backbone
    does not see; ``up``: 1x1x1 back to C, initialised to zero (weight and bias), so the adapter is exactly the
    identity when inserted.
    """

    def __init__(self, channels: int, reduction: int = 8, *, temporal_kernel: int = 3):
        super().__init__()
        self.channels = check_positive_int(channels, "Adapter(channels)")
        reduction = check_positive_int(reduction, "Adapter(reduction)")
        temporal_kernel = check_positive_int(temporal_kernel, "Adapter(temporal_kernel)")
        if temporal_kernel % 2 == 0:
            raise ValueError(f"Adapter(temporal_kernel={temporal_kernel}): expected an odd int (same-length output)")
        hidden = max(1, self.channels // reduction)
        self.hidden_channels = hidden
        self.down = nn.Conv3d(self.channels, hidden, 1)
        self.temporal = (nn.Conv3d(hidden, hidden, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0),
                                   groups=hidden) if temporal_kernel > 1 else nn.Identity())
        self.up = nn.Conv3d(hidden, self.channels, 1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, "(N, C, T, H, W)", "Adapter", self.channels)
        return x + self.up(F.relu(self.temporal(self.down(x))))


class FrozenBatchNorm(nn.Module):
    """A batch norm that always uses its stored statistics (eval-mode behaviour, in training too); no parameters.

    Built from a trained ``nn.BatchNorm1d/2d/3d`` with :meth:`from_batchnorm`; same shapes in and out.
    """

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__()
        self.num_features, self.eps = check_positive_int(num_features, "FrozenBatchNorm(num_features)"), float(eps)
        for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            self.register_buffer(name, torch.full((self.num_features,), value))

    @classmethod
    def from_batchnorm(cls, bn: nn.modules.batchnorm._BatchNorm) -> "FrozenBatchNorm":
        if not isinstance(bn, nn.modules.batchnorm._BatchNorm) or not bn.track_running_stats:
            raise TypeError(f"FrozenBatchNorm.from_batchnorm(bn): expected a BatchNorm layer with running "
                            f"statistics, got {type(bn).__name__}")
        frozen = cls(bn.num_features, bn.eps)
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                value = getattr(bn, name)
                if value is not None:
                    getattr(frozen, name).copy_(value)
        return frozen.to(bn.running_mean.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False,
                            eps=self.eps)


def out_channels(module: nn.Module) -> int:
    """Channels a block outputs, read from its last BatchNorm (or, without one, its last convolution)."""
    norms = [m.num_features for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    convs = [m.out_channels for m in module.modules() if isinstance(m, nn.modules.conv._ConvNd)]
    if not norms and not convs:
        raise ValueError(f"out_channels({type(module).__name__}): found no BatchNorm or convolution to read the "
                         "number of output channels from")
    return int((norms or convs)[-1])


def default_adapter_sites(model: nn.Module) -> list[str]:
    """Names of the blocks adapters go after: every block of ``layer1`` ... ``layer4`` (VideoResNet, torchvision)."""
    named = dict(model.named_modules())
    sites = [f"{stage}.{child}" for stage in ("layer1", "layer2", "layer3", "layer4") if stage in named
             for child, _ in named[stage].named_children()]
    if not sites:
        raise ValueError(f"add_adapters(model={type(model).__name__}, after=None): the model has no layer1..layer4 "
                         "blocks; pass after=[names of the blocks to follow with an adapter]")
    return sites


def set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _heads(model: nn.Module, head, owner: str) -> list[str]:
    heads = [] if head is None else [head] if isinstance(head, str) else list(head)
    named = dict(model.named_modules())
    missing = [h for h in heads if h not in named or h == ""]
    if missing:
        raise ValueError(f"{owner}(head={head!r}): the model has no submodule named {missing}")
    return heads


def freeze_except(model: nn.Module, keep: Sequence[str] = (), *, freeze_batchnorm: bool = True) -> nn.Module:
    """Set ``requires_grad=False`` on every parameter outside the submodules named in ``keep``; in place.

    With ``freeze_batchnorm`` the BatchNorm layers outside ``keep`` become :class:`FrozenBatchNorm`, so training
    mode does not move their running statistics either. Returns ``model``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"freeze_except(model): expected a torch.nn.Module, got {type(model).__name__}")
    keep = _heads(model, list(keep), "freeze_except")
    for p in model.parameters():
        p.requires_grad_(False)
    if freeze_batchnorm:
        kept = {id(m) for k in keep for m in model.get_submodule(k).modules()}
        for name, m in list(model.named_modules()):
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and id(m) not in kept:
                set_submodule(model, name, FrozenBatchNorm.from_batchnorm(m))
    for k in keep:
        for p in model.get_submodule(k).parameters():
            p.requires_grad_(True)
    return model


def add_adapters(model: nn.Module, *, after: Sequence[str] | None = None, reduction: int = 8,
                 temporal_kernel: int = 3, head: str | Sequence[str] | None = "fc",
                 freeze_batchnorm: bool = True) -> nn.Module:
    """Freeze ``model`` and insert a trainable :class:`Adapter` after each block named in ``after``; in place.

    Args:
        model: a video network taking (N, C, T, H, W).
        after: names of submodules (``dict(model.named_modules())`` keys) whose 5-D output gets an adapter; default:
            every block of ``layer1`` ... ``layer4``.
        reduction, temporal_kernel: passed to each :class:`Adapter`.
        head: name(s) of submodules left trainable (the classifier, replaced for a new task *before* this call);
            None freezes everything but the adapters.
        freeze_batchnorm: replace the backbone's BatchNorm layers by :class:`FrozenBatchNorm`, so their running
            statistics stay those of pretraining (otherwise training mode would keep updating them).

    Returns the same ``model`` object: at insertion its outputs are unchanged (exactly, in eval mode) and only the
    adapters and the head have ``requires_grad``. Count them with ``count_parameters(model, trainable_only=True)``.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"add_adapters(model): expected a torch.nn.Module, got {type(model).__name__}")
    named = dict(model.named_modules())
    if after is None:
        after = default_adapter_sites(model)
    if isinstance(after, str) or not isinstance(after, Sequence) or not after:
        raise ValueError(f"add_adapters(after={after!r}): expected a non-empty list of submodule names")
    missing = [n for n in after if n not in named or n == ""]
    if missing:
        raise ValueError(f"add_adapters(after=...): the model has no submodule named {missing}")
    heads = _heads(model, head, "add_adapters")
    adapters = [Adapter(out_channels(named[n]), reduction, temporal_kernel=temporal_kernel) for n in after]
    freeze_except(model, heads, freeze_batchnorm=freeze_batchnorm)
    for name, adapter in zip(after, adapters):
        block = model.get_submodule(name)
        param = next(block.parameters(), None)
        set_submodule(model, name, nn.Sequential(block, adapter.to(param.device) if param is not None else adapter))
    return model


def adapters_of(model: nn.Module) -> list[Adapter]:
    """The :class:`Adapter` modules of ``model``, in order."""
    return [m for m in model.modules() if isinstance(m, Adapter)]


def linear_probe(model: nn.Module, *, head: str | Sequence[str] = "fc", freeze_batchnorm: bool = True) -> nn.Module:
    """Freeze everything but ``head`` (in place; see :func:`freeze_except`): the linear-probe baseline of transfer."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"linear_probe(model): expected a torch.nn.Module, got {type(model).__name__}")
    return freeze_except(model, _heads(model, head, "linear_probe"), freeze_batchnorm=freeze_batchnorm)
