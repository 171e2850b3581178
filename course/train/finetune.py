"""Fine-tuning Kinetics-400 weights on a small data set (chapter 14).

Training R(2+1)D-18 from scratch on UCF101 overfits badly (about 9,500 training videos for 31 million parameters);
starting from torchvision's Kinetics-400 weights is the standard fix. The path here is real code:

- :func:`finetune_model`: the course's :func:`course.models.r2plus1d_18` with torchvision's Kinetics-400 weights
  loaded strictly (:func:`course.models.load_kinetics400`, which downloads and checks them once, and stops with a clear
  :class:`course.models.PretrainedError` offline), its 400-way ``fc`` replaced by a fresh ``num_classes`` layer and,
  optionally, its early layers frozen;
- :func:`finetune_optimizer`: SGD with a 10x smaller learning rate for the pretrained layers than for the new head;
- :func:`finetune_transforms`: the clip transforms the weights were trained with (112 x 112, Kinetics mean/std);
- :func:`ucf101_subset`: UCF101 split 1 restricted to its first ``num_classes`` classes (train and test), ready for
  :func:`course.train.fit` — with network access (Colab), after ``UCF101(download=True)``.
"""
from __future__ import annotations

import numbers

import torch
from torch import nn

__all__ = ["finetune_model", "finetune_optimizer", "finetune_transforms", "ucf101_subset", "FREEZE_CHOICES"]

#: What :func:`finetune_model` can freeze: nothing, the stem, or the stem and the first residual stage.
FREEZE_CHOICES = ("none", "stem", "stem+layer1")


def finetune_model(num_classes: int, *, pretrained: bool = True, freeze: str = "none",
                   progress: bool = True) -> nn.Module:
    """R(2+1)D-18 for ``num_classes`` classes: clips (N, 3, T, 112, 112) -> logits (N, num_classes).

    ``pretrained=True`` loads torchvision's Kinetics-400 weights first (downloaded once into the data cache; raises
    :class:`course.models.PretrainedError` with instructions when they cannot be downloaded). ``pretrained=False``
    keeps the random initialisation (for offline tests, or to measure what the weights are worth). ``freeze``: one
    of :data:`FREEZE_CHOICES`; frozen parameters get ``requires_grad=False``.
    """
    from ..models import load_kinetics400, r2plus1d_18

    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or num_classes < 2:
        raise ValueError(f"finetune_model(num_classes): expected an int >= 2, got {num_classes!r}")
    if not isinstance(pretrained, bool):
        raise TypeError(f"finetune_model(pretrained): expected True or False, got {pretrained!r}")
    if freeze not in FREEZE_CHOICES:
        raise ValueError(f"finetune_model(freeze): expected one of {FREEZE_CHOICES}, got {freeze!r}")
    model = r2plus1d_18()
    if pretrained:
        load_kinetics400(model, "r2plus1d_18", progress=progress)
    model.fc = nn.Linear(model.fc.in_features, int(num_classes))
    model.num_classes = int(num_classes)
    frozen = {"none": (), "stem": ("stem",), "stem+layer1": ("stem", "layer1")}[freeze]
    for name, param in model.named_parameters():
        if name.split(".")[0] in frozen:
            param.requires_grad_(False)
    return model.train()


def finetune_optimizer(model: nn.Module, *, lr: float = 0.01, backbone_factor: float = 0.1,
                       weight_decay: float = 1e-4) -> torch.optim.Optimizer:
    """SGD (momentum 0.9) with learning rate ``lr`` for ``model.fc`` and ``lr * backbone_factor`` for the rest;
    frozen parameters are left out."""
    if not isinstance(model, nn.Module) or not isinstance(getattr(model, "fc", None), nn.Linear):
        raise TypeError("finetune_optimizer(model): expected a model with an nn.Linear head `fc` (finetune_model)")
    for name, value in (("lr", lr), ("backbone_factor", backbone_factor)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0:
            raise ValueError(f"finetune_optimizer({name}): expected a positive number, got {value!r}")
    head = [p for p in model.fc.parameters() if p.requires_grad]
    head_ids = {id(p) for p in head}
    backbone = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": head, "lr": lr}]
    if backbone:
        groups.append({"params": backbone, "lr": lr * backbone_factor})
    return torch.optim.SGD(groups, lr=lr, momentum=0.9, weight_decay=weight_decay)


def finetune_transforms(size: int = 112, resize: tuple[int, int] = (128, 171)):
    """(train, eval) transforms for the Kinetics weights: uint8 (T, H, W, C) -> float (C, T, size, size), resized to
    ``resize`` (torchvision's video models use 128 x 171), random / centre crop, Kinetics mean and std."""
    from ..data.transforms import eval_transform, train_transform

    return train_transform(size, resize=resize), eval_transform(size, resize=resize)


def ucf101_subset(root=None, *, num_classes: int = 10, split: int = 1, frames_per_clip: int = 16, **kwargs):
    """(train, test) datasets of UCF101 ``split`` restricted to its first ``num_classes`` classes (labels 0..n-1).

    Each is a :class:`course.data.UCF101` whose sample list is filtered; extra keyword arguments (``transform``,
    ``cache``, ``decode_size``, ``sampling``...) go to it. Raises :class:`course.data.DatasetNotFoundError` with the
    download instructions when UCF101 is not in ``root`` (default: the data cache).
    """
    from ..data import UCF101

    if isinstance(num_classes, bool) or not isinstance(num_classes, numbers.Integral) or not 2 <= num_classes <= 101:
        raise ValueError(f"ucf101_subset(num_classes): expected an int in 2..101, got {num_classes!r}")
    out = []
    for subset in ("train", "test"):
        dataset = UCF101(root, split=split, subset=subset, frames_per_clip=frames_per_clip, **kwargs)
        dataset.samples = [(p, label) for p, label in dataset.samples if label < num_classes]
        dataset.classes = dataset.classes[:num_classes]
        dataset.class_to_idx = {c: i for i, c in enumerate(dataset.classes)}
        out.append(dataset)
    return tuple(out)
