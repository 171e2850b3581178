"""course.data.transforms: layout, value range, normalisation, and one random draw per clip."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from course.data import ClipTransform, eval_transform, to_float_clip, to_uint8_frames, train_transform
from course.data.transforms import KINETICS_MEAN, KINETICS_STD


def frames(t=6, h=40, w=50, seed=0):
    return torch.randint(0, 256, (t, h, w, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_to_float_clip_layout_and_range():
    f = frames()
    clip = to_float_clip(f)
    assert clip.shape == (3, 6, 40, 50) and clip.dtype == torch.float32
    assert clip.min() >= 0 and clip.max() <= 1
    assert clip[1, 2, 3, 4] == pytest.approx(f[2, 3, 4, 1].item() / 255)
    assert torch.equal(to_uint8_frames(clip), f)


def test_normalisation_round_trips():
    f = frames()
    clip = ClipTransform(mean=KINETICS_MEAN, std=KINETICS_STD)(f)
    per_channel = (to_float_clip(f) - torch.tensor(KINETICS_MEAN).view(3, 1, 1, 1)) / torch.tensor(KINETICS_STD).view(3, 1, 1, 1)
    assert torch.allclose(clip, per_channel, atol=1e-6)
    assert torch.equal(to_uint8_frames(clip, KINETICS_MEAN, KINETICS_STD), f)


@pytest.mark.parametrize("seed", range(8))
def test_train_transform_draws_once_per_clip(seed):
    # Identical frames must stay identical after every random crop, flip and colour jitter.
    still = frames(t=1, seed=seed).repeat(5, 1, 1, 1)
    torch.manual_seed(seed)
    clip = train_transform(24, resize=30, color_jitter=0.5)(still)
    assert clip.shape == (3, 5, 24, 24)
    for t in range(1, 5):
        assert torch.equal(clip[:, 0], clip[:, t])


def test_random_draws_differ_between_calls():
    f = frames()
    t = train_transform(24, resize=30, color_jitter=0.5)
    torch.manual_seed(0)
    outs = [t(f) for _ in range(6)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_flip_mirrors_every_frame():
    f = frames()
    clip = ClipTransform(v2.RandomHorizontalFlip(p=1.0))(f)
    assert torch.allclose(clip, to_float_clip(f).flip(-1), atol=1e-6)


def test_eval_transform_is_deterministic_centre_crop():
    f = frames(h=40, w=60)
    e = eval_transform((20, 30), resize=(20, 30), mean=None, std=None)
    a, b = e(f), e(f)
    assert torch.equal(a, b) and a.shape == (3, 6, 20, 30)
    crop = eval_transform(20, resize=(40, 60), mean=None, std=None)(f)
    assert torch.allclose(crop, to_float_clip(f)[:, :, 10:30, 20:40], atol=1e-6)


def test_numpy_frames_are_accepted():
    assert to_float_clip(frames().numpy()).shape == (3, 6, 40, 50)


def test_bad_input_is_named():
    with pytest.raises(TypeError, match="uint8"):
        to_float_clip(frames().float())
    with pytest.raises(ValueError, match=r"\(T, H, W, C\)"):
        to_float_clip(torch.zeros(3, 4, 5, dtype=torch.uint8))
    with pytest.raises(TypeError, match="frames"):
        ClipTransform()([1, 2, 3])
    with pytest.raises(ValueError, match="mean, std"):
        ClipTransform(mean=(0.5, 0.5, 0.5))
    with pytest.raises(TypeError, match="callables"):
        ClipTransform("resize")
    with pytest.raises(ValueError, match="size"):
        train_transform(0)
    with pytest.raises(ValueError, match="color_jitter"):
        train_transform(16, color_jitter=2)
    with pytest.raises(ValueError, match="clip"):
        to_uint8_frames(np.zeros((3, 2, 4, 4)))
