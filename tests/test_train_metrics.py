"""course.train metrics: accuracy, evaluate, classification report, confusion matrix, History."""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course.train import History, accuracy, evaluate, plot_confusion_matrix, print_classification_report

matplotlib.use("Agg")


def test_accuracy_matches_a_count():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(50, 4, generator=g)
    labels = torch.randint(0, 4, (50,), generator=g)
    hits = sum(int(torch.argmax(row)) == int(lab) for row, lab in zip(logits, labels))
    assert accuracy(logits, labels) == pytest.approx(hits / 50)
    assert accuracy(np.eye(3), np.array([0, 1, 2])) == 1.0


@pytest.mark.parametrize("logits, labels, match", [
    (torch.zeros(4), torch.zeros(4, dtype=torch.long), "logits"),
    (torch.zeros(4, 3), torch.zeros(5, dtype=torch.long), "labels"),
    (torch.zeros(4, 3), torch.zeros(4), "labels"),
    (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), "empty"),
])
def test_accuracy_bad_input(logits, labels, match):
    with pytest.raises(ValueError, match=match):
        accuracy(logits, labels)


def test_evaluate_returns_argmax_predictions_and_restores_mode():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 4), nn.Dropout(0.5))
    x, y = torch.randn(37, 5), torch.randint(0, 4, (37,))
    model.train()
    preds, labels = evaluate(model, DataLoader(TensorDataset(x, y), batch_size=10))
    assert preds.dtype == np.int64 and labels.dtype == np.int64 and preds.shape == labels.shape == (37,)
    model.eval()
    expected = model(x).argmax(1).numpy()
    np.testing.assert_array_equal(preds, expected)
    np.testing.assert_array_equal(labels, y.numpy())
    model.train()
    evaluate(model, DataLoader(TensorDataset(x, y), batch_size=10))
    assert model.training


def test_evaluate_bad_input():
    with pytest.raises(TypeError, match="model"):
        evaluate("net", [])
    with pytest.raises(TypeError, match="loader"):
        evaluate(nn.Linear(2, 2), 5)
    with pytest.raises(ValueError, match="no batches"):
        evaluate(nn.Linear(2, 2), [])
    with pytest.raises(ValueError, match="logits"):
        evaluate(nn.Flatten(0), [(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long))])


def test_classification_report_prints_sklearn_report(capsys):
    labels = np.array([0, 0, 1, 1, 2, 2])
    preds = np.array([0, 1, 1, 1, 2, 0])
    print_classification_report(preds, labels, class_names=["cat", "dog", "fish"])
    out = capsys.readouterr().out
    for word in ("cat", "dog", "fish", "precision", "recall", "f1-score", "accuracy"):
        assert word in out
    # the recall of "dog" is 2/2; of "cat" 1/2
    dog = next(line for line in out.splitlines() if line.strip().startswith("dog")).split()
    assert float(dog[2]) == pytest.approx(1.0)


def test_confusion_matrix_counts():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    preds = np.where(rng.random(40) < 0.7, labels, rng.integers(0, 3, 40))
    display = plot_confusion_matrix(preds, labels, class_names=["a", "b", "c"])
    np.testing.assert_array_equal(display.confusion_matrix, confusion_matrix(labels, preds))
    manual = np.zeros((3, 3), int)
    for t, p in zip(labels, preds):
        manual[t, p] += 1
    np.testing.assert_array_equal(display.confusion_matrix, manual)
    normed = plot_confusion_matrix(preds, labels, normalize="true")
    np.testing.assert_allclose(normed.confusion_matrix.sum(1), 1.0)


@pytest.mark.parametrize("preds, labels, kwargs, match", [
    (np.array([0, 1]), np.array([0, 1, 1]), {}, "same length"),
    (np.array([0.5, 1.0]), np.array([0, 1]), {}, "preds"),
    (np.zeros((2, 2), int), np.zeros((2, 2), int), {}, "preds"),
    (np.array([0, 3]), np.array([0, 1]), {"class_names": ["a", "b"]}, "class_names"),
    (np.array([], int), np.array([], int), {}, "empty"),
])
def test_report_and_matrix_bad_input(preds, labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        print_classification_report(preds, labels, **kwargs)
    with pytest.raises(ValueError, match=match):
        plot_confusion_matrix(preds, labels, **kwargs)


def test_matrix_bad_normalize():
    with pytest.raises(ValueError, match="normalize"):
        plot_confusion_matrix(np.array([0, 1]), np.array([0, 1]), normalize="rows")


def record(**kw):
    base = {"train_loss": 1.0, "train_acc": 0.5, "val_loss": float("nan"), "val_acc": float("nan"), "lr": 0.1,
            "seconds": 1.0}
    return {**base, **kw}


def test_history_best_getitem_and_plot():
    h = History()
    for loss, acc in [(1.0, 0.4), (0.6, 0.7), (0.7, 0.7), (0.5, 0.6)]:
        h.append(record(val_loss=loss, val_acc=acc))
    assert h["epoch"] == [1, 2, 3, 4]
    assert h.best("val_loss")["epoch"] == 4
    assert h.best("val_acc")["epoch"] == 2, "ties go to the earliest epoch"
    assert h.best("val_loss", mode="max")["epoch"] == 1
    fig = h.plot(title="run")
    assert len(fig.axes) == 2
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), h["val_loss"])
    assert "4 epochs" in repr(h)
    again = History.from_state_dict(h.state_dict())
    assert again.records == h.records


def test_history_without_validation_plots_train_only_and_best_raises():
    h = History([])
    h.append(record())
    fig = h.plot()
    assert [len(ax.lines) for ax in fig.axes] == [1, 1]
    with pytest.raises(ValueError, match="no epoch has a measured val_acc"):
        h.best("val_acc")
    assert math.isnan(h.last["val_acc"])


def test_history_bad_input():
    with pytest.raises(KeyError, match="unknown metric"):
        History()["accuracy"]
    with pytest.raises(ValueError, match="missing keys"):
        History().append({"train_loss": 1.0})
    with pytest.raises(ValueError, match="nothing to plot"):
        History().plot()
    with pytest.raises(ValueError, match="no epoch"):
        History().last
    with pytest.raises(ValueError, match="mode"):
        h = History()
        h.append(record())
        h.best("train_loss", mode="lowest")
