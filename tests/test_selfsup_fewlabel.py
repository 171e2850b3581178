"""course.selfsup.fewlabel: label subsets, probe vs fine-tune, choosing on validation, the summary table."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course.selfsup.fewlabel import (FewLabelData, choose_lr, embed, few_label_runs, format_few_label_table,
                                     label_fraction_indices, summarize_few_label, train_few_label)


class MeanColour(nn.Module):
    """A fixed 'pretrained' encoder: the mean of each channel, (N, 3, T, H, W) -> (N, 3)."""

    embed_dim = 3

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return x.mean(dim=(2, 3, 4)) * self.scale


def _colour_data(n=60, seed=0):
    """Clips whose class is their dominant colour (3 classes): easy from MeanColour's embedding."""
    g = torch.Generator().manual_seed(seed)

    def split(m):
        y = torch.arange(m) % 3
        x = torch.rand(m, 3, 2, 4, 4, generator=g) * 0.5
        x[torch.arange(m), y] += 0.5
        return x, y

    return FewLabelData(*split(n), *split(30), *split(30))


def test_label_fraction_indices_are_stratified_reproducible_and_at_least_one_per_class():
    labels = np.repeat(np.arange(4), 25)
    keep = label_fraction_indices(labels, 0.2, seed=1)
    assert len(keep) == 20 and len(set(keep)) == 20
    assert np.bincount(labels[keep]).tolist() == [5, 5, 5, 5]
    assert np.array_equal(keep, label_fraction_indices(labels, 0.2, seed=1))
    assert not np.array_equal(keep, label_fraction_indices(labels, 0.2, seed=2))
    tiny = label_fraction_indices(labels, 0.01, seed=0)
    assert np.bincount(labels[tiny]).tolist() == [1, 1, 1, 1]
    assert len(label_fraction_indices(torch.as_tensor(labels), 1.0)) == 100


def test_probe_trains_only_the_head_and_finetune_changes_the_encoder():
    data = _colour_data()
    encoder = MeanColour()
    probe = train_few_label(encoder, data, fraction=1.0, mode="probe", epochs=30, lr=0.1, seed=0)
    assert probe["labels"] == 60 and probe["mode"] == "probe"
    assert probe["val_acc"] > 0.9 and probe["test_acc"] > 0.9       # the embedding separates the colours
    assert torch.equal(encoder.scale, torch.ones(3))                  # the caller's encoder is never modified
    finetuned = train_few_label(encoder, data, fraction=0.5, mode="finetune", epochs=5, lr=0.05, seed=0)
    assert finetuned["labels"] == 30 and 0 <= finetuned["test_acc"] <= 1
    assert torch.equal(encoder.scale, torch.ones(3))


def test_train_few_label_is_reproducible_and_accepts_factories():
    data = _colour_data()
    a = train_few_label(MeanColour, data, fraction=0.5, mode="finetune", epochs=3, lr=0.05, seed=4)
    b = train_few_label(MeanColour, data, fraction=0.5, mode="finetune", epochs=3, lr=0.05, seed=4)
    assert a["val_acc"] == b["val_acc"] and a["test_acc"] == b["test_acc"]


def test_choose_lr_uses_validation():
    data = _colour_data()
    best, scores = choose_lr(MeanColour(), data, mode="probe", lrs=[1e-6, 0.1], fraction=1.0, epochs=20)
    assert set(scores) == {1e-6, 0.1} and best == max(scores, key=scores.get) and best == 0.1


def test_runs_summary_and_table():
    data = _colour_data()
    runs = few_label_runs({"colour": MeanColour(), "again": MeanColour}, data, fractions=[0.1, 1.0],
                          modes=["probe"], seeds=[0, 1], epochs=2, progress=False)
    assert len(runs) == 2 * 2 * 2 and {r["encoder"] for r in runs} == {"colour", "again"}
    rows = summarize_few_label(runs)
    assert len(rows) == 4 and all(r["n"] == 2 for r in rows)
    row = rows[0]
    values = [r["test_acc"] for r in runs if r["encoder"] == row["encoder"] and r["fraction"] == row["fraction"]]
    assert row["mean"] == pytest.approx(np.mean(values)) and row["std"] == pytest.approx(np.std(values, ddof=1))
    assert row["min"] == min(values) and row["max"] == max(values)
    table = format_few_label_table(rows)
    assert "colour (probe)" in table and "10% (6 clips)" in table and "100% (60 clips)" in table


def test_embed_shape_and_mode():
    enc = nn.Sequential(nn.Flatten(), nn.Linear(3 * 2 * 4 * 4, 5), nn.Dropout(0.5))
    enc.train()
    x = torch.rand(7, 3, 2, 4, 4)
    out = embed(enc, x, batch_size=3)
    assert out.shape == (7, 5) and torch.allclose(out, embed(enc, x), atol=1e-6)   # eval mode: no dropout noise
    assert enc.training


def test_bad_inputs():
    data = _colour_data()
    with pytest.raises(ValueError, match="label_fraction_indices\\(fraction\\)"):
        label_fraction_indices([0, 1], 0.0)
    with pytest.raises(ValueError, match="label_fraction_indices\\(labels\\)"):
        label_fraction_indices([[0, 1]], 0.5)
    with pytest.raises(ValueError, match="train_few_label\\(mode\\)"):
        train_few_label(MeanColour(), data, fraction=0.5, mode="frozen")
    with pytest.raises(TypeError, match="embed_dim"):
        train_few_label(nn.Linear(2, 2), data, fraction=0.5)
    with pytest.raises(TypeError, match="train_few_label\\(encoder\\)"):
        train_few_label("resnet", data, fraction=0.5)
    with pytest.raises(ValueError, match="train_few_label\\(lr\\)"):
        train_few_label(MeanColour(), data, fraction=0.5, lr=-1)
    with pytest.raises(TypeError, match="train_few_label\\(data\\)"):
        train_few_label(MeanColour(), (data.x_train, data.y_train), fraction=0.5)
    with pytest.raises(ValueError, match="FewLabelData\\(y_val\\)"):
        FewLabelData(data.x_train, data.y_train, data.x_val, data.y_val[:3], data.x_test, data.y_test)
    with pytest.raises(ValueError, match="FewLabelData\\(x_train\\)"):
        FewLabelData(data.x_train[:, :, 0], data.y_train, data.x_val, data.y_val, data.x_test, data.y_test)
    with pytest.raises(ValueError, match="choose_lr\\(lrs\\)"):
        choose_lr(MeanColour(), data, mode="probe", lrs=[])
    with pytest.raises(ValueError, match="few_label_runs\\(modes\\)"):
        few_label_runs({"a": MeanColour()}, data, modes=["frozen"])
    with pytest.raises(ValueError, match="summarize_few_label"):
        summarize_few_label([])
