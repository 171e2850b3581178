"""Predictions and metrics: accuracy from logits, :func:`evaluate`, scikit-learn's report and confusion matrix, and
chapter 06's time-reversal metrics (:func:`within_pair_accuracy`, :func:`pair_accuracy`, :func:`pair_confusions`)."""
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


def check_finite_logits(logits, owner: str, where: str = "") -> None:
    """Raise a ValueError when ``logits`` (N, K) hold NaN or infinity: their argmax is a meaningless class (NaN
    compares as the largest value), so an accuracy computed from them would look like a result. ``where`` ends the
    message (e.g. " in batch 3")."""
    import torch

    finite = torch.isfinite(logits)
    if not bool(finite.all()):
        rows = int((~finite).reshape(finite.shape[0], -1).any(dim=1).sum()) if finite.ndim else 1
        raise ValueError(f"{owner}: the model returned NaN or infinite logits for {rows} of {len(logits)} "
                         f"examples{where}, so no prediction can be read from them; check the inputs for NaN/inf, "
                         "whether training diverged (a NaN training loss), and float16 overflow (evaluate in float32)")


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
                check_finite_logits(logits, "evaluate", where=f" in batch {len(preds)}")
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


def _class_indices(preds, labels, owner: str) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(preds.detach().cpu() if hasattr(preds, "detach") else preds)
    y = np.asarray(labels.detach().cpu() if hasattr(labels, "detach") else labels)
    if p.ndim != 1 or y.ndim != 1 or p.shape != y.shape:
        raise ValueError(f"{owner}(preds, labels): expected two 1-D arrays of class indices (N,) of the same length, "
                         f"got shapes {p.shape} and {y.shape}")
    if not (np.issubdtype(p.dtype, np.integer) and np.issubdtype(y.dtype, np.integer)):
        raise TypeError(f"{owner}(preds, labels): expected integer class indices, got {p.dtype} and {y.dtype}")
    return p, y


def pair_confusions(preds, labels, pairs) -> np.ndarray:
    """For each time-reversed pair (i, j): the 2x2 confusion matrix of the clips labelled i or j (P, 2, 2).

    ``preds``, ``labels``: integer class indices (N,). Row = true class (i, j), column = predicted class (i, j);
    predictions outside the pair are not counted.
    """
    p, y = _class_indices(preds, labels, "pair_confusions")
    out = np.zeros((len(pairs), 2, 2), dtype=np.int64)
    for k, pair in enumerate(pairs):
        for r, true in enumerate(pair):
            for c, guess in enumerate(pair):
                out[k, r, c] = np.sum((y == true) & (p == guess))
    return out


def within_pair_accuracy(preds, labels, pairs) -> float:
    """Among clips whose *pair* was predicted right, the fraction whose direction in time was right too.

    ``preds``, ``labels``: integer class indices (N,); ``pairs``: the time-reversed class pairs [(i, j), ...].
    Chance is 0.5: a model blind to frame order cannot do better on average. NaN when no pair was predicted right.
    """
    conf = pair_confusions(preds, labels, pairs)
    total = conf.sum()
    return float(np.trace(conf, axis1=1, axis2=2).sum() / total) if total else float("nan")


def pair_accuracy(preds, labels, pairs) -> float:
    """Fraction of clips whose predicted class is in the same time-reversed pair as the true class.

    ``preds``, ``labels``: integer class indices (N,); ``pairs``: [(i, j), ...].
    """
    p, y = _class_indices(preds, labels, "pair_accuracy")
    pair_of = {c: k for k, pair in enumerate(pairs) for c in pair}
    return float(np.mean([pair_of.get(int(a), -1) == pair_of.get(int(b), -2) for a, b in zip(p, y)]))
