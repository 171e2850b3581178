"""Chapter 11: a transfer task built offline — pretrain on some MovingShapes classes, adapt to the held-out ones.

The source task is classes 0-5 (move right/left, down/up, grow/shrink); the target task is classes 6-9 (rotate
clockwise/anticlockwise, fade in/out), motions the backbone never saw, with few labelled clips. Three ways to adapt
the same pretrained backbone (:data:`TRANSFER_METHODS`):

- ``"full"``: fine-tune every weight (new head);
- ``"linear"``: linear probe — freeze the backbone, train only the new head;
- ``"adapters"``: freeze the backbone, insert :class:`course.models.Adapter` s, train them and the head.

:func:`run_transfer_study` pretrains once and returns one row per method (trainable share, accuracy, seconds).
"""
from __future__ import annotations

import copy
import time
from typing import Callable, Sequence

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

TRANSFER_METHODS = ("full", "linear", "adapters")
SOURCE_CLASSES = (0, 1, 2, 3, 4, 5)
TARGET_CLASSES = (6, 7, 8, 9)
#: Peak learning rate of each method: a frozen backbone tolerates (and needs) a larger step for its few weights.
TRANSFER_LR = {"full": 3e-3, "linear": 1e-2, "adapters": 1e-2}
#: Adapter bottleneck (channels // reduction) of the study: chosen on MovingShapes' *validation* clips with
#: ``benchmarks/adapter_transfer.py --eval-split val --reduction R`` (R = 8, 4, 2; 8 adaptation epochs: 90.0%, 92.5%,
#: 99.4% against full fine-tuning's 98.8%), never on the test clips that the recorded table reports.
ADAPTER_REDUCTION = 2


def class_subset(dataset: TensorDataset, classes: Sequence[int], *, limit: int | None = None) -> TensorDataset:
    """The clips of ``dataset`` whose label is in ``classes``, relabelled 0..len(classes)-1 in that order.

    ``dataset``: TensorDataset of clips (N, C, T, H, W) and labels (N,); ``limit``: keep at most that many clips.
    Returns a TensorDataset (M, C, T, H, W), (M,).
    """
    if not isinstance(dataset, TensorDataset) or len(dataset.tensors) != 2:
        raise TypeError(f"class_subset(dataset): expected a TensorDataset of (clips, labels), got "
                        f"{type(dataset).__name__}")
    if isinstance(classes, (str, bytes)) or not classes or len(set(classes)) != len(classes):
        raise ValueError(f"class_subset(classes={classes!r}): expected a non-empty sequence of distinct labels")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"class_subset(limit={limit!r}): expected a positive int or None")
    clips, labels = dataset.tensors
    keep = torch.isin(labels, torch.as_tensor(list(classes)))
    if not keep.any():
        raise ValueError(f"class_subset(classes={classes!r}): no clip of the dataset has one of these labels")
    mapping = {int(c): i for i, c in enumerate(classes)}
    clips = clips[keep][:limit]
    labels = torch.as_tensor([mapping[int(v)] for v in labels[keep][:limit]], dtype=torch.int64)
    return TensorDataset(clips, labels)


def prepare_transfer(pretrained: nn.Module, method: str, num_classes: int, *, head: str = "fc",
                     reduction: int = 8, temporal_kernel: int = 3) -> nn.Module:
    """A copy of ``pretrained`` with a new ``head`` (nn.Linear to ``num_classes``) set up for ``method``.

    ``pretrained`` is not modified. ``method``: one of :data:`TRANSFER_METHODS`. Input and output as the model's.
    """
    from course.models import add_adapters, linear_probe

    if method not in TRANSFER_METHODS:
        raise ValueError(f"prepare_transfer(method={method!r}): expected one of {TRANSFER_METHODS}")
    if not isinstance(pretrained, nn.Module) or not isinstance(getattr(pretrained, head, None), nn.Linear):
        raise TypeError(f"prepare_transfer(pretrained): expected a model whose {head!r} is an nn.Linear head")
    model = copy.deepcopy(pretrained)
    setattr(model, head, nn.Linear(getattr(model, head).in_features, num_classes))
    if method == "linear":
        linear_probe(model, head=head)
    elif method == "adapters":
        add_adapters(model, head=head, reduction=reduction, temporal_kernel=temporal_kernel)
    return model


def train_classifier(model: nn.Module, train: TensorDataset, *, epochs: int, lr: float, batch_size: int = 32,
                     seed: int = 0, progress: bool = False):
    """AdamW + one-cycle LR over the trainable parameters only, on the CPU; returns the :class:`History`."""
    from course.config import seed_everything

    from .loop import fit

    seed_everything(seed)
    params = [p for p in model.parameters() if p.requires_grad]
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    return fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch",
               device="cpu", progress=progress)


def accuracy_on(model: nn.Module, test: TensorDataset) -> float:
    """Fraction of ``test`` clips classified right (eval mode)."""
    from .metrics import evaluate

    preds, labels = evaluate(model, DataLoader(test, batch_size=100))
    return float((preds == labels).mean())


def run_transfer_study(train: TensorDataset, test: TensorDataset, *, builder: Callable[[int], nn.Module] | None = None,
                       pretrain_epochs: int = 6, target_clips: int = 200, epochs: int = 8,
                       methods: Sequence[str] = TRANSFER_METHODS, reduction: int = ADAPTER_REDUCTION, seed: int = 0,
                       progress: bool = True) -> dict:
    """Pretrain ``builder(6)`` (default ``r3d_small``) on :data:`SOURCE_CLASSES` of ``train``, then adapt it to
    :data:`TARGET_CLASSES` with ``target_clips`` labelled clips by each method.

    ``train``/``test``: MovingShapes TensorDatasets, clips (N, 3, T, H, W), labels (N,) in 0..9. Returns
    ``{"source_acc", "pretrain_seconds", "runs": [{"method", "trainable", "total", "share", "test_acc",
    "first_loss", "last_loss", "train_seconds"}, ...]}``, accuracies on the target classes of ``test``.
    """
    from tqdm.auto import tqdm

    from course.models import count_parameters

    if builder is None:
        from course.models.video_resnet import r3d_small as builder
    unknown = [m for m in methods if m not in TRANSFER_METHODS]
    if unknown or not methods:
        raise ValueError(f"run_transfer_study(methods={methods!r}): expected names from {TRANSFER_METHODS}")
    from course.config import seed_everything

    seed_everything(seed)
    backbone = builder(len(SOURCE_CLASSES))
    start = time.perf_counter()
    train_classifier(backbone, class_subset(train, SOURCE_CLASSES), epochs=pretrain_epochs, lr=3e-3, seed=seed,
                     progress=progress)
    result = {"source_acc": accuracy_on(backbone, class_subset(test, SOURCE_CLASSES)),
              "pretrain_seconds": time.perf_counter() - start, "target_clips": target_clips, "epochs": epochs,
              "runs": []}
    target_train = class_subset(train, TARGET_CLASSES, limit=target_clips)
    target_test = class_subset(test, TARGET_CLASSES)
    for method in tqdm(methods, desc="transfer methods", disable=not progress):
        model = prepare_transfer(backbone, method, len(TARGET_CLASSES), reduction=reduction)
        start = time.perf_counter()
        history = train_classifier(model, target_train, epochs=epochs, lr=TRANSFER_LR[method], seed=seed + 1)
        trainable, total = count_parameters(model, trainable_only=True), count_parameters(model)
        result["runs"].append({"method": method, "trainable": trainable, "total": total, "share": trainable / total,
                               "test_acc": accuracy_on(model, target_test),
                               "first_loss": history["train_loss"][0], "last_loss": history["train_loss"][-1],
                               "train_seconds": time.perf_counter() - start})
    return result


def format_transfer_table(result: dict) -> str:
    """The runs of :func:`run_transfer_study` (or of the saved record) as a text table."""
    lines = [f"command: {result['command']} | {result.get('device', '?')} | {result.get('date', '?')}"] \
        if result.get("command") else []
    lines += [f"backbone pretrained on classes {SOURCE_CLASSES}: {result['source_acc']:.1%} on their test clips; "
             f"target classes {TARGET_CLASSES} with {result['target_clips']} labelled clips, {result['epochs']} epochs",
             f"{'method':<10} {'trainable':>10} {'of total':>10} {'share':>7} {'test acc':>9} {'train s':>8}",
             "-" * 59]
    for r in result["runs"]:
        lines.append(f"{r['method']:<10} {r['trainable']:>10,} {r['total']:>10,} {r['share']:>7.2%} "
                     f"{r['test_acc']:>9.1%} {r['train_seconds']:>8.1f}")
    return "\n".join(lines)
