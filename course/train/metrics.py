"""Predictions and metrics: accuracy from logits, :func:`evaluate`, scikit-learn's report and confusion matrix."""
from __future__ import annotations

import numpy as np


def count_correct(outputs, targets):
    """Number of correct class predictions as a 0-dim tensor, or None when the outputs are not class scores.

    ``outputs`` (N, K, ...) logits and ``targets`` (N, ...) integer class indices: the prediction is the argmax over
    dim 1. Anything else (regression targets, soft labels) has no accuracy.
    """
    import torch

    if (not torch.is_tensor(outputs) or not torch.is_tensor(targets) or outputs.ndim != targets.ndim + 1
            or targets.dtype.is_floating_point or targets.dtype == torch.bool or outputs.shape[0] != targets.shape[0]):
        return None
    return (outputs.argmax(dim=1) == targets).sum()


def accuracy(logits, labels) -> float:
    """Fraction of rows of ``logits`` (N, K) whose argmax equals ``labels`` (N,) — a float in [0, 1]."""
    import torch

    logits = torch.as_tensor(logits)
    labels = torch.as_tensor(labels)
    if logits.ndim != 2:
        raise ValueError(f"accuracy(logits): expected 2 dims (N, K), got shape {tuple(logits.shape)}")
    if labels.ndim != 1 or labels.shape[0] != logits.shape[0] or labels.dtype.is_floating_point:
        raise ValueError(f"accuracy(labels): expected N={logits.shape[0]} integer class indices (N,), "
                         f"got shape {tuple(labels.shape)} dtype {labels.dtype}")
    if logits.shape[0] == 0:
        raise ValueError("accuracy(logits): empty batch (N=0)")
    return float((logits.argmax(dim=1) == labels).double().mean())


def split_batch(batch, where: str = "loader"):
    """``(inputs, targets)`` from a batch that is a 2-item tuple or list; a clear TypeError otherwise."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    what = f"a {type(batch).__name__}" + (f" of {len(batch)} items" if isinstance(batch, (tuple, list)) else "")
    raise TypeError(f"{where}: each batch must be a pair (inputs, targets), got {what}")


def model_device(model):
    """The device of the model's first parameter (or buffer); course.config.device() if it has neither."""
    from ..config import device

    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return device()


def evaluate(model, loader, device=None) -> tuple[np.ndarray, np.ndarray]:
    """Predict every batch of ``loader`` with ``model`` in eval mode, without gradients.

    ``loader`` yields ``(inputs, labels)`` with inputs (N, ...) and integer labels (N,); the model returns logits
    (N, K). Returns ``(predictions, labels)``, two int64 NumPy arrays of shape (number of samples,). ``device``:
    default the model's own device. The model's train/eval mode is restored afterwards.
    """
    import torch

    from .precision import choose_precision

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"evaluate(model): expected a torch.nn.Module, got {type(model).__name__}")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"evaluate(loader): expected an iterable of (inputs, labels) batches, got {type(loader).__name__}")
    device = model_device(model) if device is None else torch.device(device)
    model.to(device)
    precision = choose_precision(device)
    was_training = model.training
    model.eval()
    preds, labels = [], []
    try:
        with torch.no_grad():
            for batch in loader:
                inputs, targets = split_batch(batch, "evaluate(loader)")
                with precision.autocast():
                    logits = model(inputs.to(device, non_blocking=True))
                if logits.ndim != 2:
                    raise ValueError(f"evaluate: the model must return logits (N, K), got shape {tuple(logits.shape)}")
                preds.append(logits.argmax(dim=1).cpu())
                labels.append(torch.as_tensor(targets).reshape(-1).cpu())
    finally:
        model.train(was_training)
    if not preds:
        raise ValueError("evaluate(loader): the loader yielded no batches")
    return torch.cat(preds).numpy().astype(np.int64), torch.cat(labels).numpy().astype(np.int64)


def _pair(fn: str, preds, labels) -> tuple[np.ndarray, np.ndarray]:
    preds, labels = np.asarray(preds), np.asarray(labels)
    for name, arr in (("preds", preds), ("labels", labels)):
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{fn}({name}): expected a 1-D array of integer class indices, "
                             f"got shape {arr.shape} dtype {arr.dtype}")
    if preds.shape != labels.shape:
        raise ValueError(f"{fn}: preds and labels must have the same length, got {len(preds)} and {len(labels)}")
    if len(preds) == 0:
        raise ValueError(f"{fn}: preds and labels are empty")
    return preds, labels


def _names(fn: str, class_names, preds, labels):
    if class_names is None:
        return None, None
    class_names = [str(c) for c in class_names]
    top = int(max(preds.max(), labels.max()))
    if top >= len(class_names) or min(preds.min(), labels.min()) < 0:
        raise ValueError(f"{fn}(class_names): {len(class_names)} names, but the classes go from "
                         f"{int(min(preds.min(), labels.min()))} to {top}")
    return class_names, list(range(len(class_names)))


def print_classification_report(preds, labels, class_names=None, *, digits: int = 3) -> None:
    """Print scikit-learn's ``classification_report``: precision, recall, F1 and support per class.

    ``preds`` and ``labels`` are integer class indices of shape (N,) (as returned by :func:`evaluate`);
    ``class_names[i]`` names class ``i``.
    """
    from sklearn.metrics import classification_report

    preds, labels = _pair("print_classification_report", preds, labels)
    names, ids = _names("print_classification_report", class_names, preds, labels)
    print(classification_report(labels, preds, labels=ids, target_names=names, digits=digits, zero_division=0))


def plot_confusion_matrix(preds, labels, class_names=None, ax=None, *, normalize: str | None = None,
                          title: str | None = None):
    """Plot the confusion matrix (rows: true class, columns: predicted) with ``ConfusionMatrixDisplay``.

    ``preds``/``labels`` integer class indices (N,); ``normalize`` is None (counts), ``"true"`` (each row sums to 1),
    ``"pred"`` or ``"all"``, as in scikit-learn. Returns the ``ConfusionMatrixDisplay``.
    """
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    preds, labels = _pair("plot_confusion_matrix", preds, labels)
    names, ids = _names("plot_confusion_matrix", class_names, preds, labels)
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"plot_confusion_matrix(normalize={normalize!r}): expected None, 'true', 'pred' or 'all'")
    if ax is None:
        n = len(names) if names else len(np.union1d(preds, labels))
        _, ax = plt.subplots(figsize=(min(12, 2.5 + 0.45 * n), min(11, 2 + 0.45 * n)))
    display = ConfusionMatrixDisplay.from_predictions(
        labels, preds, labels=ids, display_labels=names, normalize=normalize, ax=ax, colorbar=False,
        values_format=".2f" if normalize else "d", xticks_rotation="vertical" if names and len(names) > 8 else "horizontal")
    if title:
        ax.set_title(title)
    return display
