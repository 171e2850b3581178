"""course.data.video_io: read/write round trips, partial reads, header info, and bad files named in errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.data import VideoReadError, read_frames, read_video, video_info, write_video


def moving_bar(t=24, h=48, w=64, seed=0) -> np.ndarray:
    """A smooth test video (T, H, W, 3) uint8: a bright bar moving right over a gradient, plus a frame-number stamp."""
    rng = np.random.default_rng(seed)
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 2] = np.linspace(0, 200, w, dtype=np.uint8)[None, None, :]
    for i in range(t):
        x = (3 * i) % (w - 8)
        frames[i, :, x:x + 8, 0] = 250
        frames[i, :4, :4, 1] = (10 * i) % 256  # unique per frame, lets tests tell frames apart
    frames[..., 1] += rng.integers(0, 3, size=frames.shape[:-1], dtype=np.uint8)
    return frames


def frame_ids(video: torch.Tensor) -> list[int]:
    return [int(round(float(v) / 10)) for v in video[:, :4, :4, 1].float().mean(dim=(1, 2))]


@pytest.mark.parametrize("suffix,codec", [(".mkv", "ffv1"), (".mp4", "libx264rgb")])
def test_lossless_round_trip_is_exact(tmp_path, suffix, codec):
    frames = np.random.default_rng(1).integers(0, 256, (6, 16, 24, 3), dtype=np.uint8)
    path = write_video(tmp_path / f"v{suffix}", frames, fps=10, codec=codec, quality=0)
    video = read_video(path)
    assert video.dtype == torch.uint8 and video.shape == (6, 16, 24, 3)
    assert torch.equal(video, torch.from_numpy(frames))


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv", ".webm"])
def test_lossy_round_trip_is_close_and_info_matches(tmp_path, suffix):
    frames = moving_bar()
    path = write_video(tmp_path / f"v{suffix}", frames, fps=12.5)
    video = read_video(path)
    assert video.shape == frames.shape
    error = (video.float() - torch.from_numpy(frames).float()).abs().mean().item()
    assert error < 6, f"{suffix}: mean absolute error {error:.2f} grey levels is too large for a smooth video"
    info = video_info(path)
    assert info.frames == len(frames)
    assert info.fps == pytest.approx(12.5, rel=1e-3)
    assert info.duration == pytest.approx(len(frames) / 12.5, rel=1e-3)
    assert info.size == (48, 64) and (info.height, info.width) == (48, 64)


def test_ntsc_frame_rate_is_kept(tmp_path):
    path = write_video(tmp_path / "ntsc.avi", moving_bar(t=10), fps=30000 / 1001)
    assert video_info(path).fps == pytest.approx(29.97, abs=1e-3)


def test_greyscale_frames_are_written_as_rgb(tmp_path):
    grey = np.tile(np.linspace(0, 255, 32, dtype=np.uint8), (4, 16, 1))
    video = read_video(write_video(tmp_path / "g.mkv", grey, fps=5, codec="ffv1"))
    assert video.shape == (4, 16, 32, 3)
    assert torch.equal(video[..., 0], video[..., 2]) and torch.equal(video[..., 0], torch.from_numpy(grey))


def test_start_end_select_the_frames_in_that_time_range(tmp_path):
    frames = moving_bar(t=20)
    path = write_video(tmp_path / "v.mkv", frames, fps=10, codec="ffv1")
    full = read_video(path)
    assert frame_ids(full) == list(range(20))
    part = read_video(path, start=0.5, end=1.2)  # frames at 0.5, 0.6, ..., 1.1 s
    assert frame_ids(part) == list(range(5, 12))
    assert frame_ids(read_video(path, start=1.55)) == list(range(16, 20))
    assert frame_ids(read_video(path, end=0.3)) == [0, 1, 2]


def test_read_frames_returns_the_asked_frames_in_order(tmp_path):
    path = write_video(tmp_path / "v.mkv", moving_bar(t=20), fps=10, codec="ffv1")
    full = read_video(path)
    idx = [7, 2, 2, 19, 0]
    clip = read_frames(path, idx)
    assert torch.equal(clip, full[idx])
    assert torch.equal(read_frames(path, np.arange(3, 9)), full[3:9])


def test_size_resizes_while_decoding(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_bar(), fps=10)
    assert read_video(path, size=(24, 32)).shape == (24, 24, 32, 3)
    assert read_frames(path, [0, 5], size=(12, 20)).shape == (2, 12, 20, 3)


def test_read_frames_past_the_end_raises_index_error(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_bar(t=8), fps=10)
    with pytest.raises(IndexError, match="8 frames"):
        read_frames(path, [0, 8])


# --- bad files ------------------------------------------------------------------------------------------------------

def _assert_names_file(excinfo, path):
    assert str(path) in str(excinfo.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file") as e:
        read_video(tmp_path / "nope.mp4")
    _assert_names_file(e, tmp_path / "nope.mp4")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    for fn in (read_video, video_info, lambda p: read_frames(p, [0])):
        with pytest.raises(VideoReadError, match="empty") as e:
            fn(path)
        _assert_names_file(e, path)


def test_non_video_file(tmp_path):
    path = tmp_path / "notes.avi"
    path.write_text("these are my notes, not a video\n" * 50)
    with pytest.raises(VideoReadError, match="not a video") as e:
        read_video(path)
    _assert_names_file(e, path)
    with pytest.raises(VideoReadError):
        video_info(path)


def _noisy(t=40):
    return np.random.default_rng(0).integers(0, 256, (t, 64, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("suffix", [".avi", ".mp4", ".mkv"])
def test_truncated_file(tmp_path, suffix):
    good = write_video(tmp_path / f"good{suffix}", _noisy(), fps=25)
    data = good.read_bytes()
    bad = tmp_path / f"cut{suffix}"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError) as e:
        read_video(bad)
    _assert_names_file(e, bad)


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_corrupt_file(tmp_path, suffix):
    good = write_video(tmp_path / f"good{suffix}", _noisy(), fps=25)
    data = bytearray(good.read_bytes())
    n = len(data)
    data[n // 5: 4 * n // 5] = np.random.default_rng(3).integers(0, 256, 4 * n // 5 - n // 5, dtype=np.uint8).tobytes()
    bad = tmp_path / f"corrupt{suffix}"
    bad.write_bytes(bytes(data))
    with pytest.raises(VideoReadError) as e:
        read_video(bad)
    _assert_names_file(e, bad)


def test_no_video_stream(tmp_path):
    import av

    path = tmp_path / "sound.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with pytest.raises(VideoReadError, match="no video stream") as e:
        read_video(path)
    _assert_names_file(e, path)


# --- argument checking --------------------------------------------------------------------------------------------

def test_write_video_rejects_bad_input(tmp_path):
    ok = moving_bar(t=2)
    with pytest.raises(TypeError, match="uint8"):
        write_video(tmp_path / "a.mp4", ok.astype(np.float32), fps=10)
    with pytest.raises(ValueError, match=r"\(T, H, W, 3\)"):
        write_video(tmp_path / "a.mp4", ok[..., :2], fps=10)
    with pytest.raises(ValueError, match="even"):
        write_video(tmp_path / "a.mp4", ok[:, :47], fps=10)
    with pytest.raises(ValueError, match="fps"):
        write_video(tmp_path / "a.mp4", ok, fps=0)
    with pytest.raises(ValueError, match="extension"):
        write_video(tmp_path / "a.gif", ok, fps=10)
    with pytest.raises(TypeError, match="path"):
        write_video(123, ok, fps=10)
    with pytest.raises(TypeError, match="frames"):
        write_video(tmp_path / "a.mp4", ok.tolist(), fps=10)
    assert not list(tmp_path.iterdir()), "a failed write must leave no file behind"


def test_read_video_rejects_bad_arguments(tmp_path):
    path = write_video(tmp_path / "v.mp4", moving_bar(t=10), fps=10)
    with pytest.raises(ValueError, match="start"):
        read_video(path, start=-1)
    with pytest.raises(ValueError, match="end"):
        read_video(path, start=0.5, end=0.2)
    with pytest.raises(ValueError, match="selects no frame"):
        read_video(path, start=5.0)
    with pytest.raises(ValueError, match="size"):
        read_video(path, size=(0, 10))
    with pytest.raises(TypeError, match="path"):
        read_video(None)
    with pytest.raises(ValueError, match="indices"):
        read_frames(path, [])
    with pytest.raises(ValueError, match="non-negative"):
        read_frames(path, [-1])
    with pytest.raises(ValueError, match="directory"):
        read_video(tmp_path)
