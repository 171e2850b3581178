"""UCF101, HMDB51 and KTH: real action-recognition datasets, read with their official train/test splits.

Each is a :class:`course.data.VideoFolder` whose video list comes from the dataset's official split files instead of
a folder scan, so results are comparable with published numbers (and split 1 of UCF101 never mixes the same actor
"group" between train and test). The split-file parsers are plain functions you can use on their own.

The videos are not shipped with the course (they are gigabytes). ``download=True`` fetches what can be fetched and
unpacked automatically (KTH's zips, UCF101's split zip); UCF101's and HMDB51's videos are RAR archives, which need
``unrar`` or ``7z`` — the error message prints the exact commands. See ``datasets/<name>.md`` for the dataset cards.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Sequence

from ..config import data_dir
from .download import download, extract_archive
from .folder import VideoFolder

__all__ = ["UCF101", "HMDB51", "KTH", "parse_ucf101_split", "parse_hmdb51_split", "kth_split", "KTH_PERSONS",
           "DatasetNotFoundError"]


#: Sizes in bytes of official files, where a trustworthy record exists; download() refuses any other size. The split
#: zip's size is the one TensorFlow Datasets recorded with its SHA-256. UCF101.rar, HMDB51's two RARs and KTH's six
#: zips have only rounded sizes on their pages ("6.5 GB", ...), so they are checked against the server's
#: Content-Length only.
KNOWN_SIZES = {"UCF101TrainTestSplits-RecognitionTask.zip": 113943}


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are not where the course looks for them; the message says how to get them."""


def _read_lines(path: Path) -> list[str]:
    # The official UCF101 lists have Windows line endings; HMDB51's have trailing spaces.
    return [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]


def _safe_entry(entry: str, where: str, fn: str) -> str:
    """A video path from a split file, refused (ValueError naming file:line) if it is absolute or has '..'."""
    parts = entry.replace("\\", "/").split("/")
    if entry.startswith(("/", "\\")) or (len(entry) > 1 and entry[1] == ":") or ".." in parts:
        raise ValueError(f"{fn}: {where}: the entry {entry!r} points outside the dataset folder")
    return "/".join(p for p in parts if p not in ("", "."))


def _unique(seen: dict, entry: str, where: str, fn: str) -> bool:
    """True the first time ``entry`` is seen; a repeated line is skipped with a warning (it would count twice)."""
    if entry in seen:
        warnings.warn(f"{fn}: {where}: {entry!r} is listed again (first at {seen[entry]}); using it once")
        return False
    seen[entry] = where
    return True


def _check_split(split, allowed=(1, 2, 3), fn="") -> int:
    if isinstance(split, bool) or split not in allowed:
        raise ValueError(f"{fn}(split): expected one of {allowed}, got {split!r}")
    return int(split)


def _check_subset(subset, allowed, fn) -> str:
    if subset not in allowed:
        raise ValueError(f"{fn}(subset): expected one of {allowed}, got {subset!r}")
    return subset


# --------------------------------------------------------------------------------------------------------------------
# Split-file parsers
# --------------------------------------------------------------------------------------------------------------------

def parse_ucf101_split(annotation_dir, split: int = 1, subset: str = "train") -> tuple[list[str], list[tuple[str, int]]]:
    """Read UCF101's official lists -> (101 class names, [("<Class>/<video>.avi", label), ...]).

    ``annotation_dir`` holds ``classInd.txt`` ("1 ApplyEyeMakeup" ...), ``trainlist0N.txt`` ("<Class>/<video> <label>",
    labels 1-based) and ``testlist0N.txt`` ("<Class>/<video>"; the label comes from the folder). Labels returned are
    0-based. Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for a malformed line (with its number).
    """
    split = _check_split(split, fn="parse_ucf101_split")
    subset = _check_subset(subset, ("train", "test"), "parse_ucf101_split")
    annotation_dir = Path(annotation_dir)
    class_file = annotation_dir / "classInd.txt"
    list_file = annotation_dir / f"{subset}list0{split}.txt"
    for f in (class_file, list_file):
        if not f.is_file():
            raise FileNotFoundError(f"parse_ucf101_split: missing {str(f)!r} (from UCF101TrainTestSplits-RecognitionTask.zip)")
    classes = []
    for n, line in enumerate(_read_lines(class_file), start=1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit() or int(parts[0]) != n:
            raise ValueError(f"parse_ucf101_split: {class_file}:{n}: expected '{n} <ClassName>', got {line!r}")
        classes.append(parts[1])
    index = {name: i for i, name in enumerate(classes)}
    samples, seen = [], {}
    for n, line in enumerate(_read_lines(list_file), start=1):
        parts = line.replace("\\", "/").split()
        folder = parts[0].split("/")[0] if parts else ""
        if (subset == "train" and len(parts) != 2) or (subset == "test" and len(parts) != 1) or folder not in index:
            raise ValueError(f"parse_ucf101_split: {list_file}:{n}: expected '<Class>/<video>.avi"
                             f"{' <label>' if subset == 'train' else ''}' with a class from classInd.txt, got {line!r}")
        entry = _safe_entry(parts[0], f"{list_file}:{n}", "parse_ucf101_split")
        label = index[folder]
        if subset == "train" and (not parts[1].isdigit() or int(parts[1]) - 1 != label):
            raise ValueError(f"parse_ucf101_split: {list_file}:{n}: label {parts[1]} does not match folder {folder!r} "
                             f"(class {label + 1} in classInd.txt)")
        if _unique(seen, entry, f"{list_file.name}:{n}", "parse_ucf101_split"):
            samples.append((entry, label))
    return classes, samples


_HMDB_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<split>[123])\.txt$")

#: The 51 HMDB51 action classes, as named in its split files.
HMDB51_CLASSES = (
    "brush_hair", "cartwheel", "catch", "chew", "clap", "climb", "climb_stairs", "dive", "draw_sword", "dribble",
    "drink", "eat", "fall_floor", "fencing", "flic_flac", "golf", "handstand", "hit", "hug", "jump", "kick",
    "kick_ball", "kiss", "laugh", "pick", "pour", "pullup", "punch", "push", "pushup", "ride_bike", "ride_horse",
    "run", "shake_hands", "shoot_ball", "shoot_bow", "shoot_gun", "sit", "situp", "smile", "smoke", "somersault",
    "stand", "swing_baseball", "sword", "sword_exercise", "talk", "throw", "turn", "walk", "wave")


def parse_hmdb51_split(annotation_dir, split: int = 1, subset: str = "train", *,
                       num_classes: int | None = 51) -> tuple[list[str], list[tuple[str, int]]]:
    """Read HMDB51's official split files -> (51 class names, [("<class>/<video>.avi", label), ...]).

    ``annotation_dir`` holds ``<class>_test_split<N>.txt`` files whose lines are "<video>.avi <id>" with id 1 = train,
    2 = test, 0 = unused in that split. Classes are the sorted class names found in the file names; labels are their
    positions, so a missing class file would shift every later label. Hence ``FileNotFoundError`` naming the missing
    file when a class has files for other splits but not this one, or when fewer than ``num_classes`` classes are
    found (``num_classes=None`` accepts any number, for a subset you made yourself). A line listed twice is used once
    (with a warning); an entry with ``..`` or an absolute path is a ``ValueError``.
    """
    split = _check_split(split, fn="parse_hmdb51_split")
    subset = _check_subset(subset, ("train", "test"), "parse_hmdb51_split")
    if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1):
        raise ValueError(f"parse_hmdb51_split(num_classes): expected a positive int or None, got {num_classes!r}")
    annotation_dir = Path(annotation_dir)
    if not annotation_dir.is_dir():
        raise FileNotFoundError(f"parse_hmdb51_split: no folder {str(annotation_dir)!r} (from test_train_splits.rar)")
    found = [(m["cls"], int(m["split"]), annotation_dir / m.group(0))
             for f in annotation_dir.iterdir() if (m := _HMDB_FILE.match(f.name))]
    files = {cls: path for cls, n, path in found if n == split}
    if not files:
        raise FileNotFoundError(f"parse_hmdb51_split: no '<class>_test_split{split}.txt' files in {str(annotation_dir)!r}")
    expected = {cls for cls, _, _ in found}
    if num_classes is not None and len(expected) < num_classes:
        expected |= set(HMDB51_CLASSES[:num_classes]) if num_classes <= len(HMDB51_CLASSES) else set()
    missing = sorted(expected - set(files))
    if missing or (num_classes is not None and len(files) != num_classes):
        names = ", ".join(f"{c}_test_split{split}.txt" for c in missing[:5]) or "(unknown names)"
        raise FileNotFoundError(f"parse_hmdb51_split: found {len(files)} class files for split {split} in "
                                f"{str(annotation_dir)!r}, expected {num_classes or len(expected)}; missing: {names}"
                                f"{' ...' if len(missing) > 5 else ''}. Re-extract test_train_splits.rar (a missing "
                                f"class would shift every later label)")
    classes = sorted(files)
    wanted = "1" if subset == "train" else "2"
    samples, seen = [], {}
    for label, name in enumerate(classes):
        for n, line in enumerate(_read_lines(files[name]), start=1):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
                raise ValueError(f"parse_hmdb51_split: {files[name]}:{n}: expected '<video>.avi <0|1|2>', got {line!r}")
            entry = _safe_entry(f"{name}/{parts[0]}", f"{files[name]}:{n}", "parse_hmdb51_split")
            if parts[1] == wanted and _unique(seen, entry, f"{files[name].name}:{n}", "parse_hmdb51_split"):
                samples.append((entry, label))
    return classes, samples


#: KTH's official person-based split (Schuldt, Laptev & Caputo, ICPR 2004; the dataset's web page).
KTH_PERSONS = {
    "train": (11, 12, 13, 14, 15, 16, 17, 18),
    "val": (19, 20, 21, 23, 24, 25, 1, 4),
    "test": (22, 2, 3, 5, 6, 7, 8, 9, 10),
}
KTH_CLASSES = ("boxing", "handclapping", "handwaving", "jogging", "running", "walking")
_KTH_FILE = re.compile(r"^person(?P<person>\d\d)_(?P<cls>[a-z]+)_d(?P<scenario>[1-4])_uncomp\.avi$")


def kth_split(root, subset: str = "train") -> tuple[list[str], list[tuple[Path, int]]]:
    """Find KTH videos (``person<PP>_<class>_d<S>_uncomp.avi`` anywhere under ``root``) of the persons in ``subset``.

    Returns (the 6 class names, [(path, label), ...] sorted by file name). ``subset``: "train", "val" or "test"
    (persons in :data:`KTH_PERSONS`), or "trainval".
    """
    subset = _check_subset(subset, ("train", "val", "test", "trainval"), "kth_split")
    persons = set(KTH_PERSONS["train"] + KTH_PERSONS["val"]) if subset == "trainval" else set(KTH_PERSONS[subset])
    index = {name: i for i, name in enumerate(KTH_CLASSES)}
    samples = []
    for f in sorted(Path(root).rglob("person*_uncomp.avi"), key=lambda p: p.name):
        m = _KTH_FILE.match(f.name)
        if m and int(m["person"]) in persons and m["cls"] in index:
            samples.append((f, index[m["cls"]]))
    return list(KTH_CLASSES), samples


# --------------------------------------------------------------------------------------------------------------------
# Datasets
# --------------------------------------------------------------------------------------------------------------------

class _OfficialDataset(VideoFolder):
    NAME = ""
    #: (url, file name, sha256 or None when the publisher gives none) for every file of the dataset.
    FILES: Sequence[tuple[str, str, str | None]] = ()

    @classmethod
    def default_root(cls) -> Path:
        return data_dir(cls.NAME.lower(), create=False)

    @classmethod
    def instructions(cls, root: Path) -> str:
        raise NotImplementedError

    @classmethod
    def _fetch(cls, url: str, target: Path, sha256: str | None) -> Path:
        """download(), but a network failure also prints how to get the whole dataset by hand."""
        try:
            return download(url, target, sha256=sha256, size=KNOWN_SIZES.get(target.name))
        except ConnectionError as err:
            raise DatasetNotFoundError(f"{cls.NAME}: {err}\n{cls.instructions(target.parent)}") from None

    def _finish(self, root: Path, samples, classes, kwargs) -> None:
        missing = [p for p, _ in samples if not (Path(p) if Path(p).is_absolute() else root / p).is_file()]
        if not samples or len(missing) == len(samples):
            raise DatasetNotFoundError(f"{self.NAME}: no videos found under {str(root)!r}.\n{self.instructions(root)}")
        if missing and not kwargs.get("skip_bad"):
            raise DatasetNotFoundError(
                f"{self.NAME}: {len(missing)} of {len(samples)} videos listed in the split are missing under {str(root)!r}, "
                f"e.g. {missing[0]}. Re-extract the archive, or pass skip_bad=True to leave them out.")
        gone = set(missing)
        present = [s for s in samples if s[0] not in gone]
        super().__init__(root, samples=present, classes=classes, **kwargs)
        if missing:
            from .folder import SkippedFile

            self.skipped = [SkippedFile(root / p, "listed in the split file but missing on disk") for p in missing] + self.skipped
            print(f"{self.NAME}: skipped {len(missing)} video(s) listed in the split but missing on disk")


class UCF101(_OfficialDataset):
    """UCF101 (101 actions, 13,320 YouTube clips) with an official split: ``dataset[i] -> (clip (C, T, H, W), label)``.

    Layout (``root`` defaults to ``course.config.data_dir("ucf101")``)::

        root/UCF-101/<Class>/v_<Class>_gXX_cYY.avi      (from UCF101.rar)
        root/ucfTrainTestlist/classInd.txt, trainlist01.txt, testlist01.txt, ...   (from the split zip)

    ``split`` is 1, 2 or 3; ``subset`` "train" or "test". Other keyword arguments go to :class:`VideoFolder`
    (``frames_per_clip``, ``sampling``, ``transform``, ``cache``, ``decode_size``, ``skip_bad``...).
    """

    NAME = "UCF101"
    FILES = (
        ("https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip",
         "UCF101TrainTestSplits-RecognitionTask.zip",
         "5c0d1a53b8ed364a2ac830a73f405e51bece7d98ce1254fd19ed4a36b224bd27"),  # as recorded by TensorFlow Datasets
        ("https://www.crcv.ucf.edu/data/UCF101/UCF101.rar", "UCF101.rar", None),
    )

    def __init__(self, root=None, split: int = 1, subset: str = "train", frames_per_clip: int = 16, *,
                 annotation_dir=None, download: bool = False, **kwargs):
        root = Path(root) if root is not None else self.default_root()
        _check_split(split, fn="UCF101")
        _check_subset(subset, ("train", "test"), "UCF101")
        if download:
            self.download(root)
        annotation_dir = Path(annotation_dir) if annotation_dir is not None else root / "ucfTrainTestlist"
        if not (annotation_dir / "classInd.txt").is_file():
            raise DatasetNotFoundError(f"UCF101: no split files in {str(annotation_dir)!r}.\n{self.instructions(root)}")
        videos = root / "UCF-101" if (root / "UCF-101").is_dir() else root
        classes, samples = parse_ucf101_split(annotation_dir, split, subset)
        self.split, self.subset = split, subset
        self._finish(videos, samples, classes, dict(kwargs, frames_per_clip=frames_per_clip))

    @classmethod
    def instructions(cls, root: Path) -> str:
        (split_url, split_name, _), (video_url, video_name, _) = cls.FILES
        return (f"Get UCF101 (6.5 GB) from {video_url} and the splits from {split_url}, then:\n"
                f"  mkdir -p {root} && cd {root}\n"
                f"  curl -L -O {split_url} && unzip {split_name}\n"
                f"  curl -L -O {video_url} && unrar x {video_name}      # or: 7z x {video_name}\n"
                f"so that {root}/UCF-101/<Class>/*.avi and {root}/ucfTrainTestlist/ exist. "
                f"UCF101(download=True) does the downloads and the unzip; the .rar needs unrar or 7z.")

    @classmethod
    def download(cls, root) -> None:
        """Download the split zip (checksum-verified) and unpack it; download the video RAR and say how to unpack it."""
        root = Path(root)
        (split_url, split_name, split_sha), (video_url, video_name, video_sha) = cls.FILES
        if not (root / "ucfTrainTestlist" / "classInd.txt").is_file():
            extract_archive(cls._fetch(split_url, root / split_name, split_sha), root)
        if not (root / "UCF-101").is_dir():
            rar = cls._fetch(video_url, root / video_name, video_sha)
            raise DatasetNotFoundError(f"UCF101: downloaded {rar}; unpack it with `unrar x {rar} {root}` "
                                       f"(or `7z x {rar} -o{root}`), then run this again.")


class HMDB51(_OfficialDataset):
    """HMDB51 (51 actions, 6,766 clips from movies and web video) with an official split.

    Layout (``root`` defaults to ``course.config.data_dir("hmdb51")``)::

        root/videos/<class>/<video>.avi                    (hmdb51_org.rar holds one .rar per class)
        root/testTrainMulti_7030_splits/<class>_test_split<N>.txt   (test_train_splits.rar)

    ``split`` 1, 2 or 3; ``subset`` "train" (70 videos per class) or "test" (30 per class). ``num_classes``: how
    many class files the split must have (51; ``None`` for a subset of your own).
    """

    NAME = "HMDB51"
    FILES = (
        ("http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/hmdb51_org.rar", "hmdb51_org.rar", None),
        ("http://serre-lab.clps.brown.edu/wp-content/uploads/2013/10/test_train_splits.rar", "test_train_splits.rar", None),
    )

    def __init__(self, root=None, split: int = 1, subset: str = "train", frames_per_clip: int = 16, *,
                 annotation_dir=None, num_classes: int | None = 51, **kwargs):
        root = Path(root) if root is not None else self.default_root()
        _check_split(split, fn="HMDB51")
        _check_subset(subset, ("train", "test"), "HMDB51")
        annotation_dir = Path(annotation_dir) if annotation_dir is not None else root / "testTrainMulti_7030_splits"
        if not annotation_dir.is_dir():
            raise DatasetNotFoundError(f"HMDB51: no split files in {str(annotation_dir)!r}.\n{self.instructions(root)}")
        videos = root / "videos" if (root / "videos").is_dir() else root
        classes, samples = parse_hmdb51_split(annotation_dir, split, subset, num_classes=num_classes)
        self.split, self.subset = split, subset
        self._finish(videos, samples, classes, dict(kwargs, frames_per_clip=frames_per_clip))

    @classmethod
    def instructions(cls, root: Path) -> str:
        (video_url, video_name, _), (split_url, split_name, _) = cls.FILES
        return (f"Get HMDB51 (2 GB) from {video_url} and the splits from {split_url}, then:\n"
                f"  mkdir -p {root}/videos && cd {root}\n"
                f"  curl -L -O {video_url} && curl -L -O {split_url}\n"
                f"  unrar x {split_name}                 # -> testTrainMulti_7030_splits/\n"
                f"  unrar x {video_name} videos/ && cd videos && for f in *.rar; do unrar x \"$f\"; done && rm *.rar\n"
                f"so that {root}/videos/<class>/*.avi and {root}/testTrainMulti_7030_splits/ exist "
                f"(7z x works instead of unrar x).")


class KTH(_OfficialDataset):
    """KTH human actions (6 actions, 25 persons, 4 scenarios, 599 greyscale 160x120 videos at 25 fps).

    Uses the official person-based split: ``subset`` "train" (persons 11-18), "val" (19-21, 23-25, 1, 4), "test"
    (22, 2, 3, 5-10) or "trainval". Layout: ``root/<class>/person<PP>_<class>_d<S>_uncomp.avi`` (any sub-folder
    depth); ``root`` defaults to ``course.config.data_dir("kth")``. ``download=True`` fetches and unpacks the six zips.
    """

    NAME = "KTH"
    FILES = tuple((f"http://www.csc.kth.se/cvap/actions/{name}.zip", f"{name}.zip", None) for name in KTH_CLASSES)

    def __init__(self, root=None, subset: str = "train", frames_per_clip: int = 16, *, download: bool = False, **kwargs):
        root = Path(root) if root is not None else self.default_root()
        _check_subset(subset, ("train", "val", "test", "trainval"), "KTH")
        if download:
            self.download(root)
        if not root.is_dir():
            raise DatasetNotFoundError(f"KTH: no folder {str(root)!r}.\n{self.instructions(root)}")
        classes, samples = kth_split(root, subset)
        self.subset = subset
        self._finish(root, samples, classes, dict(kwargs, frames_per_clip=frames_per_clip))

    @classmethod
    def instructions(cls, root: Path) -> str:
        lines = [f"Get KTH (about 1 GB) from http://www.csc.kth.se/cvap/actions/ — one zip per action:"]
        lines += [f"  curl -L -o {root}/{name} {url} && unzip {root}/{name} -d {root}/{name[:-4]}" for url, name, _ in cls.FILES]
        lines.append("or run KTH(download=True), which does exactly that (and checks every archive before unpacking).")
        return "\n".join(lines)

    @classmethod
    def download(cls, root) -> None:
        """Download and unpack the six per-action zips into ``root/<action>/`` (skipping actions already there)."""
        root = Path(root)
        for url, name, sha in cls.FILES:
            target = root / name[:-4]
            if target.is_dir() and any(target.rglob("*.avi")):
                continue
            archive = cls._fetch(url, root / name, sha)
            extract_archive(archive, target)
            archive.unlink()
