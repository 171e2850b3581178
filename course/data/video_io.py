"""Reading and writing video files with PyAV.

A decoded video is a uint8 tensor of shape (T, H, W, C): T frames of H x W pixels with C = 3 colour channels (RGB).

- :func:`read_video` decodes a whole file, or the part between ``start`` and ``end`` seconds.
- :func:`read_frames` decodes only the frames at given indices (and stops decoding after the last one): what a clip
  loader needs.
- :func:`video_info` reads the header only (fps, frame count, duration, size) without decoding pixels.
- :func:`write_video` encodes frames into a file (H.264 in .mp4/.mkv, MPEG-4 Part 2 in .avi, lossless FFV1 on request).

Any file that cannot be decoded — empty, truncated, corrupt, not a video — raises :class:`VideoReadError`, whose
message names the file. Frame times are ``index / fps`` with the stream's average frame rate (exact for the
constant-frame-rate files datasets ship; approximate for variable-frame-rate phone videos).
"""
from __future__ import annotations

import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

__all__ = ["VideoInfo", "VideoReadError", "read_video", "read_frames", "video_info", "write_video",
           "VIDEO_EXTENSIONS"]

#: File extensions treated as videos by :class:`course.data.VideoFolder`.
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")

#: Largest height or width a decode may be resized to (16K; a frame that size is already 800 MB as RGB).
MAX_SIDE = 16384

_DEFAULT_CODECS = {".mp4": "libx264", ".m4v": "libx264", ".mkv": "libx264", ".mov": "libx264", ".avi": "mpeg4",
                   ".webm": "libvpx-vp9"}


class VideoReadError(ValueError):
    """A file that exists but cannot be decoded as a video (empty, truncated, corrupt, or not a video).

    ``path`` is the file and ``reason`` what went wrong; ``str(err)`` names both.
    """

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read video {str(path)!r}: {reason}")


@dataclass(frozen=True)
class VideoInfo:
    """What a video file's header says.

    ``frames`` is the number of frames (counted from the packets when the container does not store it),
    ``fps`` the average frame rate, ``duration`` = frames / fps in seconds, ``size`` = (height, width).
    """

    path: Path
    fps: float
    frames: int
    duration: float
    size: tuple[int, int]
    codec: str

    @property
    def height(self) -> int:
        return self.size[0]

    @property
    def width(self) -> int:
        return self.size[1]


def _check_path(path, fn: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}(path): expected a file path (str or Path), got {type(path).__name__}")
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{fn}(path): no such file: {str(path)!r}")
    if not path.is_file():
        raise ValueError(f"{fn}(path): expected a file, got a directory or special file: {str(path)!r}")
    if path.stat().st_size == 0:
        raise VideoReadError(path, "the file is empty (0 bytes)")
    return path


def _open(path: Path):
    import av

    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        raise VideoReadError(path, f"not a video file FFmpeg understands ({err.strerror or err})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError(path, "the file has no video stream")
    return container


def _fps(stream) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def video_info(path) -> VideoInfo:
    """Read fps, frame count, duration and (height, width) of a video from its header, without decoding pixels.

    Raises ``FileNotFoundError`` for a missing file and :class:`VideoReadError` for one that is not a video.
    """
    import av

    path = _check_path(path, "video_info")
    with _open(path) as container:
        stream = container.streams.video[0]
        frames = int(stream.frames or 0)
        try:
            if frames <= 0:  # e.g. .mkv/.webm do not store a count: count the packets (cheap, no decoding)
                frames = sum(1 for packet in container.demux(stream) if packet.size)
        except av.error.FFmpegError as err:
            raise VideoReadError(path, f"corrupt data while counting frames ({err.strerror or err})") from None
        fps = _fps(stream)
        if frames <= 0:
            raise VideoReadError(path, "the video stream has no frames")
        if fps <= 0:
            raise VideoReadError(path, "the video stream has no frame rate")
        size = (int(stream.codec_context.height), int(stream.codec_context.width))
        if min(size) <= 0:
            raise VideoReadError(path, f"the video stream has an invalid size {size}")
        return VideoInfo(path, fps, frames, frames / fps, size, stream.codec_context.name)


def _declared_frames(container, stream) -> int:
    """The frame count the header promises: stored (AVI, MP4) or, for Matroska/WebM, duration x fps. 0 if unknown."""
    if stream.frames:
        return int(stream.frames)
    if "matroska" in container.format.name and container.duration and _fps(stream) > 0:
        return int(round(container.duration / 1_000_000 * _fps(stream)))
    return 0


def _truncated(declared: int, decoded: int) -> bool:
    # Headers are sometimes off by a frame or two (rounded durations); a real truncation loses many more.
    return declared > 0 and declared - decoded > max(2, declared // 50)


def _to_rgb(frame, kwargs: dict, path: Path) -> np.ndarray:
    """A decoded frame as (H, W, 3) uint8, resized if asked. A size FFmpeg's scaler refuses is the caller's argument,
    not damage in the file: ValueError, never VideoReadError (which ``skip_bad`` would silently skip)."""
    import av

    try:
        return frame.to_ndarray(**kwargs)
    except av.error.FFmpegError as err:
        if "height" not in kwargs:
            raise
        raise ValueError(f"size=({kwargs['height']}, {kwargs['width']}): FFmpeg's scaler cannot resize the "
                         f"{frame.width}x{frame.height} frames of {str(path)!r} to that ({err.strerror or err}); "
                         f"choose a smaller size") from None


def _decode(path: Path, wanted: Iterable[int] | None, last: int | None, size: tuple[int, int] | None):
    """Decode frames in display order; keep those whose index is in ``wanted`` (all if None), stop after ``last``.

    Returns (dict index -> (H, W, 3) uint8 array, number of frames decoded, declared frame count).
    """
    import av

    keep = None if wanted is None else set(wanted)
    # threads=1: FFmpeg's scaler then keeps no pool of slice threads. A pool made in a parent process does not exist
    # in a forked DataLoader worker, and a worker that inherits the cached scaler waits for it forever (seen in CI).
    kwargs = {"format": "rgb24", "threads": 1}
    if size is not None:
        kwargs.update(height=int(size[0]), width=int(size[1]))
    out: dict[int, np.ndarray] = {}
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        declared = _declared_frames(container, stream)
        index = -1
        try:
            for index, frame in enumerate(container.decode(stream)):
                if keep is None or index in keep:
                    out[index] = _to_rgb(frame, kwargs, path)
                if last is not None and index >= last:
                    break
        except av.error.FFmpegError as err:
            raise VideoReadError(path, f"corrupt data at frame {index + 1} ({err.strerror or err})") from None
    return out, index + 1, declared


def _check_size(size, fn: str):
    if size is None:
        return None
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 < s <= MAX_SIDE for s in size)):
        raise ValueError(f"{fn}(size): expected (height, width) as two positive ints (at most {MAX_SIDE}), got {size!r}")
    return int(size[0]), int(size[1])


def read_video(path, *, start: float | None = None, end: float | None = None,
               size: tuple[int, int] | None = None) -> torch.Tensor:
    """Decode a video file into a uint8 tensor of shape (T, H, W, 3) (RGB).

    ``start`` and ``end`` (seconds, ``end`` exclusive) select part of the video: frame i is at ``i / fps`` seconds.
    ``size=(height, width)`` resizes while decoding (FFmpeg's swscale), which is faster than resizing afterwards.

    Raises ``FileNotFoundError`` for a missing file and :class:`VideoReadError` (naming the file) for an empty,
    truncated, corrupt or non-video file.
    """
    for name, value in (("start", start), ("end", end)):
        if value is not None and (not isinstance(value, (int, float, np.number)) or isinstance(value, bool)
                                  or not np.isfinite(value) or value < 0):
            raise ValueError(f"read_video({name}): expected a non-negative number of seconds or None, got {value!r}")
    if start is not None and end is not None and end <= start:
        raise ValueError(f"read_video(end): expected end > start, got start={start}, end={end}")
    size = _check_size(size, "read_video")
    path = _check_path(path, "read_video")
    if start is None and end is None:
        frames, decoded, declared = _decode(path, None, None, size)
        if _truncated(declared, decoded):
            raise VideoReadError(path, f"truncated: the header declares {declared} frames but only {decoded} decode")
        if not frames:
            raise VideoReadError(path, "no frame could be decoded")
        return torch.from_numpy(np.stack([frames[i] for i in sorted(frames)]))
    info = video_info(path)
    first = 0 if start is None else int(np.ceil(start * info.fps - 1e-9))
    stop = info.frames if end is None else min(info.frames, int(np.ceil(end * info.fps - 1e-9)))
    if first >= stop:
        raise ValueError(f"read_video(start={start}, end={end}): selects no frame of {str(path)!r} "
                         f"({info.frames} frames at {info.fps:g} fps = {info.duration:.2f} s)")
    return read_frames(path, range(first, stop), size=size)


def read_frames(path, indices: Sequence[int], *, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Decode only the frames at ``indices`` (any order, repeats allowed) -> uint8 tensor (len(indices), H, W, 3).

    Decoding runs from the start of the file and stops after the largest index, converting only the frames asked
    for to RGB. Raises ``IndexError`` for an index past the end of the video and :class:`VideoReadError` for a file
    that cannot be decoded (including one truncated before the frames asked for).
    """
    if isinstance(indices, (str, bytes)) or not isinstance(indices, (Iterable, np.ndarray, torch.Tensor)):
        raise TypeError(f"read_frames(indices): expected a sequence of frame indices such as [0, 8, 16], got "
                        f"{type(indices).__name__} {indices!r}" + ("; for one frame pass [index]"
                                                                   if isinstance(indices, numbers.Integral) else ""))
    idx = np.asarray(list(indices) if not isinstance(indices, (np.ndarray, torch.Tensor)) else indices)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"read_frames(indices): expected a non-empty 1-D sequence of ints, got {indices!r}")
    if idx.min() < 0:
        raise ValueError(f"read_frames(indices): expected non-negative frame indices, got {int(idx.min())}")
    size = _check_size(size, "read_frames")
    path = _check_path(path, "read_frames")
    last = int(idx.max())
    frames, decoded, declared = _decode(path, idx.tolist(), last, size)
    if last not in frames:
        if declared > last:
            raise VideoReadError(path, f"truncated: the header declares {declared} frames but only {decoded} decode")
        raise IndexError(f"read_frames(indices): frame {last} asked for, but {str(path)!r} has {decoded} frames")
    return torch.from_numpy(np.stack([frames[i] for i in idx.tolist()]))


def write_video(path, frames, fps: float, *, codec: str | None = None, quality: int = 20) -> Path:
    """Encode frames into a video file. Returns the path.

    ``frames``: uint8 (T, H, W, 3) RGB (or (T, H, W) greyscale), a tensor or NumPy array; H and W must be even
    (the usual yuv420p pixel format halves the colour resolution). ``fps``: frames per second.
    ``codec`` defaults from the extension: H.264 for .mp4/.mkv/.mov, MPEG-4 Part 2 for .avi (as UCF101 uses),
    VP9 for .webm; ``codec="ffv1"`` (in .mkv or .avi) is lossless. ``quality`` is the H.264 CRF (0 = lossless,
    lower = better) or the MPEG-4 quantiser scale.
    """
    import av

    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"write_video(path): expected a file path (str or Path), got {type(path).__name__}")
    path = Path(path)
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"write_video(frames): expected a uint8 tensor or array (T, H, W, 3), got {type(frames).__name__}")
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=-1)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] == 0:
        raise ValueError(f"write_video(frames): expected shape (T, H, W, 3) with T >= 1, got {tuple(frames.shape)}")
    if frames.dtype != np.uint8:
        raise TypeError(f"write_video(frames): expected dtype uint8 (0..255), got {frames.dtype}; "
                        "convert with (x * 255).clamp(0, 255).to(torch.uint8) if your frames are floats in [0, 1]")
    height, width = frames.shape[1:3]
    if height % 2 or width % 2:
        raise ValueError(f"write_video(frames): height and width must be even for yuv420p video, got {height}x{width}")
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)) or not 0 < fps <= 1000:
        raise ValueError(f"write_video(fps): expected a number of frames per second in (0, 1000], got {fps!r}")
    suffix = path.suffix.lower()
    codec = codec or _DEFAULT_CODECS.get(suffix)
    if codec is None:
        raise ValueError(f"write_video(path): unknown video extension {suffix!r}; use one of {sorted(_DEFAULT_CODECS)}")
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 0 <= quality <= 51:
        raise ValueError(f"write_video(quality): expected an int in 0..51, got {quality!r}")
    from fractions import Fraction

    rate = Fraction(fps).limit_denominator(1001)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")  # a half-written file never appears at path
    try:
        with av.open(str(tmp), mode="w", format=None if suffix != ".m4v" else "mp4") as container:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height = int(width), int(height)
            if codec == "ffv1":
                stream.pix_fmt = "bgr0"  # RGB without chroma subsampling: a lossless round trip
            elif codec == "libx264rgb":
                stream.pix_fmt = "rgb24"
            else:
                stream.pix_fmt = "yuv420p"
            if codec.startswith("libx264"):
                stream.options = {"crf": str(quality), "preset": "veryfast"}
            elif codec == "mpeg4":
                q = max(2, min(31, quality // 5))  # MPEG-4 quantiser: 2 (best) .. 31
                stream.codec_context.qmin = stream.codec_context.qmax = q
            for array in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
