"""The one training recipe chapters 06-09 use: AdamW + a one-cycle learning rate stepped per batch, run by :func:`fit`.

It is the recipe of ``benchmarks/temporal_task.py`` (and of the shipped checkpoints), in one call, so that a chapter's
training cell says *what* is trained on *which* clips for *how long*, not the same ten lines of set-up each time.
"""
from __future__ import annotations

import numbers

from .history import History
from .loop import fit


def train_one_cycle(model, train_set, val_set=None, *, epochs: int, batch_size: int = 32, lr: float = 3e-3,
                    weight_decay: float = 1e-4, max_grad_norm: float | None = None, seed: int = 0,
                    progress: bool = True, device="cpu", amp=None) -> History:
    """Train ``model`` in place on ``train_set`` and return its :class:`History`.

    ``train_set`` / ``val_set``: map-style datasets of (clip (C, T, H, W), label) pairs (e.g. ``tensor_dataset``); the
    model maps (N, C, T, H, W) to logits (N, K). Optimizer AdamW(lr, weight_decay), learning rate OneCycleLR with peak
    ``lr`` over ``epochs * batches`` steps, shuffling seeded by ``seed``; ``max_grad_norm`` clips gradients (RNNs).
    ``progress`` shows the course's tqdm bars. ``amp``: mixed precision as in :func:`fit` (default None: on for CUDA,
    float32 elsewhere; ``torch.bfloat16`` for bfloat16 autocast on a CPU, chapter 16).
    """
    import torch
    from torch.utils.data import DataLoader, Dataset

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"train_one_cycle(model): expected a torch.nn.Module, got {type(model).__name__}")
    for name, data in (("train_set", train_set), ("val_set", val_set)):
        if data is not None and not (isinstance(data, Dataset) or hasattr(data, "__getitem__")):
            raise TypeError(f"train_one_cycle({name}): expected a dataset of (clip, label) pairs, "
                            f"got {type(data).__name__}")
    if len(train_set) == 0:
        raise ValueError("train_one_cycle(train_set): the dataset is empty")
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
            raise ValueError(f"train_one_cycle({name}): expected a positive int, got {value!r}")
    if not isinstance(lr, numbers.Real) or not lr > 0:
        raise ValueError(f"train_one_cycle(lr): expected a positive number, got {lr!r}")
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    val_loader = DataLoader(val_set, batch_size=100) if val_set is not None else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    return fit(model, loader, val_loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler,
               scheduler_step="batch", device=device, amp=amp, max_grad_norm=max_grad_norm, progress=progress)
