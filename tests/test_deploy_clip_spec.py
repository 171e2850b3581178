"""course.deploy.ClipSpec: one description of how clips are made, identical to the training side's evaluation."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from course.data.motion import motion_clip_indices, motion_energy, spread_clip_indices
from course.deploy import ClipSpec
from course.deploy.clip_spec import most_active_starts, motion_energy_np


def _video(num_frames=40, seed=0):
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 30, size=(num_frames, 48, 64, 3), dtype=np.uint8)
    frames[10:25, 10:30, 20:40] = 255 - frames[10:25, 10:30, 20:40]   # activity in the middle of the video
    frames[12:22:2] //= 2
    return frames


@pytest.mark.parametrize("num_frames,num_clips", [(40, 3), (40, 1), (12, 2), (30, 5)])
def test_motion_sampling_matches_course_data_motion(num_frames, num_clips):
    frames = _video(num_frames)
    energy = motion_energy(frames)
    assert np.allclose(motion_energy_np(frames), energy)
    spec = ClipSpec(("a", "b"), clip_len=8, step=2, sampling="motion", num_clips=num_clips, crop=(32, 32))
    expected = motion_clip_indices(energy, 8, step=2, num_clips=num_clips)
    assert np.array_equal(spec.clip_indices(frames), expected)
    assert most_active_starts(energy, spec.span, num_clips).shape == (num_clips,)


@pytest.mark.parametrize("num_frames,num_clips", [(40, 3), (40, 1), (10, 2)])
def test_spread_sampling_matches_course_data_motion(num_frames, num_clips):
    spec = ClipSpec(("a", "b"), clip_len=8, step=2, sampling="spread", num_clips=num_clips, crop=(32, 32))
    expected = spread_clip_indices(num_frames, 8, step=2, num_clips=num_clips)
    assert np.array_equal(spec.clip_indices(_video(num_frames)), expected)


@pytest.mark.parametrize("sampling", ["motion", "random", "segments"])
def test_clips_equal_the_recipe_evaluation_clips(sampling):
    """The spec made from a RecipeConfig gives exactly the clips chapter 14's evaluation loader gives."""
    from course.train.real_video import RecipeConfig, eval_loader

    config = RecipeConfig(decode_size=(48, 64), crop=(40, 56), clip_len=16, step=2, sampling=sampling, eval_clips=3)
    videos = [torch.from_numpy(_video(60, seed=s)) for s in range(2)]
    loader = eval_loader(videos, [0, 1], config)
    transform = getattr(loader.dataset, "dataset", loader.dataset).transform   # the dataset may be wrapped (flips)
    spec = ClipSpec.from_recipe(dataclasses.asdict(config), ["walking", "running"], mean=transform.mean,
                                std=transform.std)
    expected = torch.cat([clips for clips, _, _ in loader]).numpy()
    ours = np.concatenate([spec.clips(v.numpy()) for v in videos])
    assert ours.shape == expected.shape == (6, 3, 16, 40, 56)
    assert np.abs(ours - expected).max() < 1e-5


def test_flip_average_appends_the_mirrored_clips():
    spec = ClipSpec(("a", "b"), clip_len=4, num_clips=2, crop=(32, 48), flip_average=True)
    x = spec.clips(_video(20))
    assert x.shape == (4, 3, 4, 32, 48) and x.dtype == np.float32
    assert np.array_equal(x[2:], x[:2, ..., ::-1])


def test_json_round_trip_and_input_shape():
    spec = ClipSpec(("walking", "running"), clip_len=16, step=2, sampling="motion", num_clips=3, decode_size=(48, 64),
                    crop=(40, 56), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))
    assert ClipSpec.from_json(spec.to_json()) == spec
    assert spec.input_shape == (3, 16, 40, 56) and spec.span == 31


@pytest.mark.parametrize("kwargs,name", [
    ({"classes": ("a",)}, "classes"), ({"classes": ("a", "a")}, "classes"), ({"clip_len": 0}, "clip_len"),
    ({"step": 1.5}, "step"), ({"sampling": "random"}, "sampling"), ({"crop": (32,)}, "crop"),
    ({"decode_size": (16, 16)}, "crop"), ({"std": (1, 0, 1)}, "std"), ({"mean": (0, 0)}, "mean")])
def test_bad_specs_are_rejected_naming_the_field(kwargs, name):
    args = {"classes": ("a", "b"), **kwargs}
    with pytest.raises(ValueError, match=rf"ClipSpec\({name}\)"):
        ClipSpec(**args)


def test_bad_frames_and_json_are_rejected():
    spec = ClipSpec(("a", "b"), crop=(32, 32))
    with pytest.raises(ValueError, match=r"ClipSpec.clips\(frames\)"):
        spec.clips(np.zeros((4, 32, 32, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="smaller than the crop"):
        spec.clips(np.zeros((4, 16, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="unknown keys"):
        ClipSpec.from_dict({"classes": ["a", "b"], "frames": 3})
    with pytest.raises(ValueError, match="not valid JSON"):
        ClipSpec.from_json("{")
    with pytest.raises(ValueError, match="missing keys"):
        ClipSpec.from_recipe({"clip_len": 16}, ["a", "b"], mean=(0, 0, 0), std=(1, 1, 1))
