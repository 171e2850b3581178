"""The course training loop: :func:`fit`."""
from __future__ import annotations

import math
import numbers
import os
import time
from pathlib import Path
from typing import Callable, Sequence

from .checkpoint import load_checkpoint, save_checkpoint
from .early_stopping import EarlyStopping
from .history import History
from .metrics import count_correct, split_batch
from .precision import Precision, choose_precision

_REFRESH_SECONDS = 0.5  # how often the progress bar's running loss/accuracy are read back from the device


def _check_fit_args(model, train_loader, val_loader, epochs, optimizer, scheduler, loss_fn, checkpoint, resume,
                    early_stopping, scheduler_step, max_grad_norm, callbacks):
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"fit(model): expected a torch.nn.Module, got {type(model).__name__}")
    for name, loader in (("train_loader", train_loader), ("val_loader", val_loader)):
        if loader is not None and not hasattr(loader, "__iter__"):
            raise TypeError(f"fit({name}): expected a DataLoader (an iterable of (inputs, targets) batches), "
                            f"got {type(loader).__name__}")
    if train_loader is None:
        raise TypeError("fit(train_loader): expected a DataLoader, got None")
    if not isinstance(epochs, numbers.Integral) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"fit(epochs={epochs!r}): expected an int >= 1")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"fit(optimizer): expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    if scheduler is not None and not (hasattr(scheduler, "step") and hasattr(scheduler, "state_dict")):
        raise TypeError(f"fit(scheduler): expected a torch LR scheduler, got {type(scheduler).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"fit(loss_fn): expected a callable loss(outputs, targets), got {type(loss_fn).__name__}")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"fit(scheduler_step={scheduler_step!r}): expected 'epoch' or 'batch'")
    if scheduler_step == "batch" and isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise ValueError("fit(scheduler_step='batch'): ReduceLROnPlateau needs a metric, use scheduler_step='epoch'")
    if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
        raise TypeError(f"fit(checkpoint): expected a file path or None, got {type(checkpoint).__name__}")
    if not isinstance(resume, bool):
        raise TypeError(f"fit(resume={resume!r}): expected True or False")
    if resume and checkpoint is None:
        raise ValueError("fit(resume=True): resuming needs checkpoint=<path of the run's checkpoint file>")
    if early_stopping is not None:
        if not isinstance(early_stopping, EarlyStopping):
            raise TypeError(f"fit(early_stopping): expected an EarlyStopping, got {type(early_stopping).__name__}")
        if early_stopping.monitor.startswith("val_") and val_loader is None:
            raise ValueError(f"fit(early_stopping): monitoring {early_stopping.monitor!r} needs a val_loader")
    if max_grad_norm is not None and (not isinstance(max_grad_norm, numbers.Real) or isinstance(max_grad_norm, bool)
                                      or not math.isfinite(max_grad_norm) or max_grad_norm <= 0):
        raise ValueError(f"fit(max_grad_norm={max_grad_norm!r}): expected a positive finite number or None")
    if not isinstance(callbacks, Sequence) or not all(callable(cb) for cb in callbacks):
        raise TypeError("fit(callbacks): expected a list of functions cb(history, model)")


def _to_device(value, device):
    import torch

    if torch.is_tensor(value):
        return value.to(device, non_blocking=True)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, device) for v in value)
    return value


def _batch_size(targets) -> int:
    import torch

    if torch.is_tensor(targets) and targets.ndim > 0:
        return int(targets.shape[0])
    raise TypeError(f"fit: targets must be a tensor with a batch dimension (N, ...), got {type(targets).__name__}")


class _Running:
    """Loss and correct-prediction sums kept on the device (reading them back every batch would stall a GPU)."""

    def __init__(self, device):
        import torch

        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.samples = 0
        self.counted = 0  # samples that had an accuracy (class targets)
        self.items = 0  # predictions compared (N for classification, N*... for dense labels)

    def add(self, loss, outputs, targets):
        n = _batch_size(targets)
        self.loss += loss.detach().float() * n
        self.samples += n
        correct = count_correct(outputs, targets)
        if correct is not None:
            self.correct += correct
            self.counted += n
            self.items += targets.numel()

    def values(self) -> tuple[float, float]:
        loss = self.loss.item() / self.samples if self.samples else float("nan")
        acc = self.correct.item() / self.items if self.items else float("nan")
        return loss, acc


def progress_bar(iterable, *, enabled: bool, **kwargs):
    """A ``tqdm.auto`` bar over ``iterable`` (a DataLoader or any iterable) that iterates it exactly once.

    Iterate the returned bar once. ``tqdm.auto.tqdm`` inherits ``tqdm.asyncio``, whose constructor already calls
    ``iter(iterable)``, and the ``for`` loop calls it a second time: for a DataLoader with ``num_workers > 0`` each
    ``iter`` starts its own workers, and the first set decodes ``num_workers * prefetch_factor`` batches that nobody
    reads. Handing tqdm one iterator (and the length separately) leaves a single pass. ``iterable=None``: a bar
    moved by hand with ``update``.
    """
    from tqdm.auto import tqdm

    if iterable is None:
        return tqdm(disable=not enabled, **kwargs)
    if "total" not in kwargs:
        try:
            kwargs["total"] = len(iterable)
        except TypeError:  # an IterableDataset's loader, a generator: no length
            kwargs["total"] = None
    return tqdm(iter(iterable), disable=not enabled, **kwargs)


def _train_epoch(model, loader, *, optimizer, loss_fn, device, precision: Precision, scaler, scheduler,
                 scheduler_step, max_grad_norm, progress, desc) -> tuple[float, float]:
    import torch

    model.train()
    running = _Running(device)
    last_refresh = time.monotonic()
    bar = progress_bar(loader, enabled=progress, desc=desc, leave=False, unit="batch")
    try:
        for batch in bar:
            inputs, targets = split_batch(batch, "fit(train_loader)")
            inputs, targets = _to_device(inputs, device), _to_device(targets, device)
            with precision.autocast():
                outputs = model(inputs)
                loss = loss_fn(outputs, targets)
            optimizer.zero_grad(set_to_none=True)
            if scaler is not None:  # float16: scale the loss up so small gradients do not underflow
                scaler.scale(loss).backward()
                if max_grad_norm is not None:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
                optimizer.step()
            if scheduler is not None and scheduler_step == "batch":
                scheduler.step()
            running.add(loss, outputs, targets)
            if progress and time.monotonic() - last_refresh > _REFRESH_SECONDS:
                last_refresh = time.monotonic()
                loss_value, acc_value = running.values()
                bar.set_postfix(loss=f"{loss_value:.4f}", acc=f"{acc_value:.3f}", refresh=False)
    finally:
        bar.close()
    if running.samples == 0:
        raise ValueError("fit(train_loader): the loader yielded no batches")
    return running.values()


def validate(model, loader, loss_fn, *, device, precision: Precision | None = None, progress: bool = False,
             desc: str = "validation") -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader`` (eval mode, no gradients). Accuracy is NaN for non-class
    targets. ``loader`` yields (inputs (N, ...), targets (N, ...)) batches."""
    import torch

    precision = precision or choose_precision(device)
    model.eval()
    running = _Running(device)
    with torch.no_grad():
        bar = progress_bar(loader, enabled=progress, desc=desc, leave=False, unit="batch")
        try:
            for batch in bar:
                inputs, targets = split_batch(batch, "fit(val_loader)")
                inputs, targets = _to_device(inputs, device), _to_device(targets, device)
                with precision.autocast():
                    outputs = model(inputs)
                    loss = loss_fn(outputs, targets)
                running.add(loss, outputs, targets)
        finally:
            bar.close()
    if running.samples == 0:
        raise ValueError("fit(val_loader): the loader yielded no batches")
    return running.values()


def _resolve_device(device):
    import torch

    from ..config import device as default_device

    if device is None:
        return default_device()
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"fit(device): expected a device name such as 'cpu' or 'cuda', got {type(device).__name__}")
    return default_device(prefer=device)


def _resume(path: Path, *, model, optimizer, scheduler, scaler, early_stopping, train_loader) -> tuple[int, History]:
    import warnings

    state = load_checkpoint(path, model, optimizer, restore_rng=True, loader=train_loader)
    if scheduler is not None:
        if state["scheduler"] is None:
            raise ValueError(f"fit(resume=True): {path} was saved without a scheduler, but a scheduler was given")
        scheduler.load_state_dict(state["scheduler"])
    elif state["scheduler"] is not None:
        warnings.warn(f"{path} holds a scheduler state, but fit(scheduler=None): the learning rate will not follow it")
    if scaler is not None and state["scaler"] is not None:
        scaler.load_state_dict(state["scaler"])
    extra = state["extra"]
    if early_stopping is not None and extra.get("early_stopping") is not None:
        early_stopping.load_state_dict(extra["early_stopping"])
    return state["epoch"], History.from_state_dict(extra.get("history", {"records": []}))


def fit(model, train_loader, val_loader=None, *, epochs: int, optimizer, scheduler=None,
        loss_fn: Callable | None = None, device=None, amp=None, checkpoint=None, resume: bool = False,
        early_stopping: EarlyStopping | None = None, progress: bool = True, scheduler_step: str = "epoch",
        max_grad_norm: float | None = None, callbacks: Sequence[Callable] = ()) -> History:
    """Train ``model`` for ``epochs`` epochs and return its :class:`History`.

    - ``train_loader`` / ``val_loader`` yield ``(inputs, targets)``: inputs (N, ...) for the model, targets (N,)
      class indices for the default ``loss_fn=nn.CrossEntropyLoss()`` (the model returns logits (N, K)). Any loss
      that averages over the batch works; accuracy is recorded only for class-index targets (NaN otherwise).
    - ``optimizer`` over the model's parameters; ``scheduler`` a torch LR scheduler stepped after every epoch
      (``scheduler_step="epoch"``, ReduceLROnPlateau gets the validation loss) or every batch (``"batch"``).
    - ``device``: default :func:`course.config.device`. ``amp``: mixed precision, see
      :func:`course.train.precision.choose_precision` (None: on for CUDA — bfloat16, or float16 with a GradScaler —
      off on CPU).
    - ``checkpoint``: a file path written (atomically) after every epoch; with ``resume=True`` training continues
      from it (model, optimizer, scheduler, scaler, RNG and loader-shuffling states, history) up to ``epochs`` in
      total; if the file does not exist yet, training starts from scratch. On CPU the resumed run ends with exactly
      the weights and metrics of an uninterrupted one. Ctrl-C leaves the last finished epoch's checkpoint intact.
    - ``early_stopping``: an :class:`EarlyStopping` checked after every epoch.
    - ``max_grad_norm``: clip the gradient norm (useful for RNNs). ``callbacks``: functions ``cb(history, model)``
      called after every epoch, once its checkpoint is written (a callback that draws random numbers makes a resumed
      run differ from an uninterrupted one).
    - ``progress``: tqdm bars for epochs and batches, with running loss and accuracy.
    """
    import torch

    if loss_fn is None:
        loss_fn = torch.nn.CrossEntropyLoss()
    _check_fit_args(model, train_loader, val_loader, epochs, optimizer, scheduler, loss_fn, checkpoint, resume,
                    early_stopping, scheduler_step, max_grad_norm, callbacks)
    if not isinstance(progress, bool):
        raise TypeError(f"fit(progress={progress!r}): expected True or False")
    device = _resolve_device(device)
    precision = choose_precision(device, amp)
    model.to(device)
    scaler = precision.make_scaler()
    path = Path(checkpoint) if checkpoint is not None else None
    history, start_epoch = History(), 0
    saved_epoch = None  # the epoch the checkpoint file holds, for messages
    if resume:
        if path.exists():
            start_epoch, history = _resume(path, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                                           early_stopping=early_stopping, train_loader=train_loader)
            saved_epoch = start_epoch
            if progress:
                print(f"resumed from {path}: {start_epoch} of {epochs} epochs already done")
        elif progress:
            print(f"no checkpoint at {path} yet: starting from scratch")
    is_plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    epoch_bar = progress_bar(None, enabled=progress, total=epochs, initial=min(start_epoch, epochs), desc="epochs",
                     unit="epoch")
    epoch = start_epoch
    in_epoch = False  # for messages: inside an epoch, or in between (checkpoint, callbacks)

    def checkpoint_note() -> str:
        if path is None:
            return "pass checkpoint=... to be able to resume an interrupted run"
        if saved_epoch is None:
            return f"no checkpoint written to {path} yet"
        return f"{path} holds epoch {saved_epoch}; run again with resume=True to continue from there"

    try:
        while epoch < epochs and not history.stopped_early:
            in_epoch = True
            started = time.perf_counter()
            lr = optimizer.param_groups[0]["lr"]
            train_loss, train_acc = _train_epoch(
                model, train_loader, optimizer=optimizer, loss_fn=loss_fn, device=device, precision=precision,
                scaler=scaler, scheduler=scheduler, scheduler_step=scheduler_step, max_grad_norm=max_grad_norm,
                progress=progress, desc=f"epoch {epoch + 1}/{epochs}")
            if not math.isfinite(train_loss):
                raise FloatingPointError(
                    f"fit: the training loss became {train_loss} in epoch {epoch + 1}; try a smaller learning rate "
                    f"(now {lr:g}) or max_grad_norm=1.0; {checkpoint_note()}")
            val_loss = val_acc = float("nan")
            if val_loader is not None:
                val_loss, val_acc = validate(model, val_loader, loss_fn, device=device, precision=precision,
                                             progress=progress, desc=f"validate {epoch + 1}/{epochs}")
                if not math.isfinite(val_loss):
                    raise FloatingPointError(
                        f"fit: the validation loss became {val_loss} at epoch {epoch + 1} while the training loss is "
                        f"finite ({train_loss:.4g}); look for NaN or infinite values in the validation inputs, a "
                        f"layer that differs in eval mode (batch-norm statistics), or float16 overflow (try amp=False)"
                        f"; a smaller learning rate (now {lr:g}) can help too; {checkpoint_note()}")
            if scheduler is not None and scheduler_step == "epoch":
                scheduler.step(val_loss if val_loader is not None else train_loss) if is_plateau else scheduler.step()
            history.append({"train_loss": train_loss, "train_acc": train_acc, "val_loss": val_loss,
                            "val_acc": val_acc, "lr": lr, "seconds": time.perf_counter() - started})
            epoch += 1
            in_epoch = False
            if early_stopping is not None and early_stopping.update(history.last, model):
                history.stopped_early = True
            if path is not None:
                save_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                                epoch=epoch, loader=train_loader,
                                extra={"history": history.state_dict(),
                                       "early_stopping": early_stopping.state_dict() if early_stopping else None})
                saved_epoch = epoch
            epoch_bar.update(1)
            epoch_bar.set_postfix({k: f"{v:.4g}" for k, v in history.last.items()
                                   if k in ("train_loss", "train_acc", "val_loss", "val_acc") and not math.isnan(v)})
            for cb in callbacks:
                cb(history, model)
    except KeyboardInterrupt:
        when = f"during epoch {epoch + 1}" if in_epoch else f"after epoch {epoch}"
        print(f"\ntraining interrupted {when}: {checkpoint_note()}")
        raise
    finally:
        epoch_bar.close()
    if history.stopped_early and early_stopping is not None:
        restored = early_stopping.restore(model)
        if progress:
            print(f"early stopping: no {early_stopping.monitor} improvement for {early_stopping.patience} epochs; "
                  f"best {early_stopping.best:.4g} at epoch {early_stopping.best_epoch}"
                  + (" (its weights restored)" if restored else ""))
    return history
