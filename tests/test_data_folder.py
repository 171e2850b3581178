"""course.data.VideoFolder: scanning, clips, transforms, short videos, bad files, and the decoded-video cache."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from course.data import VideoFolder, VideoReadError, train_transform, write_video


def stamped(t, h=32, w=48, value=0):
    """(T, H, W, 3) uint8 video whose frame i has green level 8 * i in a corner; ``value`` tints the red channel."""
    frames = np.zeros((t, h, w, 3), np.uint8)
    frames[..., 0] = value
    for i in range(t):
        frames[i, :8, :8, 1] = 8 * i
    return frames


def ids(clip: torch.Tensor) -> list[int]:
    """Frame ids of a float clip (C, T, H, W) made from :func:`stamped` frames."""
    return [int(round(float(v) * 255 / 8)) for v in clip[1, :, :8, :8].mean(dim=(1, 2))]


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "videos"
    for c, name in enumerate(["walk", "jump"]):
        for k in range(3):
            write_video(root / name / f"{name}{k}.mkv", stamped(20 + 4 * k, value=100 * c), fps=10, codec="ffv1")
    (root / "walk" / "notes.txt").write_text("not a video")
    (root / "walk" / ".hidden.mkv").write_bytes(b"")
    (root / "empty_class").mkdir()
    return root


def test_scan_classes_and_samples(tree):
    ds = VideoFolder(tree, frames_per_clip=8)
    assert ds.classes == ["jump", "walk"] and ds.class_to_idx == {"jump": 0, "walk": 1}
    assert len(ds) == 6 and ds.targets == [0, 0, 0, 1, 1, 1]
    assert [p.name for p, _ in ds.samples][:3] == ["jump0.mkv", "jump1.mkv", "jump2.mkv"]
    assert "6 videos" in repr(ds)


def test_getitem_returns_float_clip_and_label(tree):
    ds = VideoFolder(tree, frames_per_clip=8, sampling="center")
    clip, label = ds[4]
    assert clip.shape == (3, 8, 32, 48) and clip.dtype == torch.float32 and label == 1
    assert 0 <= clip.min() and clip.max() <= 1
    assert ids(clip) == list(range(8, 16))  # walk1 has 24 frames; the centre clip starts at (24 - 8) // 2
    # the red channel tells the class folders apart: "walk" videos were written with red 0, "jump" with red 100
    assert clip[0].mean() == 0 and ds[0][0][0].mean() == pytest.approx(100 / 255, abs=1e-3)


def test_random_sampling_is_contiguous_and_varies(tree):
    ds = VideoFolder(tree, frames_per_clip=6, step=2)
    torch.manual_seed(0)
    starts = set()
    for _ in range(20):
        got = ids(ds[0][0])
        assert np.all(np.diff(got) == 2)
        starts.add(got[0])
    assert len(starts) > 1


def test_uniform_and_segments(tree):
    assert ids(VideoFolder(tree, frames_per_clip=5, sampling="uniform")[0][0]) == [0, 5, 10, 14, 19]
    assert ids(VideoFolder(tree, frames_per_clip=4, sampling="segments_center")[0][0]) == [2, 7, 12, 17]


def test_short_video_loops_by_default(tmp_path):
    write_video(tmp_path / "a" / "short.mkv", stamped(5), fps=10, codec="ffv1")
    assert ids(VideoFolder(tmp_path, frames_per_clip=8)[0][0]) == [0, 1, 2, 3, 4, 0, 1, 2]
    assert ids(VideoFolder(tmp_path, frames_per_clip=8, short="pad")[0][0]) == [0, 1, 2, 3, 4, 4, 4, 4]
    with pytest.raises(ValueError, match="only 5"):
        VideoFolder(tmp_path, frames_per_clip=8, short="error")[0]


def test_transform_and_dataloader(tree):
    ds = VideoFolder(tree, frames_per_clip=4, transform=train_transform(16, resize=20))
    batch, labels = next(iter(DataLoader(ds, batch_size=3, shuffle=False)))
    assert batch.shape == (3, 3, 4, 16, 16) and labels.tolist() == [0, 0, 0]


def test_decode_size(tree):
    assert VideoFolder(tree, frames_per_clip=4, decode_size=(16, 24))[0][0].shape == (3, 4, 16, 24)


def test_missing_and_empty_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="<class name>") as e:
        VideoFolder(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(e.value)
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="no video files"):
        VideoFolder(tmp_path)


def test_bad_arguments(tree):
    with pytest.raises(ValueError, match="frames_per_clip"):
        VideoFolder(tree, frames_per_clip=0)
    with pytest.raises(ValueError, match="sampling"):
        VideoFolder(tree, sampling="middle")
    with pytest.raises(ValueError, match="short"):
        VideoFolder(tree, short="stretch")
    with pytest.raises(TypeError, match="transform"):
        VideoFolder(tree, transform="flip")
    with pytest.raises(ValueError, match="decode_size"):
        VideoFolder(tree, decode_size=(0, 16))
    with pytest.raises(TypeError, match="root"):
        VideoFolder(None)
    ds = VideoFolder(tree, frames_per_clip=4)
    with pytest.raises(IndexError, match="out of range"):
        ds[6]
    with pytest.raises(TypeError, match="index"):
        ds["a"]
    with pytest.raises(ValueError, match="label"):
        VideoFolder(tree, samples=[("walk/walk0.mkv", 5)], classes=["walk"])


# --- bad files ------------------------------------------------------------------------------------------------------

@pytest.fixture
def dirty(tree):
    (tree / "walk" / "zz_empty.mkv").write_bytes(b"")
    (tree / "jump" / "zz_text.avi").write_text("hello " * 100)
    good = write_video(tree / "jump" / "big.avi", np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), np.uint8), fps=25)
    data = good.read_bytes()
    good.unlink()
    (tree / "jump" / "zz_cut.avi").write_bytes(data[: len(data) // 2])
    return tree


def test_bad_file_raises_naming_it_by_default(dirty):
    ds = VideoFolder(dirty, frames_per_clip=4, sampling="center")
    names = [p.name for p, _ in ds.samples]
    with pytest.raises(VideoReadError) as e:
        ds[names.index("zz_empty.mkv")]
    assert "zz_empty.mkv" in str(e.value)


def test_skip_bad_reports_what_it_skipped(dirty, capsys):
    ds = VideoFolder(dirty, frames_per_clip=4, sampling="center", skip_bad=True)
    out = capsys.readouterr().out
    skipped = {s.path.name for s in ds.skipped}
    assert skipped == {"zz_empty.mkv", "zz_text.avi"}  # headers fail; the truncated one has a valid header
    assert "zz_empty.mkv" in out and "zz_text.avi" in out
    names = [p.name for p, _ in ds.samples]
    cut = names.index("zz_cut.avi")
    with pytest.warns(RuntimeWarning, match="zz_cut.avi"):
        clip, label = ds[cut]
    assert {s.path.name for s in ds.skipped} == skipped | {"zz_cut.avi"}
    assert len(ds) == len(names)  # the length does not change mid-epoch ...
    assert ids(clip) and label == ds.targets[cut]  # ... a video of the same class stands in (issue 9)


def test_verify_decodes_everything_and_drops_failures(dirty, capsys):
    ds = VideoFolder(dirty, frames_per_clip=4)
    bad = ds.verify(progress=False)
    assert {b.path.name for b in bad} == {"zz_empty.mkv", "zz_text.avi", "zz_cut.avi"}
    assert len(ds) == 6 and "zz_cut.avi" in capsys.readouterr().out
    for i in range(len(ds)):
        ds[i]


# --- cache ------------------------------------------------------------------------------------------------------------

def test_cache_gives_the_same_clips_and_writes_uint8_tensors(tree, tmp_path):
    cache = tmp_path / "cache"
    plain = VideoFolder(tree, frames_per_clip=8, sampling="center")
    cached = VideoFolder(tree, frames_per_clip=8, sampling="center", cache=True, cache_dir=cache)
    for i in range(len(plain)):
        a, b = plain[i], cached[i]
        assert torch.equal(a[0], b[0]) and a[1] == b[1]
    entries = sorted(cache.rglob("*.pt"))
    assert len(entries) == 6
    stored = torch.load(entries[0], weights_only=True)
    video = stored["video"]
    assert video.dtype == torch.uint8 and video.ndim == 4 and video.shape[-1] == 3
    assert stored["frame_crc32"].shape == (video.shape[0],)
    again = VideoFolder(tree, frames_per_clip=8, sampling="center", cache=True, cache_dir=cache)
    assert torch.equal(again[2][0], plain[2][0]) and len(list(cache.rglob("*.pt"))) == 6


def test_cache_hit_does_not_decode(tree, tmp_path, monkeypatch):
    ds = VideoFolder(tree, frames_per_clip=4, cache=True, cache_dir=tmp_path / "c")
    ds[0]

    def fail(*args, **kwargs):
        raise AssertionError("decoded although the video is cached")

    monkeypatch.setattr("course.data.folder.read_video", fail)
    monkeypatch.setattr("course.data.folder.read_frames", fail)
    ds[0]


def test_changed_file_is_decoded_again(tree, tmp_path):
    cache = tmp_path / "cache"
    path = tree / "walk" / "walk0.mkv"
    ds = VideoFolder(tree, frames_per_clip=4, sampling="center", cache=True, cache_dir=cache)
    index = [p for p, _ in ds.samples].index(path)
    before = ds[index][0]
    old_entry = ds.cache_path(path)
    assert old_entry.exists()
    write_video(path, stamped(20, value=250), fps=10, codec="ffv1")  # new content, same name
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # be sure the timestamp moves
    after = ds[index][0]
    assert after[0].mean() == pytest.approx(250 / 255, abs=1e-3) and not torch.equal(before, after)
    assert not old_entry.exists() and ds.cache_path(path).exists()
    assert len(list(old_entry.parent.glob("*.pt"))) == 1


def test_two_decode_sizes_keep_their_own_entries(tree, tmp_path):
    cache = tmp_path / "cache"
    small = VideoFolder(tree, frames_per_clip=4, decode_size=(16, 24), cache=True, cache_dir=cache)
    full = VideoFolder(tree, frames_per_clip=4, cache=True, cache_dir=cache)
    assert small[0][0].shape[-2:] == (16, 24) and full[0][0].shape[-2:] == (32, 48)
    assert small[0][0].shape[-2:] == (16, 24)
    assert sorted(p.name.split("-", 2)[2] for p in cache.rglob("*.pt")) == ["16x24.pt", "orig.pt"]


def test_damaged_cache_entry_is_rebuilt(tree, tmp_path):
    ds = VideoFolder(tree, frames_per_clip=4, sampling="center", cache=True, cache_dir=tmp_path / "c")
    good = ds[0][0]
    entry = ds.cache_path(ds.samples[0][0])
    entry.write_bytes(b"garbage")
    fresh = VideoFolder(tree, frames_per_clip=4, sampling="center", cache=True, cache_dir=tmp_path / "c")
    with pytest.warns(RuntimeWarning, match="damaged: it cannot be read"):
        assert torch.equal(fresh[0][0], good)
    assert torch.load(entry, weights_only=True)["video"].dtype == torch.uint8, "the entry was written again"


def test_an_entry_of_the_earlier_format_is_decoded_again_quietly(tree, tmp_path):
    ds = VideoFolder(tree, frames_per_clip=4, sampling="center", cache=True, cache_dir=tmp_path / "c")
    good = ds[0][0]
    entry = ds.cache_path(ds.samples[0][0])
    torch.save(torch.zeros(20, 32, 48, 3, dtype=torch.uint8), entry)  # a bare tensor, as entries used to be
    fresh = VideoFolder(tree, frames_per_clip=4, sampling="center", cache=True, cache_dir=tmp_path / "c")
    assert torch.equal(fresh[0][0], good) and isinstance(torch.load(entry, weights_only=True), dict)


def test_cache_uses_data_dir_by_default(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course_data"))
    ds = VideoFolder(tree, frames_per_clip=4, cache=True)
    ds[0]
    assert ds.cache_dir == tmp_path / "course_data" / "decoded_videos"
    assert len(list(ds.cache_dir.rglob("*.pt"))) == 1


def test_worker_processes_share_the_cache(tree, tmp_path):
    ds = VideoFolder(tree, frames_per_clip=4, sampling="center", cache=True, cache_dir=tmp_path / "c")
    ds[0]
    ds[0]  # now served memory-mapped; a pickled copy (what spawned workers get) maps the files itself
    import pickle

    assert ds._mapped and pickle.loads(pickle.dumps(ds))._mapped == {}
    loader = DataLoader(ds, batch_size=2, num_workers=2)
    batches = list(loader)
    assert sum(len(labels) for _, labels in batches) == 6
    assert torch.equal(batches[0][0][0], VideoFolder(tree, frames_per_clip=4, sampling="center")[0][0])
    assert len(list((tmp_path / "c").rglob("*.pt"))) == 6
