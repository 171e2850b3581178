"""course.checks.ch05_video_data: each check passes a correct solution, fails typical mistakes, never raises."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.checks import ch05_video_data as check


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def to_clip(frames):
    return torch.from_numpy(frames).permute(3, 0, 1, 2).float() / 255


def clip_indices(num_frames, start, clip_len, step):
    return (start + step * np.arange(clip_len)) % num_frames


def random_crop_clip(clip, size, generator):
    _, _, h, w = clip.shape
    top = torch.randint(0, h - size + 1, (1,), generator=generator).item()
    left = torch.randint(0, w - size + 1, (1,), generator=generator).item()
    return clip[:, :, top:top + size, left:left + size]


def center_clip_item(videos, labels, index, clip_len):
    frames = videos[index]
    start = max(0, (len(frames) - clip_len) // 2)
    return to_clip(frames[clip_indices(len(frames), start, clip_len, 1)]), labels[index]


def test_correct_solutions_pass():
    assert check.to_clip(to_clip).passed
    assert check.clip_indices(clip_indices).passed
    assert check.random_crop_clip(random_crop_clip).passed
    assert check.center_clip_item(center_clip_item).passed


def test_typical_mistakes_fail_with_a_reason():
    r = check.to_clip(lambda f: torch.from_numpy(f).float().permute(3, 0, 1, 2))  # forgot / 255
    assert not r.passed and "divide by 255" in r.summary()
    r = check.clip_indices(lambda n, s, k, st: np.minimum(s + st * np.arange(k), n - 1))  # pads instead of looping
    assert not r.passed and r.n_passed == 2

    def per_frame_crop(clip, size, generator):  # a new corner for every frame: invents motion
        frames = []
        for t in range(clip.shape[1]):
            top = torch.randint(0, clip.shape[2] - size + 1, (1,), generator=generator).item()
            frames.append(clip[:, t, top:top + size, :size])
        return torch.stack(frames, 1)

    r = check.random_crop_clip(per_frame_crop)
    assert not r.passed and "ONCE per clip" in r.summary()
    r = check.random_crop_clip(lambda clip, size, generator: clip[:, :, :size, :size])  # not random
    assert not r.passed and "every seed gave the same window" in r.summary() and "manual_seed" in r.summary()
    r = check.center_clip_item(lambda v, l, i, k: (to_clip(v[i][:k]), l[i]))  # first frames, not the centre
    assert not r.passed and "middle" in r.summary()


def test_unfinished_and_crashing_code_is_reported_not_raised():
    def todo(*args):
        raise NotImplementedError

    for fn in (check.to_clip, check.clip_indices, check.random_crop_clip, check.center_clip_item):
        r = fn(todo)
        assert not r.passed and r.not_implemented
    r = check.center_clip_item(lambda *a: 1 / 0)
    assert not r.passed and "ZeroDivisionError" in r.summary()


def test_strict_mode_raises_on_failure(monkeypatch):
    from course.checks import CheckFailed

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        check.clip_indices(lambda *a: [0])
