"""course.data.sampling: every sampler's contract, the short-video policy, and bad arguments."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.data import center_clip_indices, random_clip_indices, sample_indices, segment_indices, uniform_indices
from course.data.sampling import STRATEGIES


def test_uniform_spans_first_to_last_frame():
    assert uniform_indices(10, 4).tolist() == [0, 3, 6, 9]
    for n, k in [(100, 16), (16, 16), (17, 5), (5, 12)]:
        idx = uniform_indices(n, k)
        assert idx.dtype == np.int64 and idx.shape == (k,)
        assert idx[0] == 0 and idx[-1] == n - 1 and np.all(np.diff(idx) >= 0)
    assert uniform_indices(16, 16).tolist() == list(range(16))
    assert uniform_indices(1, 3).tolist() == [0, 0, 0]


def test_random_clip_is_contiguous_inside_the_video_and_covers_every_start():
    g = torch.Generator().manual_seed(0)
    starts = set()
    for _ in range(400):
        idx = random_clip_indices(20, 8, step=2, generator=g)
        assert np.all(np.diff(idx) == 2) and idx[0] >= 0 and idx[-1] < 20
        starts.add(int(idx[0]))
    assert starts == set(range(20 - 15 + 1)), "every start that keeps the clip inside the video should occur"


def test_random_clip_is_reproducible_with_a_generator():
    a = [random_clip_indices(300, 16, generator=torch.Generator().manual_seed(5)) for _ in range(2)]
    assert np.array_equal(a[0], a[1])


def test_center_clip():
    assert center_clip_indices(10, 4).tolist() == [3, 4, 5, 6]
    assert center_clip_indices(11, 3, step=3).tolist() == [2, 5, 8]  # span 7, start (11 - 7) // 2
    assert center_clip_indices(4, 4).tolist() == [0, 1, 2, 3]


def test_short_video_policy():
    assert random_clip_indices(5, 8).tolist() == [0, 1, 2, 3, 4, 0, 1, 2]  # default: loop
    assert center_clip_indices(5, 8, short="pad").tolist() == [0, 1, 2, 3, 4, 4, 4, 4]
    assert center_clip_indices(4, 3, step=2, short="loop").tolist() == [0, 2, 0]
    with pytest.raises(ValueError, match="only 5"):
        random_clip_indices(5, 8, short="error")
    with pytest.raises(ValueError, match="short"):
        random_clip_indices(5, 8, short="stretch")


def test_segments_center_and_random():
    assert segment_indices(10, 5, random=False).tolist() == [1, 3, 5, 7, 9]
    assert segment_indices(100, 4, random=False).tolist() == [12, 37, 62, 87]
    g = torch.Generator().manual_seed(1)
    hits = np.zeros(12, int)
    for _ in range(300):
        idx = segment_indices(12, 3, generator=g)
        assert 0 <= idx[0] < 4 <= idx[1] < 8 <= idx[2] < 12, idx  # one frame from each third
        hits[idx] += 1
    assert np.all(hits > 0), "every frame of every segment should be drawn sometimes"
    assert segment_indices(3, 6, random=False).tolist() == [0, 0, 1, 1, 2, 2]  # short: frames repeat


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_sample_indices_dispatches(strategy):
    idx = sample_indices(50, 8, strategy, generator=torch.Generator().manual_seed(0))
    assert idx.shape == (8,) and idx.min() >= 0 and idx.max() < 50 and np.all(np.diff(idx) >= 0)


def test_bad_arguments_name_the_argument():
    with pytest.raises(ValueError, match="num_frames"):
        uniform_indices(0, 4)
    with pytest.raises(ValueError, match="clip_len"):
        random_clip_indices(10, 0)
    with pytest.raises(ValueError, match="step"):
        center_clip_indices(10, 2, step=0)
    with pytest.raises(ValueError, match="num_segments"):
        segment_indices(10, 2.5)
    with pytest.raises(TypeError, match="random"):
        segment_indices(10, 2, random="yes")
    with pytest.raises(ValueError, match="strategy"):
        sample_indices(10, 2, "middle")
    with pytest.raises(ValueError, match="num_frames"):
        uniform_indices(True, 2)
