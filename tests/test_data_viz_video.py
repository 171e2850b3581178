"""course.viz.video: the scrubber widget, frame statistics, augmentation preview and sampling timeline."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course.data import train_transform  # noqa: E402
from course.viz.video import (as_frames, augmentation_preview, frame_stats, sampling_timeline, show_frames,  # noqa: E402
                              video_scrubber)


def bar_video(t=6, h=12, w=16):
    frames = np.zeros((t, h, w, 3), np.uint8)
    for i in range(t):
        frames[i, :, 2 * i:2 * i + 3] = 200
    return frames


def test_as_frames_accepts_every_layout():
    f = bar_video()
    assert as_frames(f).shape == (6, 12, 16, 3)
    clip = torch.from_numpy(f).permute(3, 0, 1, 2).float() / 255
    assert np.array_equal(as_frames(clip), f)
    assert as_frames(np.zeros((4, 8, 8), np.float32)).shape == (4, 8, 8, 3)
    with pytest.raises(ValueError, match="video"):
        as_frames(np.zeros((8, 8)))
    with pytest.raises(TypeError, match="dtype"):
        as_frames(np.zeros((2, 4, 4, 3), np.int32))


def test_frame_stats_measure_brightness_and_change():
    f = bar_video()
    stats = frame_stats(f)
    expected_brightness = 200 * 3 / 16  # a 3-column bar of 200 in 16 columns
    assert np.allclose(stats["brightness"], expected_brightness)
    assert stats["change"][0] == 0 and np.all(stats["change"][1:] > 0)
    still = np.repeat(f[:1], 4, axis=0)
    assert np.all(frame_stats(still)["change"] == 0)


def test_scrubber_widget_updates_with_the_slider():
    w = video_scrubber(bar_video(), fps=5, width=64, title="bar")
    assert w.slider.max == 5 and w.play.max == 5 and w.play.interval == 200
    first = w.image.value
    w.slider.value = 3
    assert "frame 3 / 5" in w.info.value and "0.60 s" in w.info.value and w.image.value != first
    with pytest.raises(ValueError, match="fps"):
        video_scrubber(bar_video(), fps=0)


def test_plots_build():
    f = bar_video(t=8, h=32, w=32)
    fig = augmentation_preview(f, train_transform(16, resize=20, mean=None, std=None), runs=2, frames_shown=3)
    assert len(fig.axes) == 9
    ax = sampling_timeline(40, {"a": [0, 1, 2], "b": [5, 5, 9]}, fps=10)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a"]
    with pytest.raises(ValueError, match="indices"):
        sampling_timeline(4, {"a": [7]})
    assert len(show_frames(f, 4).axes) == 4
    with pytest.raises(TypeError, match="transform"):
        augmentation_preview(f, "flip")
