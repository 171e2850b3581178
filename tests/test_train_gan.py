"""course.train.gan: GAN losses (and the wrong one), the toy, the video GAN's data and training, the Frechet
distance."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from course.models.gan import VideoDiscriminator, VideoGenerator
from course.train.gan import (MOTION_CLASSES, articles_discriminator_loss, clip_features, discriminator_loss,
                              frechet_distance, gaussian_frechet_distance, gaussian_mixture, generator_loss,
                              generator_output_gradient, judge_clips, mode_counts, motion_clips, predict_motion,
                              sqrtm_psd, train_motion_classifier, train_toy_gan, train_video_gan, wasserstein_1d)


def _sig(x):
    return 1 / (1 + math.exp(-x))


# ---------------------------------------------------------------------------------------------------------- losses

def test_discriminator_loss_is_the_two_cross_entropies():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0, 1.0])
    expected = (-np.mean([math.log(_sig(2.0)), math.log(_sig(-1.0))])
                - np.mean([math.log(1 - _sig(v)) for v in (0.5, -3.0, 1.0)]))
    assert discriminator_loss(real, fake).item() == pytest.approx(expected, rel=1e-6)
    assert discriminator_loss(real[:, None], fake[:, None]).item() == pytest.approx(expected, rel=1e-6)


def test_the_articles_loss_rewards_calling_fakes_real():
    fake = torch.tensor([0.0, 1.0], requires_grad=True)
    real = torch.tensor([3.0])
    discriminator_loss(real, fake).backward()
    assert (fake.grad > 0).all()           # descent lowers the fake logits: fakes called fake
    fake.grad = None
    articles_discriminator_loss(real, fake).backward()
    assert (fake.grad < 0).all()           # descent raises them: fakes called real
    # and it has no lower bound: the more confidently D calls fakes real, the lower the loss
    values = [articles_discriminator_loss(real, torch.tensor([v])).item() for v in (0.0, 10.0, 100.0)]
    assert values[0] > values[1] > values[2] < -90
    assert min(discriminator_loss(real, torch.tensor([v])).item() for v in (0.0, 10.0, 100.0)) > 0


def test_saturating_generator_loss_gradient_vanishes_when_fakes_are_rejected():
    logits = torch.tensor([-10.0, 0.0], requires_grad=True)
    generator_loss(logits, saturating=True).backward()
    sat = logits.grad.clone()
    logits.grad = None
    generator_loss(logits).backward()
    non_sat = logits.grad.clone()
    # per-sample gradients (the loss is a mean over 2): -D for the saturating loss, -(1 - D) for the other
    assert sat.tolist() == pytest.approx([-_sig(-10.0) / 2, -0.25], rel=1e-5)
    assert non_sat.tolist() == pytest.approx([-(1 - _sig(-10.0)) / 2, -0.25], rel=1e-5)
    assert abs(non_sat[0]) > 1e4 * abs(sat[0])
    assert generator_loss(torch.tensor([0.0]), saturating=True).item() == pytest.approx(math.log(0.5))


def test_generator_output_gradient_is_per_sample():
    d = torch.nn.Linear(1, 1)
    with torch.no_grad():
        d.weight.fill_(2.0)
        d.bias.fill_(0.0)
    x = torch.tensor([[-5.0], [0.0]])
    for saturating, factor in ((True, [_sig(-10.0), 0.5]), (False, [1 - _sig(-10.0), 0.5])):
        grad = generator_output_gradient(d, x, saturating=saturating)
        assert grad.shape == (2, 1)
        assert grad[:, 0].tolist() == pytest.approx([-2 * f for f in factor], rel=1e-5)


def test_loss_bad_input():
    with pytest.raises(TypeError, match="real_logits"):
        discriminator_loss([1.0], torch.zeros(1))
    with pytest.raises(ValueError, match=r"fake_logits\): expected logits of shape"):
        articles_discriminator_loss(torch.zeros(2), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="floating-point"):
        generator_loss(torch.zeros(2, dtype=torch.long))
    with pytest.raises(TypeError, match="saturating"):
        generator_loss(torch.zeros(2), saturating="yes")
    with pytest.raises(ValueError, match="N >= 1"):
        discriminator_loss(torch.zeros(0), torch.zeros(1))
    with pytest.raises(TypeError, match="discriminator"):
        generator_output_gradient(lambda x: x, torch.zeros(2, 1), saturating=False)


# ----------------------------------------------------------------------------------------------------------- toy

def test_gaussian_mixture_wasserstein_and_mode_counts():
    sample = gaussian_mixture([-4.0, 4.0], 0.1)
    x = sample(1000, torch.Generator().manual_seed(0))
    assert x.shape == (1000, 1)
    counts = mode_counts(x, [[-4.0], [4.0], [0.0]], radius=1.0)
    assert counts[2] == 0 and counts.sum() == 1000 and 400 < counts[0] < 600
    a = torch.randn(500)
    assert wasserstein_1d(a, a + 3.0) == pytest.approx(3.0)
    assert wasserstein_1d(a, a) == 0.0
    assert gaussian_mixture([[0, 0], [1, 1]], 0.5)(7).shape == (7, 2)
    with pytest.raises(ValueError, match="std"):
        gaussian_mixture([0.0], 0)
    with pytest.raises(ValueError, match="equal size"):
        wasserstein_1d(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match="mode_counts"):
        mode_counts(torch.zeros(3, 2), [[0.0]], radius=1.0)


def test_toy_gan_learns_with_the_right_loss_and_the_articles_loss_calls_fakes_real():
    target = gaussian_mixture([3.0], 0.5)
    reference = target(2000, torch.Generator().manual_seed(1))
    right = train_toy_gan(target, steps=400, snapshot_steps=[400], snapshot_size=2000)
    assert wasserstein_1d(right.snapshots[400], reference) < 0.5 * wasserstein_1d(right.snapshots[0], reference)
    wrong = train_toy_gan(target, steps=200, d_loss="articles")
    assert np.mean(wrong.d_fake[-50:]) > 0.9 and wrong.d_loss[-1] < 0
    assert np.mean(right.d_fake[-50:]) < 0.9
    assert len(right.d_real) == len(right.g_loss) == 400 and right.seconds > 0


def test_frozen_parts_stay_frozen():
    target = gaussian_mixture([3.0], 0.5)
    run = train_toy_gan(target, steps=20, train_generator=False, snapshot_steps=[20])
    np.testing.assert_array_equal(run.snapshots[0], run.snapshots[20])
    d_before = [p.detach().clone() for p in run.discriminator.parameters()]
    run2 = train_toy_gan(target, steps=5, train_discriminator=False, discriminator=run.discriminator)
    assert all(torch.equal(a, b) for a, b in zip(d_before, run2.discriminator.parameters()))


def test_toy_bad_input():
    target = gaussian_mixture([0.0], 1.0)
    with pytest.raises(ValueError, match="d_loss"):
        train_toy_gan(target, d_loss="hinge")
    with pytest.raises(ValueError, match="steps"):
        train_toy_gan(target, steps=0)
    with pytest.raises(TypeError, match="sample_real"):
        train_toy_gan([1, 2])


# ---------------------------------------------------------------------------------------------- Frechet distance

def test_frechet_distance_of_identical_sets_is_zero_and_it_is_symmetric():
    a = torch.randn(300, 6, dtype=torch.float64)
    b = torch.randn(200, 6, dtype=torch.float64) * 2 + 1
    assert abs(frechet_distance(a, a)) < 1e-8
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-9)
    assert frechet_distance(a, b) > 1.0


def test_gaussian_frechet_distance_matches_the_closed_forms():
    # diagonal covariances: |dmu|^2 + sum (sigma_a - sigma_b)^2
    fd = gaussian_frechet_distance(torch.zeros(2), torch.diag(torch.tensor([1.0, 4.0])), torch.tensor([3.0, 4.0]),
                                   torch.diag(torch.tensor([9.0, 1.0])))
    assert fd == pytest.approx(25 + (1 - 3) ** 2 + (2 - 1) ** 2, rel=1e-12)
    # general covariances: Tr(sqrt(A B)) from the eigenvalues of A B (real, non-negative for SPD A and B)
    gen = torch.Generator().manual_seed(0)
    x, y = (torch.randn(5, 5, generator=gen, dtype=torch.float64) for _ in range(2))
    ca, cb = x @ x.T, y @ y.T
    tr = torch.linalg.eigvals(ca @ cb).real.clamp(min=0).sqrt().sum()
    assert gaussian_frechet_distance(torch.zeros(5), ca, torch.ones(5), cb) == pytest.approx(
        float(5 + ca.trace() + cb.trace() - 2 * tr), rel=1e-9)


def test_frechet_distance_of_samples_of_shifted_gaussians_approaches_the_shift():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(20000, 3, generator=gen, dtype=torch.float64) + torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    assert frechet_distance(a, b) == pytest.approx(5.0, abs=0.05)


def test_sqrtm_psd():
    x = torch.randn(4, 4, dtype=torch.float64)
    m = x @ x.T
    s = sqrtm_psd(m)
    assert torch.allclose(s @ s, m, atol=1e-10) and torch.allclose(s, s.T)
    with pytest.raises(ValueError, match="symmetric"):
        sqrtm_psd(torch.tensor([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        sqrtm_psd(torch.zeros(2, 3))


def test_frechet_bad_input():
    with pytest.raises(ValueError, match="N >= 2"):
        frechet_distance(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="features_a has 3 features, features_b 2"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 2))
    with pytest.raises(ValueError, match="NaN"):
        gaussian_frechet_distance(torch.zeros(1), torch.tensor([[float("nan")]]), torch.zeros(1), torch.eye(1))
    with pytest.raises(ValueError, match="means"):
        gaussian_frechet_distance(torch.zeros(3), torch.eye(2), torch.zeros(2), torch.eye(2))


# -------------------------------------------------------------------------------------------------- video GAN

def _centre_x(clips):
    weight = clips.sum(dim=1)                                           # (N, T, H, W)
    xs = torch.arange(clips.shape[-1], dtype=torch.float32)
    return (weight.sum(dim=2) * xs).sum(-1) / weight.sum(dim=(2, 3))   # (N, T)


def test_motion_clips_are_black_background_shapes_moving_the_right_way():
    clips, labels = motion_clips(8, size=16, num_frames=8)
    assert clips.shape == (8, 3, 8, 16, 16) and clips.dtype == torch.float32
    assert labels.tolist() == [0, 1, 2, 3] * 2 and MOTION_CLASSES[0] == "move_right"
    assert clips.min() >= 0 and clips.max() <= 1
    assert (clips.amax(dim=(1, 2)) == 0).float().mean() > 0.5          # most pixels black in every frame
    x = _centre_x(clips)
    assert (x[labels == 0, -1] > x[labels == 0, 0] + 2).all()            # move_right: the shape goes right
    assert (x[labels == 1, -1] < x[labels == 1, 0] - 2).all()
    assert torch.equal(clips, motion_clips(8, size=16, num_frames=8)[0])
    assert not torch.equal(clips, motion_clips(8, size=16, num_frames=8, split="val")[0])
    with pytest.raises(ValueError, match="size"):
        motion_clips(4, size=8)


def test_train_video_gan_runs_records_and_snapshots():
    g = VideoGenerator(8, widths=(16, 8), clip_size=(8, 8, 8))
    d = VideoDiscriminator(widths=(8, 16), clip_size=(8, 8, 8))
    real = torch.rand(10, 3, 8, 8, 8)
    noise = torch.randn(3, 8)
    before = [p.detach().clone() for p in g.parameters()]
    run = train_video_gan(g, d, real, steps=4, batch_size=4, fixed_noise=noise, snapshot_steps=[2, 4])
    assert sorted(run.snapshots) == [0, 2, 4] and run.snapshots[4].shape == (3, 3, 8, 8, 8)
    assert len(run.d_loss) == len(run.g_loss) == len(run.d_real) == len(run.d_fake) == 4
    assert any(not torch.equal(a, b) for a, b in zip(before, g.parameters()))
    assert not g.training
    with pytest.raises(ValueError, match="batch_size"):
        train_video_gan(g, d, real, steps=1, batch_size=1)
    with pytest.raises(ValueError, match="fixed_noise"):
        train_video_gan(g, d, real, steps=1, fixed_noise=torch.randn(2, 5))
    with pytest.raises(ValueError, match=r"clips\): expected clips \(N, C, T, H, W\)"):
        train_video_gan(g, d, torch.rand(3, 8, 8, 8), steps=1)
    with pytest.raises(TypeError, match="generator"):
        train_video_gan("g", d, real, steps=1)


def test_judge_clips_floor_and_identity():
    clips, labels = motion_clips(16, size=16, num_frames=16)
    model = train_motion_classifier(clips, labels, epochs=1, batch_size=8)
    assert not model.training
    feats = clip_features(model, clips)
    assert feats.shape == (16, 64)
    probs = predict_motion(model, clips)
    assert probs.shape == (16, 4) and torch.allclose(probs.sum(1), torch.ones(16), atol=1e-5)
    result = judge_clips(model, clips, {"same": clips, "grey": torch.full_like(clips, 0.5)})
    assert abs(result["same"]["frechet_distance"]) < 1e-6
    assert result["grey"]["frechet_distance"] > 1e-3
    assert sum(result["same"]["predicted_share"]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="candidates"):
        judge_clips(model, clips, {})
    with pytest.raises(TypeError, match="features"):
        clip_features(torch.nn.Linear(2, 2), clips)
    with pytest.raises(ValueError, match="labels"):
        train_motion_classifier(clips, labels[:3])
