"""``VideoFolder``: a dataset of clips from a folder of videos, one sub-folder per class.

::

    root/
      class_a/clip1.avi
      class_a/clip2.mp4
      class_b/...

``dataset[i]`` decodes the frames of one clip of video i (sampled with :mod:`course.data.sampling`), transforms them and
returns ``(clip, label)``: a float tensor (C, T, H, W) and the class index.

Decoding is the expensive part. With ``cache=True`` each video is decoded once (whole, at ``decode_size`` if given) and
stored as a uint8 tensor in the course's data cache, with a CRC-32 of every frame; later epochs read it back
memory-mapped, only index the frames they need and check those frames' CRCs, so a damaged entry (a flipped bit, a
killed write) is reported with a warning and the video decoded again. The cache key includes the file's path, size
and modification time, so a file that changes is decoded again (and its stale entry removed). A full disk while
writing an entry is an ``OSError`` that says so, and leaves no temporary file.

Bad files: by default a file that cannot be decoded raises :class:`course.data.VideoReadError` naming it. With
``skip_bad=True`` the dataset checks every header when it is built, leaves out the files that fail, and lists them in
``dataset.skipped`` (and prints a summary); a file that only fails later, while decoding, is reported with a warning,
added to ``skipped``, and a clip of another video *of the same class* is returned instead, so the label always
matches ``targets[i]`` (if no video of that class decodes, :class:`VideoReadError` says so). A decode size FFmpeg
cannot produce is a ``ValueError`` about the argument, never a skipped "bad file".

With a ``DataLoader(num_workers > 0)`` each worker decodes with its own copy of the dataset: a file that fails there
is still replaced by a same-class clip and warned about on the worker's stderr, but the main process's
``dataset.skipped`` does not see it. :meth:`VideoFolder.verify` is the way to get the complete list: it decodes
everything up front in the main process (and fills the cache), so training starts on a clean dataset.
"""
from __future__ import annotations

import hashlib
import os
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import data_dir
from .sampling import SHORT_POLICIES, STRATEGIES, sample_indices
from .transforms import to_float_clip
from .video_io import MAX_SIDE, VIDEO_EXTENSIONS, VideoReadError, read_frames, read_video, video_info

__all__ = ["VideoFolder", "SkippedFile", "find_videos"]

#: Format tag of a cache entry: {"format", "video": uint8 (T, H, W, 3), "frame_crc32": int64 (T,)}.
CACHE_FORMAT = "course.data.folder.cache/2"


@dataclass(frozen=True)
class SkippedFile:
    """A video left out of a dataset, and why."""

    path: Path
    reason: str


def _reason(err: Exception) -> str:
    return err.reason if isinstance(err, VideoReadError) else str(err)


def _crc(frame: torch.Tensor) -> int:
    return zlib.crc32(frame.numpy())


def _is_video(path: Path, extensions: Sequence[str]) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in extensions


def find_videos(root, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> tuple[list[str], list[tuple[Path, int]]]:
    """Scan ``root/<class>/<video>``: returns (sorted class names, [(path, class index), ...] sorted by path)."""
    root = Path(root)
    classes = sorted(d.name for d in root.iterdir()
                     if d.is_dir() and not d.name.startswith(".") and any(_is_video(f, extensions) for f in d.iterdir()))
    samples = [(f, i) for i, name in enumerate(classes) for f in sorted((root / name).iterdir()) if _is_video(f, extensions)]
    return classes, samples


class VideoFolder(Dataset):
    """Clips from ``root/<class>/<video file>``: ``dataset[i] -> (clip, label)``.

    Args:
        root: the folder with one sub-folder per class.
        frames_per_clip: T, the number of frames in a clip.
        step: distance between consecutive frames of a contiguous clip (``sampling="random"``/``"center"``).
        sampling: how frames are chosen, see :func:`course.data.sample_indices`: ``"random"`` (default, training),
            ``"center"`` (evaluation), ``"uniform"``, ``"segments"``, ``"segments_center"``.
        short: what a contiguous clip does when the video is too short: ``"loop"`` (default), ``"pad"``, ``"error"``.
        transform: called on the uint8 frames (T, H, W, C), e.g. :func:`course.data.train_transform`; without one the
            clip is ``to_float_clip(frames)``: float (C, T, H, W) in [0, 1].
        decode_size: (height, width) to resize to while decoding (cheaper than resizing later; shrinks the cache).
        cache: store each decoded video in the data cache (``cache_dir``, default ``course.config.data_dir("decoded_videos")``).
        skip_bad: leave out files that cannot be decoded instead of raising (see the module docstring).
        samples, classes: give the (path, label) list and class names directly instead of scanning ``root``
            (used by :class:`course.data.UCF101` & co. to follow official split files); relative paths are under root.

    ``clip`` is float32 (C, T, H, W) unless ``transform`` returns something else; ``label`` is an int.
    """

    #: How many memory-mapped cache entries a dataset keeps open.
    MAX_MAPPED = 4096

    def __init__(self, root, frames_per_clip: int = 16, *, step: int = 1, sampling: str = "random",
                 short: str = "loop", transform: Callable | None = None, decode_size: tuple[int, int] | None = None,
                 cache: bool = False, cache_dir=None, skip_bad: bool = False,
                 extensions: Sequence[str] = VIDEO_EXTENSIONS,
                 samples: Sequence[tuple[str | os.PathLike, int]] | None = None, classes: Sequence[str] | None = None):
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"VideoFolder(root): expected a folder path, got {type(root).__name__}")
        self.root = Path(root)
        for name, value in (("frames_per_clip", frames_per_clip), ("step", step)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"VideoFolder({name}): expected a positive int, got {value!r}")
        if sampling not in STRATEGIES:
            raise ValueError(f"VideoFolder(sampling): expected one of {STRATEGIES}, got {sampling!r}")
        if short not in SHORT_POLICIES:
            raise ValueError(f"VideoFolder(short): expected one of {SHORT_POLICIES}, got {short!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"VideoFolder(transform): expected a callable or None, got {transform!r}")
        if decode_size is not None and (not isinstance(decode_size, (tuple, list)) or len(decode_size) != 2 or not all(
                isinstance(s, (int, np.integer)) and not isinstance(s, bool) and 0 < s <= MAX_SIDE for s in decode_size)):
            raise ValueError(f"VideoFolder(decode_size): expected (height, width) as two positive ints (at most "
                             f"{MAX_SIDE}), got {decode_size!r}")
        if isinstance(extensions, (str, bytes)) or not all(
                isinstance(e, str) and e.startswith(".") for e in extensions):
            raise ValueError(f"VideoFolder(extensions): expected a list of extensions such as ('.avi', '.mp4'), got "
                             f"{extensions!r}")
        self.frames_per_clip, self.step = int(frames_per_clip), int(step)
        self.sampling, self.short, self.transform = sampling, short, transform
        self.decode_size = tuple(decode_size) if decode_size is not None else None
        self.cache = bool(cache)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else (data_dir("decoded_videos") if cache else None)
        self.skip_bad = bool(skip_bad)
        self.skipped: list[SkippedFile] = []
        self._num_frames: dict[Path, int] = {}
        self._bad: set[Path] = set()
        self._mapped: dict[Path, tuple[torch.Tensor, torch.Tensor]] = {}

        if samples is None:
            if not self.root.is_dir():
                raise FileNotFoundError(
                    f"VideoFolder(root): folder {str(self.root)!r} does not exist. Put your videos in "
                    f"{str(self.root)}/<class name>/<video file> (one sub-folder per class; extensions "
                    f"{', '.join(extensions)}), or use course.data.UCF101 / HMDB51 / KTH, which say how to download them.")
            found_classes, found = find_videos(self.root, tuple(e.lower() for e in extensions))
            if not found:
                raise ValueError(f"VideoFolder(root): no video files in {str(self.root)!r}; expected "
                                 f"{str(self.root)}/<class name>/<video file> with extensions {', '.join(extensions)}")
            self.classes = list(classes) if classes is not None else found_classes
            missing = [name for name in found_classes if name not in self.classes]
            if missing:
                raise ValueError(f"VideoFolder(classes): the folders {missing} under {str(self.root)!r} are not among "
                                 f"the {len(self.classes)} classes given {self.classes}; give every class name")
            position = {name: i for i, name in enumerate(self.classes)}  # labels follow the order of classes=
            self.samples = [(p, position[found_classes[label]]) for p, label in found]
        else:
            if classes is None:
                raise ValueError("VideoFolder(classes): required when samples is given")
            self.classes = list(classes)
            self.samples = []
            for path, label in samples:
                if not isinstance(label, (int, np.integer)) or not 0 <= label < len(self.classes):
                    raise ValueError(f"VideoFolder(samples): label {label!r} of {path} is not in 0..{len(self.classes) - 1}")
                path = Path(path)
                self.samples.append((path if path.is_absolute() else self.root / path, int(label)))
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        if self.skip_bad:
            self._probe_headers()

    # ---------------------------------------------------------------------------------------------------------------
    @property
    def targets(self) -> list[int]:
        """The label of every video, in dataset order."""
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        cached = f", cache={str(self.cache_dir)!r}" if self.cache else ""
        return (f"{type(self).__name__}({len(self)} videos, {len(self.classes)} classes, frames_per_clip="
                f"{self.frames_per_clip}, sampling={self.sampling!r}{cached}, root={str(self.root)!r})")

    def __getitem__(self, index: int):
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"VideoFolder[index]: expected an int, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"VideoFolder[index]: index {index} out of range for {len(self)} videos")
        index = int(index) % len(self)
        wanted = self.samples[index][1]
        for attempt in range(len(self)):
            path, label = self.samples[(index + attempt) % len(self)]
            if path in self._bad or label != wanted:  # a stand-in must have the same label: targets[i] stays true
                continue
            try:
                frames = self.load_frames(path)
            except (VideoReadError, FileNotFoundError) as err:
                if not self.skip_bad:
                    raise
                self._skip(path, _reason(err), warn=True, remove=False)  # the length must not change mid-epoch
                continue
            clip = self.transform(frames) if self.transform is not None else to_float_clip(frames)
            return clip, label
        name = self.classes[wanted] if 0 <= wanted < len(self.classes) else wanted
        raise VideoReadError(self.root, f"no video of class {name!r} could be decoded ({len(self.skipped)} files "
                                        f"skipped), so item {index} has no clip with its label")

    # ---------------------------------------------------------------------------------------------------------------
    def load_frames(self, path: Path) -> torch.Tensor:
        """Sample and decode one clip of the video at ``path`` -> uint8 frames (frames_per_clip, H, W, 3)."""
        if self.cache:
            video, crcs = self._cache_entry(path)
            indices = self._indices(video.shape[0]).tolist()
            # one copy per frame: much faster than advanced indexing video[idx] on a memory-mapped tensor
            frames = [video[i] for i in indices]
            bad = next((i for i, frame in zip(indices, frames) if _crc(frame) != int(crcs[i])), None)
            if bad is not None:
                video, _ = self._redecode(path, f"frame {bad} does not match its checksum")
                frames = [video[i] for i in indices]
            return torch.stack(frames)
        frames = self._num_frames.get(path)
        if frames is None:
            frames = self._num_frames[path] = video_info(path).frames
        try:
            return read_frames(path, self._indices(frames), size=self.decode_size)
        except IndexError:  # the header promised a frame or two more than the file holds: count them for real
            self._num_frames[path] = len(read_video(path, size=self.decode_size))
            return read_frames(path, self._indices(self._num_frames[path]), size=self.decode_size)

    def _indices(self, num_frames: int) -> np.ndarray:
        return sample_indices(num_frames, self.frames_per_clip, self.sampling, step=self.step, short=self.short)

    def cache_path(self, path) -> Path:
        """Where the decoded video of ``path`` lives in the cache: one folder per video path, one file per version."""
        path = Path(path).resolve()
        stat = path.stat()
        folder = hashlib.sha1(str(path).encode()).hexdigest()[:20]
        size = "x".join(map(str, self.decode_size)) if self.decode_size else "orig"
        return self.cache_dir / folder / f"{stat.st_size}-{stat.st_mtime_ns}-{size}.pt"

    def cached_video(self, path) -> torch.Tensor:
        """The whole decoded video (T, H, W, 3) uint8, from the cache (every frame's checksum verified), decoding and
        storing it on a miss or when the entry is damaged."""
        if self.cache_dir is None:
            raise ValueError("VideoFolder.cached_video: this dataset was built with cache=False")
        video, crcs = self._cache_entry(path)
        bad = next((i for i in range(video.shape[0]) if _crc(video[i]) != int(crcs[i])), None)
        if bad is not None:
            video, _ = self._redecode(path, f"frame {bad} does not match its checksum")
        return video

    def _cache_entry(self, path) -> tuple[torch.Tensor, torch.Tensor]:
        """(video (T, H, W, 3) uint8 memory-mapped, its frames' CRC-32s (T,)) from the cache, decoded on a miss."""
        entry = self.cache_path(path)
        mapped = self._mapped.get(entry)
        if mapped is not None:
            return mapped
        if entry.exists():
            try:
                stored = torch.load(entry, mmap=True, weights_only=True)
            except Exception as err:  # noqa: BLE001 — the unpickler fails in many ways on a damaged file
                return self._redecode(path, f"it cannot be read ({type(err).__name__})")
            if isinstance(stored, dict) and stored.get("format") == CACHE_FORMAT:
                video, crcs = stored.get("video"), stored.get("frame_crc32")
                if (isinstance(video, torch.Tensor) and isinstance(crcs, torch.Tensor) and video.dtype == torch.uint8
                        and video.ndim == 4 and crcs.shape == (video.shape[0],)):
                    self._remember(entry, (video, crcs))
                    return video, crcs
                return self._redecode(path, "its contents are not a video and its checksums")
            entry.unlink(missing_ok=True)  # an entry of the earlier format (no checksums): simply decoded again
        return self._store(path)

    def _redecode(self, path, reason: str) -> tuple[torch.Tensor, torch.Tensor]:
        entry = self.cache_path(path)
        warnings.warn(f"VideoFolder: the cached decode of {path} ({entry}) is damaged: {reason}; decoding {path} "
                      f"again", RuntimeWarning, stacklevel=3)
        self._mapped.pop(entry, None)
        entry.unlink(missing_ok=True)
        return self._store(path)

    def _store(self, path) -> tuple[torch.Tensor, torch.Tensor]:
        """Decode ``path`` and write its cache entry atomically; a full disk is an OSError saying so."""
        from .download import disk_full_error, is_disk_full

        entry = self.cache_path(path)
        video = read_video(path, size=self.decode_size).contiguous()
        crcs = torch.tensor([_crc(frame) for frame in video], dtype=torch.int64)
        entry.parent.mkdir(parents=True, exist_ok=True)
        size_tag = entry.name.split("-", 2)[2]
        for stale in entry.parent.glob(f"*-{size_tag}"):  # older versions of this file at this decode size
            stale.unlink(missing_ok=True)
        tmp = entry.with_name(f".{entry.name}.{os.getpid()}.tmp")
        try:
            torch.save({"format": CACHE_FORMAT, "video": video, "frame_crc32": crcs}, tmp)
            tmp.replace(entry)
        except BaseException as err:
            tmp.unlink(missing_ok=True)
            if is_disk_full(err):
                raise disk_full_error("VideoFolder cache", entry, err, advice="free some space, or pass cache=False "
                                      "(or a cache_dir on a bigger disk)") from None
            raise
        return video, crcs

    def __getstate__(self):  # DataLoader workers started by pickling (spawn) map the cache files themselves
        state = self.__dict__.copy()
        state["_mapped"] = {}
        return state

    def _remember(self, entry: Path, video: tuple[torch.Tensor, torch.Tensor]) -> None:
        # Memory-mapped entries cost address space, not RAM (the OS pages frames in and out); keeping the most recent
        # ones open saves re-reading the file's header on every clip. The key includes size and mtime, so a changed
        # video misses here too.
        if len(self._mapped) >= self.MAX_MAPPED:
            self._mapped.pop(next(iter(self._mapped)))
        self._mapped[entry] = video

    # ---------------------------------------------------------------------------------------------------------------
    def _skip(self, path: Path, reason: str, *, warn: bool, remove: bool = True) -> None:
        self.skipped.append(SkippedFile(Path(path), reason))
        if remove:
            self.samples = [(p, label) for p, label in self.samples if p != path]
        else:
            self._bad.add(path)
        if warn:
            warnings.warn(f"VideoFolder: skipping {path}: {reason}", RuntimeWarning, stacklevel=3)

    def _report(self, what: str) -> None:
        if self.skipped:
            print(f"{type(self).__name__}: skipped {len(self.skipped)} file(s) {what}:")
            for item in self.skipped:
                print(f"  {item.path}: {item.reason}")

    def _probe_headers(self) -> None:
        bad = []
        for path, _ in self.samples:
            try:
                self._num_frames[path] = video_info(path).frames
            except (VideoReadError, FileNotFoundError) as err:
                bad.append((path, _reason(err)))
        for path, reason in bad:
            self._skip(path, reason, warn=False)
        self._report("whose header could not be read")
        if not self.samples:
            raise ValueError(f"VideoFolder(root={str(self.root)!r}): every video failed to open; see .skipped")

    def verify(self, progress: bool = True) -> list[SkippedFile]:
        """Decode every video once (filling the cache when ``cache=True``); leave out and list the ones that fail.

        Returns the files skipped by this call; they are also in ``self.skipped``. Works whatever ``skip_bad`` is.
        """
        from tqdm.auto import tqdm

        bad = []
        for path, _ in tqdm(list(self.samples), desc="decoding videos", disable=not progress):
            try:
                video = self.cached_video(path) if self.cache else read_video(path, size=self.decode_size)
                self._num_frames[path] = int(video.shape[0])
            except (VideoReadError, FileNotFoundError) as err:
                bad.append(SkippedFile(Path(path), _reason(err)))
        for item in bad:
            self._skip(item.path, item.reason, warn=False)
        if bad:
            print(f"{type(self).__name__}.verify: skipped {len(bad)} file(s) that could not be decoded:")
            for item in bad:
                print(f"  {item.path}: {item.reason}")
        return bad
