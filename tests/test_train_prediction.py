"""Tests for chapter 17's prediction and enhancement code: course.train.prediction, course.train.enhancement and
course.models.denoise."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course.data import MovingDigits
from course.models import ConvLSTMForecaster, VideoDenoiser
from course.train.enhancement import add_noise, denoise, denoising_psnr, train_denoiser
from course.train.prediction import (copy_last_frame, horizon_curves, mean_frame, per_horizon_mse, predict_frames,
                                     prediction_loss, prediction_tensors, psnr, sharpness, train_forecaster)


def _clips(n=4, t=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, t, 6, 6, generator=g)


def test_baselines_shapes_and_values():
    past = _clips()
    last = copy_last_frame(past, 3)
    assert last.shape == (4, 1, 3, 6, 6)
    for k in range(3):
        torch.testing.assert_close(last[:, :, k], past[:, :, -1])
    mean = mean_frame(past, 2)
    torch.testing.assert_close(mean[:, :, 1], past.mean(dim=2))


def test_per_horizon_mse_is_per_step():
    target = torch.zeros(2, 1, 3, 4, 4)
    predicted = target.clone()
    predicted[:, :, 1] = 0.5
    predicted[:, :, 2] = 1.0
    np.testing.assert_allclose(per_horizon_mse(predicted, target), [0.0, 0.25, 1.0])


def test_psnr_values():
    assert psnr(torch.full((2, 2), 0.1), torch.zeros(2, 2)) == pytest.approx(20.0)
    assert psnr(torch.full((2, 2), 25.5), torch.zeros(2, 2), data_range=255.0) == pytest.approx(20.0)
    assert math.isinf(psnr(torch.ones(3), torch.ones(3)))


def test_losses_agree_on_a_perfect_prediction_and_differ_otherwise():
    target = (torch.rand(2, 1, 3, 4, 4) > 0.5).float()
    confident = (target * 2 - 1) * 20.0
    assert prediction_loss(confident, target, "mse") < 1e-10
    assert prediction_loss(confident, target, "bce") < 1e-6
    zeros = torch.zeros_like(target)
    assert prediction_loss(zeros, target, "mse").item() == pytest.approx(0.25)
    assert prediction_loss(zeros, target, "bce").item() == pytest.approx(math.log(2), rel=1e-5)


@pytest.mark.parametrize("call, error, match", [
    (lambda: copy_last_frame(torch.zeros(2, 1, 4, 4), 3), ValueError, "5 dims"),
    (lambda: copy_last_frame(np.zeros((2, 1, 3, 4, 4)), 3), TypeError, "torch.Tensor"),
    (lambda: copy_last_frame(torch.zeros(2, 1, 3, 4, 4), 0), ValueError, "horizon"),
    (lambda: mean_frame(torch.zeros(2, 1, 3, 4, 4, dtype=torch.int64), 2), TypeError, "floating-point"),
    (lambda: per_horizon_mse(torch.zeros(1, 1, 3, 4, 4), torch.zeros(1, 1, 2, 4, 4)), ValueError, "same shape"),
    (lambda: psnr(torch.zeros(3), torch.zeros(4)), ValueError, "same shape"),
    (lambda: psnr([0.0], torch.zeros(1)), TypeError, "predicted"),
    (lambda: psnr(torch.zeros(1), torch.zeros(1), data_range=0), ValueError, "data_range"),
    (lambda: prediction_loss(torch.zeros(1, 1, 2, 2, 2), torch.zeros(1, 1, 2, 2, 2), "l1"), ValueError, "kind"),
    (lambda: prediction_tensors([]), ValueError, "empty"),
    (lambda: prediction_tensors(3), TypeError, "dataset"),
    (lambda: train_forecaster("model", _clips(), _clips(), epochs=1), TypeError, "nn.Module"),
    (lambda: train_forecaster(torch.nn.Identity(), _clips(4), _clips(3), epochs=1), ValueError, "number of clips"),
    (lambda: train_forecaster(torch.nn.Identity(), _clips(), _clips(), epochs=0), ValueError, "epochs"),
    (lambda: train_forecaster(torch.nn.Identity(), _clips(), _clips(), epochs=1, loss="l1"), ValueError, "loss"),
    (lambda: predict_frames(torch.nn.Identity(), _clips(), 0), ValueError, "horizon"),
    (lambda: add_noise(torch.zeros(2, 3), 0.1), ValueError, "N, C, T, H, W"),
    (lambda: add_noise(_clips(), -1), ValueError, "sigma"),
    (lambda: train_denoiser(torch.nn.Identity(), _clips(), 0.1, epochs=0), ValueError, "epochs"),
    (lambda: train_denoiser("m", _clips(), 0.1, epochs=1), TypeError, "nn.Module"),
    (lambda: denoising_psnr(_clips(2), _clips(3), {}), ValueError, "differ"),
    (lambda: VideoDenoiser(temporal_kernel=2), ValueError, "odd"),
    (lambda: VideoDenoiser(width=0), ValueError, "width"),
    (lambda: VideoDenoiser()(torch.zeros(1, 3, 4, 8, 8)), ValueError, "channels"),
])
def test_bad_inputs(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_forecaster_training_lowers_the_loss_both_ways():
    torch.manual_seed(0)
    past, future = prediction_tensors(MovingDigits("train", num_clips=16, num_frames=8, num_input=4, size=24,
                                                   num_digits=1, mode="predict"))
    assert past.shape == (16, 1, 4, 24, 24) and future.shape == (16, 1, 4, 24, 24)
    for teacher_forcing, loss in ((False, "mse"), (True, "bce")):
        model = ConvLSTMForecaster(1, (4,), embed_channels=4)
        history = train_forecaster(model, past, future, epochs=4, batch_size=8, lr=1e-2, loss=loss,
                                   teacher_forcing=teacher_forcing, progress=False)
        assert len(history) == 4 and history[-1] < history[0]
    predicted = predict_frames(model, past, 4)
    assert predicted.shape == future.shape and 0 <= predicted.min() and predicted.max() <= 1
    curves = horizon_curves(past, future, {"model": predicted})
    assert list(curves) == ["model", "copy last frame", "mean frame"] and all(len(c) == 4 for c in curves.values())


def test_denoisers_see_one_frame_or_their_neighbours():
    single, temporal = VideoDenoiser(temporal_kernel=1, depth=2), VideoDenoiser(temporal_kernel=3, depth=2)
    assert single.frames_seen == 1 and temporal.frames_seen == 7
    x = torch.rand(1, 1, 9, 8, 8)
    x2 = x.clone()
    x2[:, :, 0] += 1.0
    with torch.no_grad():
        assert torch.allclose(single(x)[:, :, 1:], single(x2)[:, :, 1:])           # frame 0 changes only frame 0
        assert not torch.allclose(temporal(x)[:, :, 1:4], temporal(x2)[:, :, 1:4])
        assert torch.allclose(temporal(x)[:, :, 4:], temporal(x2)[:, :, 4:])       # beyond its 7-frame window


def test_denoiser_training_beats_the_noisy_input():
    torch.manual_seed(0)
    clean = torch.cat(prediction_tensors(MovingDigits("train", num_clips=16, num_frames=4, size=24, mode="predict")),
                      dim=2)
    noisy = add_noise(clean, 0.4, seed=1)
    torch.testing.assert_close(add_noise(clean, 0.4, seed=1), noisy)                 # seeded
    model = VideoDenoiser(temporal_kernel=1, width=8, depth=2)
    history = train_denoiser(model, clean, 0.4, epochs=15, batch_size=8, lr=1e-2, progress=False)
    assert history[-1] < history[0]
    scores = denoising_psnr(clean, noisy, {"model": model})
    assert scores["model"] > scores["noisy input"] + 3, scores
    assert denoise(model, noisy).shape == clean.shape


def test_sharpness_drops_with_blur():
    clip = (torch.rand(2, 1, 3, 8, 8) > 0.5).float()
    blurred = torch.nn.functional.avg_pool3d(clip, (1, 3, 3), stride=1, padding=(0, 1, 1))
    sharp, soft = sharpness(clip), sharpness(blurred)
    assert sharp.shape == (3,) and (soft < sharp).all()
    assert (sharpness(torch.ones(1, 1, 2, 4, 4)) == 0).all()
    with pytest.raises(ValueError, match="5 dims"):
        sharpness(torch.zeros(4, 4))
