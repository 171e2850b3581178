"""course.train.calibration: ECE by hand, reliability bins, temperature recovered from a known generating model."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course.train import TemperatureScaled, expected_calibration_error, fit_temperature, reliability_bins


def test_ece_of_an_overconfident_model_by_hand():
    # always 100% sure, right 7 times in 10: one bin, |0.7 - 1.0| = 0.3
    probs = np.tile([1.0, 0.0], (10, 1))
    labels = np.array([0] * 7 + [1] * 3)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3)


def test_ece_two_bins_by_hand():
    # 4 predictions at 0.6 (3 right) and 4 at 0.9 (2 right): (4 * |0.75 - 0.6| + 4 * |0.5 - 0.9|) / 8 = 0.275
    probs = np.array([[0.6, 0.4]] * 4 + [[0.1, 0.9]] * 4)
    labels = np.array([0, 0, 0, 1, 1, 1, 0, 0])
    bins = reliability_bins(probs, labels, num_bins=10)
    assert bins.counts.sum() == 8 and bins.counts[5] == 4 and bins.counts[8] == 4
    assert bins.accuracy[5] == pytest.approx(0.75) and bins.confidence[8] == pytest.approx(0.9)
    assert np.isnan(bins.accuracy[0])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.275)


def _sampled(temperature, n=20000, k=5, seed=0):
    """Labels drawn from softmax(z); the model reports temperature * z, so the right T is `temperature`."""
    g = torch.Generator().manual_seed(seed)
    z = 2 * torch.randn(n, k, generator=g)
    labels = torch.multinomial(torch.softmax(z, 1), 1, generator=g).squeeze(1)
    return temperature * z, labels


def test_calibrated_model_has_small_ece_and_temperature_one():
    logits, labels = _sampled(1.0)
    assert expected_calibration_error(torch.softmax(logits, 1), labels) < 0.02
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("t", [0.5, 3.0])
def test_temperature_is_recovered_and_ece_drops(t):
    logits, labels = _sampled(t)
    fitted = fit_temperature(logits, labels)
    assert fitted == pytest.approx(t, rel=0.05)
    before = expected_calibration_error(torch.softmax(logits, 1), labels)
    after = expected_calibration_error(torch.softmax(logits / fitted, 1), labels)
    assert after < before / 3 and after < 0.02


def test_temperature_scaled_keeps_the_argmax():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    scaled = TemperatureScaled(model, 2.5)
    x = torch.randn(10, 4)
    assert torch.allclose(scaled(x), model(x) / 2.5)
    assert torch.equal(scaled(x).argmax(1), model(x).argmax(1))


@pytest.mark.parametrize("probs, labels, match", [
    (np.ones(5), np.zeros(5, int), "probs"),
    (np.array([[0.5, 0.6]]), np.array([0]), "summing to 1"),
    (np.array([[0.5, 0.5]]), np.array([0.0]), "labels"),
    (np.array([[0.5, 0.5]]), np.array([2]), r"\[0, 2\)"),
])
def test_ece_bad_input(probs, labels, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(probs, labels)
    with pytest.raises(ValueError, match="num_bins"):
        reliability_bins(np.array([[0.5, 0.5]]), np.array([0]), num_bins=0)


def test_fit_temperature_and_wrapper_bad_input():
    with pytest.raises(ValueError, match="logits"):
        fit_temperature(torch.zeros(5), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="NaN"):
        fit_temperature(torch.full((2, 2), float("nan")), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="labels"):
        fit_temperature(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="model"):
        TemperatureScaled("m", 1.0)
    with pytest.raises(ValueError, match="temperature"):
        TemperatureScaled(nn.Identity(), 0.0)
