"""course.train.regularization / experiments / splits: penalties by hand, the runner, the summary, split pitfalls."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course.train import (TensorSplit, format_runs_summary, grouped_copies, l1_penalty, l2_penalty,
                          last_fraction_split, log_uniform, noisy_digits, penalized_weights, run_seeds,
                          summarize_runs, train_classifier, ucf101_group, weight_sparsity)


def _linear():
    lin = nn.Linear(2, 2)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0], [0.0, 3.0]]))
        lin.bias.fill_(10.0)
    return lin


def test_penalties_by_hand_skip_biases():
    lin = _linear()
    assert float(l1_penalty(lin).detach()) == pytest.approx(6.0)
    assert float(l2_penalty(lin).detach()) == pytest.approx(14.0)
    assert len(penalized_weights(lin)) == 1
    l1_penalty(lin).backward()
    assert torch.equal(lin.weight.grad, torch.tensor([[1.0, -1.0], [0.0, 1.0]]))
    assert weight_sparsity(lin, threshold=0.5) == pytest.approx(0.25)


def test_penalty_bad_input():
    with pytest.raises(TypeError, match="model"):
        l1_penalty("model")
    with pytest.raises(ValueError, match="threshold"):
        weight_sparsity(_linear(), threshold=0)
    with pytest.raises(ValueError, match="no weight"):
        weight_sparsity(nn.BatchNorm1d(3))


def test_noisy_digits_flips_the_asked_fraction():
    clean = noisy_digits(400, label_noise=0.0, n_val=100)
    noisy = noisy_digits(400, label_noise=0.25, n_val=100)
    assert clean.x_train.shape == (400, 1, 8, 8) and clean.x_val.shape == (100, 1, 8, 8)
    assert torch.equal(clean.x_train, noisy.x_train) and torch.equal(clean.y_val, noisy.y_val)
    wrong = (clean.y_train != noisy.y_train).float().mean()
    assert 0.18 < wrong < 0.32
    with pytest.raises(ValueError, match="label_noise"):
        noisy_digits(100, label_noise=0.95)
    with pytest.raises(ValueError, match="1797"):
        noisy_digits(1500, n_val=600)
    with pytest.raises(ValueError, match="n_train"):
        noisy_digits(5)


def _tiny_split():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 6, generator=g)
    y = (x[:, 0] > 0).long()
    return TensorSplit(x[:80], y[:80], x[80:], y[80:])


def test_train_classifier_learns_and_is_repeatable():
    data = _tiny_split()
    make = lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))  # noqa: E731
    a = train_classifier(make, data, epochs=20, lr=1e-2, seed=3)
    b = train_classifier(make, data, epochs=20, lr=1e-2, seed=3)
    assert a["val_acc"] > 0.85 and a["val_acc"] == b["val_acc"]
    assert a["gap"] == pytest.approx(a["train_acc"] - a["val_acc"])
    assert a["history"][-1]["train_loss"] < a["history"][0]["train_loss"]
    for schedule in ("step", "warmup_cosine", "one_cycle"):
        r = train_classifier(make, data, epochs=4, lr=1e-2, schedule=schedule)
        assert r["history"][-1]["lr"] < 1e-2 + 1e-12
    stopped = train_classifier(make, data, epochs=200, lr=1e-2, patience=2)
    assert stopped["epochs_run"] < 200
    best = max(r["val_acc"] for r in stopped["history"])
    assert stopped["val_acc"] == pytest.approx(best)             # best weights restored


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=0), ValueError, "epochs"),
    (dict(optimizer="rmsprop"), ValueError, "optimizer"),
    (dict(schedule="cyclic"), ValueError, "schedule"),
    (dict(l1=-1.0), ValueError, "l1"),
    (dict(augment=3), TypeError, "augment"),
    (dict(data=(1, 2)), TypeError, "data"),
    (dict(make_model=None), TypeError, "make_model"),
])
def test_train_classifier_bad_input(kwargs, error, match):
    args = dict(make_model=lambda: nn.Linear(6, 2), data=_tiny_split(), epochs=1) | kwargs
    with pytest.raises(error, match=match):
        train_classifier(**args)


def test_run_seeds_and_summary_by_hand():
    runs = run_seeds(lambda s: {"val_acc": 0.5 + 0.1 * s, "gap": 0.0}, [0, 1, 2], progress=False)
    rows = summarize_runs({"a": runs, "b": runs[:1]})
    assert rows[0]["val_acc_mean"] == pytest.approx(0.6) and rows[0]["val_acc_std"] == pytest.approx(0.1)
    assert rows[1]["n"] == 1 and rows[1]["val_acc_std"] == 0.0
    text = format_runs_summary(rows)
    assert "0.600 +- 0.100" in text and text.splitlines()[0].startswith("variant")
    with pytest.raises(ValueError, match="seeds"):
        run_seeds(lambda s: {}, [])
    with pytest.raises(TypeError, match="run"):
        run_seeds(3, [0])
    with pytest.raises(KeyError, match="gap"):
        summarize_runs({"a": [{"val_acc": 1.0}]})
    with pytest.raises(ValueError, match="runs"):
        summarize_runs({})


def test_log_uniform_covers_decades_evenly():
    x = log_uniform(np.random.default_rng(0), 1e-4, 1e-0, 40000)
    assert x.min() >= 1e-4 and x.max() <= 1.0
    counts = np.histogram(np.log10(x), bins=4, range=(-4, 0))[0]
    assert np.all(np.abs(counts / 40000 - 0.25) < 0.01)
    with pytest.raises(ValueError, match="low"):
        log_uniform(np.random.default_rng(0), 1.0, 0.1, 3)
    with pytest.raises(TypeError, match="rng"):
        log_uniform(0, 1e-3, 1e-1, 3)
    with pytest.raises(ValueError, match="size"):
        log_uniform(np.random.default_rng(0), 1e-3, 1e-1, 0)


def test_last_fraction_split_is_keras_validation_split():
    train, val = last_fraction_split(10, 0.2)
    assert train.tolist() == list(range(8)) and val.tolist() == [8, 9]
    with pytest.raises(ValueError, match="val_fraction"):
        last_fraction_split(10, 1.0)
    with pytest.raises(ValueError, match="n="):
        last_fraction_split(1, 0.5)


def test_grouped_copies_shapes_and_groups():
    images = np.arange(2 * 4 * 4, dtype=np.float32).reshape(2, 4, 4)
    x, y, g = grouped_copies(images, np.array([3, 7]), copies=3, shift=0, noise=0.0)
    assert x.shape == (6, 4, 4) and y.tolist() == [3, 3, 3, 7, 7, 7] and g.tolist() == [0, 0, 0, 1, 1, 1]
    assert np.array_equal(x[4], images[1])
    with pytest.raises(ValueError, match="images"):
        grouped_copies(np.zeros((2, 4)), np.zeros(2))
    with pytest.raises(ValueError, match="labels"):
        grouped_copies(images, np.zeros(3))
    with pytest.raises(ValueError, match="copies"):
        grouped_copies(images, np.zeros(2), copies=0)


def test_ucf101_group():
    assert ucf101_group("v_ApplyEyeMakeup_g08_c01.avi") == 8
    assert ucf101_group("UCF-101/YoYo/v_YoYo_g25_c05.avi") == 25
    with pytest.raises(ValueError, match="UCF101 name"):
        ucf101_group("clip.mp4")
    with pytest.raises(TypeError, match="name"):
        ucf101_group(8)
