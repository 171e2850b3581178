"""course.models.gan: the video GAN's generator and discriminator, their builders, and the toy MLPs."""
from __future__ import annotations

import pytest
import torch

from course.models.gan import (MinibatchStdDev, VideoDiscriminator, VideoGenerator, down_stage, mlp,
                               toy_discriminator, toy_generator, up_stage)


def test_generator_makes_clips_in_unit_range_of_the_requested_size():
    g = VideoGenerator(16, widths=(32, 16, 8), clip_size=(16, 16, 16))
    clips = g(g.sample_noise(3))
    assert clips.shape == (3, 3, 16, 16, 16)
    assert clips.min() >= 0 and clips.max() <= 1
    assert g.base == (2, 2, 2)
    g2 = VideoGenerator(8, out_channels=1, widths=(16, 8), clip_size=(8, 16, 24))
    assert g2(torch.randn(2, 8)).shape == (2, 1, 8, 16, 24)


def test_linear_output_has_no_sigmoid():
    squashed = VideoGenerator(8, widths=(8, 4), clip_size=(4, 4, 4))
    linear = VideoGenerator(8, widths=(8, 4), clip_size=(4, 4, 4), squash=False)
    assert any(isinstance(m, torch.nn.Sigmoid) for m in squashed.modules())
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in linear.modules())
    with torch.no_grad():
        linear.stages[-1].deconv.bias.fill_(-5.0)
    assert linear(torch.randn(2, 8)).max() < 0            # nothing clips it to [0, 1]


def test_different_noise_gives_different_clips_and_noise_is_reproducible():
    g = VideoGenerator(16, widths=(32, 16, 8)).eval()
    z = g.sample_noise(2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(z, g.sample_noise(2, generator=torch.Generator().manual_seed(0)))
    clips = g(z)
    assert (clips[0] - clips[1]).abs().max() > 1e-4


def test_discriminator_gives_one_logit_per_clip_and_gradients_reach_the_generator():
    g = VideoGenerator(16, widths=(32, 16, 8))
    d = VideoDiscriminator(widths=(8, 16, 32))
    logits = d(g(torch.randn(4, 16)))
    assert logits.shape == (4,)
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())


def test_stages_halve_and_double_time_and_space():
    x = torch.randn(2, 4, 4, 8, 6)
    assert up_stage(4, 5)(x).shape == (2, 5, 8, 16, 12)
    last = up_stage(4, 3, last=True)(x)
    assert last.min() >= 0 and last.max() <= 1
    assert down_stage(4, 6)(x).shape == (2, 6, 2, 4, 3)
    assert down_stage(4, 6, spectral_norm=False)(x).shape == (2, 6, 2, 4, 3)


def test_minibatch_stddev_adds_the_batch_spread_as_a_channel():
    x = torch.randn(5, 3, 2, 2, 2)
    y = MinibatchStdDev()(x)
    assert y.shape == (5, 4, 2, 2, 2)
    assert torch.allclose(y[:, 3], x.std(dim=0).mean().expand(5, 2, 2, 2))
    same = MinibatchStdDev()(x[:1].expand(5, -1, -1, -1, -1))
    assert torch.allclose(same[:, 3], torch.zeros(5, 2, 2, 2))     # identical clips: zero spread
    with pytest.raises(ValueError, match="at least 2"):
        MinibatchStdDev()(x[:1])


def test_discriminator_options():
    plain = VideoDiscriminator(widths=(8, 16), clip_size=(8, 8, 8), spectral_norm=False, minibatch_std=False)
    assert plain(torch.rand(1, 3, 8, 8, 8)).shape == (1,)
    assert plain.head.in_features == 16 * 2 * 2 * 2
    assert VideoDiscriminator(widths=(8, 16), clip_size=(8, 8, 8)).head.in_features == 17 * 2 * 2 * 2


def test_toy_models():
    assert toy_generator(3, width=8)(torch.randn(5, 3)).shape == (5, 1)
    assert toy_generator(3, out_features=2)(torch.randn(5, 3)).shape == (5, 2)
    assert toy_discriminator(2, width=8)(torch.randn(5, 2)).shape == (5, 1)
    assert len(mlp(2, (4, 4), 1)) == 5


def test_bad_input():
    with pytest.raises(ValueError, match="latent_dim"):
        VideoGenerator(0)
    with pytest.raises(ValueError, match="widths"):
        VideoGenerator(8, widths=())
    with pytest.raises(ValueError, match="multiple of 8"):
        VideoGenerator(8, widths=(8, 8, 8), clip_size=(12, 16, 16))
    with pytest.raises(ValueError, match="clip_size"):
        VideoDiscriminator(clip_size=(16, 16))
    with pytest.raises(TypeError, match="spectral_norm"):
        VideoDiscriminator(spectral_norm=1)
    with pytest.raises(TypeError, match="squash"):
        VideoGenerator(8, squash=0)
    with pytest.raises(TypeError, match="minibatch_std"):
        VideoDiscriminator(minibatch_std="yes")
    g = VideoGenerator(8, widths=(8, 4))
    with pytest.raises(ValueError, match=r"VideoGenerator.forward\(x\): expected 8 channels"):
        g(torch.randn(2, 5))
    with pytest.raises(TypeError, match="floating-point"):
        g(torch.ones(2, 8, dtype=torch.long))
    d = VideoDiscriminator(widths=(8, 8))
    with pytest.raises(ValueError, match=r"\(T, H, W\) = \(16, 16, 16\)"):
        d(torch.rand(2, 3, 8, 16, 16))
    with pytest.raises(ValueError, match="5 dims"):
        d(torch.rand(3, 16, 16, 16))
    with pytest.raises(ValueError, match="sample_noise"):
        g.sample_noise(0)
    with pytest.raises(ValueError, match="mlp\\(widths\\)"):
        mlp(2, (0,), 1)
