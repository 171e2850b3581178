"""Issue 23, items 6-8: a full disk, a damaged video cache, an inconsistent pretrained manifest, hostile uploads.

(Items 1-5, archives and downloads, are in test_hardening_archives.py and test_hardening_downloads.py.)"""
from __future__ import annotations

import errno
import io
import json
import os
import shutil

import numpy as np
import pytest
import torch


# --- 6. a full disk -------------------------------------------------------------------------------------------------

def test_save_checkpoint_on_a_full_disk_says_so_and_leaves_no_temporary(tmp_path, monkeypatch):
    from torch import nn

    from course.train import checkpoint as ckpt

    path = tmp_path / "run.pt"
    ckpt.save_checkpoint(path, model=nn.Linear(3, 2))
    before = path.read_bytes()
    real_open = open

    def dev_full(file, mode="r", *args, **kwargs):  # the temporary file is created, every write hits ENOSPC
        real_open(file, mode).close()
        return real_open("/dev/full", mode)

    torch_error = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    real_save = torch.save

    def torch_fails(obj, f, *args, **kwargs):
        if isinstance(f, io.BytesIO):  # save_checkpoint serializes in memory first; the file write is what fails
            return real_save(obj, f, *args, **kwargs)
        f.write(b"partial")
        raise torch_error

    for how in ("/dev/full", "torch RuntimeError"):
        with monkeypatch.context() as m:
            if how == "/dev/full":
                if not os.path.exists("/dev/full"):
                    continue
                m.setattr(ckpt, "open", dev_full, raising=False)
            else:
                m.setattr(torch, "save", torch_fails)
            with pytest.raises(OSError, match="disk is full") as err:
                ckpt.save_checkpoint(path, model=nn.Linear(3, 2))
        assert err.value.errno == errno.ENOSPC and "run.pt" in str(err.value)
        assert [p.name for p in tmp_path.iterdir()] == ["run.pt"] and path.read_bytes() == before


def videos(tmp_path):
    from course.data import write_video

    root = tmp_path / "videos"
    for name, value in (("walk", 60), ("run", 200)):
        (root / name).mkdir(parents=True)
        frames = np.full((12, 16, 24, 3), value, np.uint8)
        frames[:, :, :, 0] = np.arange(12, dtype=np.uint8)[:, None, None] * 20
        write_video(root / name / f"{name}0.mkv", frames, fps=10, codec="ffv1")
    return root


def test_video_cache_on_a_full_disk_says_so_and_leaves_no_temporary(tmp_path, monkeypatch):
    from course.data import VideoFolder

    ds = VideoFolder(videos(tmp_path), frames_per_clip=4, cache=True, cache_dir=tmp_path / "cache")

    def torch_fails(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):
            f = open(f, "wb")
        f.write(b"partial")
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")

    monkeypatch.setattr(torch, "save", torch_fails)
    with pytest.raises(OSError, match="disk is full") as err:
        ds[0]
    assert err.value.errno == errno.ENOSPC
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


# --- 7. integrity: the video cache, the pretrained manifest ----------------------------------------------------------

def test_a_bit_flip_in_a_cache_entry_is_detected_and_decoded_again(tmp_path):
    from course.data import VideoFolder, read_video

    root = videos(tmp_path)
    ds = VideoFolder(root, frames_per_clip=4, cache=True, cache_dir=tmp_path / "cache")
    path = ds.samples[0][0]
    ds.cached_video(path)
    entry = ds.cache_path(path)
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0x10
    entry.write_bytes(bytes(data))
    fresh = VideoFolder(root, frames_per_clip=4, cache=True, cache_dir=tmp_path / "cache")
    with pytest.warns(RuntimeWarning, match=r"damaged: frame \d+ does not match its checksum; decoding .*\.mkv again"):
        video = fresh.cached_video(path)
    assert torch.equal(video, read_video(path))
    again = VideoFolder(root, frames_per_clip=4, cache=True, cache_dir=tmp_path / "cache")
    assert torch.equal(again.cached_video(path), video), "the entry was rewritten"


@pytest.fixture
def manifest_copy(tmp_path):
    from course.models.pretrained import PRETRAINED_DIR

    target = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, target)
    return target


def edit_manifest(folder, name, **changes):
    manifest = json.loads((folder / "manifest.json").read_text())
    for key, value in changes.items():
        if value is None:
            manifest[name].pop(key)
        else:
            manifest[name][key] = value
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_a_manifest_entry_without_sha256_is_a_clear_error(manifest_copy):
    from course.models import PretrainedError, load_pretrained

    edit_manifest(manifest_copy, "c3d_small_moving_shapes", sha256=None)
    with pytest.raises(PretrainedError, match=r"c3d_small_moving_shapes.*no 'sha256'.*reinstall"):
        load_pretrained("c3d_small_moving_shapes", directory=manifest_copy)


def test_a_manifest_whose_builder_does_not_fit_the_file_is_a_clear_error(manifest_copy):
    from course.models import PretrainedError, load_pretrained

    manifest = json.loads((manifest_copy / "manifest.json").read_text())
    other = manifest["cnn_lstm_moving_shapes"]
    edit_manifest(manifest_copy, "c3d_small_moving_shapes", builder=other["builder"], kwargs=other["kwargs"])
    with pytest.raises(PretrainedError, match=r"c3d_small_moving_shapes.*do not fit.*CNNLSTM.*regenerate"):
        load_pretrained("c3d_small_moving_shapes", directory=manifest_copy)
    edit_manifest(manifest_copy, "c3d_small_moving_shapes", kwargs={"no_such_argument": 1})
    with pytest.raises(PretrainedError, match=r"c3d_small_moving_shapes.*kwargs"):
        load_pretrained("c3d_small_moving_shapes", directory=manifest_copy)


def test_a_manifest_file_outside_its_folder_is_refused(manifest_copy):
    from course.models import PretrainedError, load_pretrained

    edit_manifest(manifest_copy, "c3d_small_moving_shapes", file="../outside.pt")
    with pytest.raises(PretrainedError, match=r"'file'.*file name in"):
        load_pretrained("c3d_small_moving_shapes", directory=manifest_copy)


# --- 8. the upload widget ---------------------------------------------------------------------------------------------

def make_widget(tmp_path, monkeypatch, **kwargs):
    pytest.importorskip("ipywidgets")
    from course.train.real_video import RecipeConfig, build_model
    from course.viz.upload import upload_widget

    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    config = RecipeConfig(decode_size=(32, 32), crop=(32, 32), eval_clips=1)
    return upload_widget(build_model(2, config), ["a", "b"], config=config, **kwargs)


@pytest.fixture
def widget(tmp_path, monkeypatch):
    return make_widget(tmp_path, monkeypatch, max_bytes=50_000)


def uploads_left(tmp_path):
    folder = tmp_path / "data" / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("name", ["..", ".", "...", "", "../../evil.mp4", "/etc/passwd", "..\\..\\x.mp4", ".bashrc"])
def test_upload_names_never_leave_the_uploads_folder(widget, tmp_path, name):
    assert widget.handle(name, b"not a video") is None and "Could not read" in widget.status.value
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["uploads"]
    assert uploads_left(tmp_path) == [], "an upload that could not be decoded is removed"


def test_an_upload_named_dot_dot_is_decoded_from_inside_the_uploads_folder(widget, tmp_path):
    from course.data import shape_video_frames, write_video

    video = write_video(tmp_path / "clip.mp4", shape_video_frames("fast", idle_before=4, idle_after=4, size=32), 25)
    assert widget.handle("..", video.read_bytes()) is not None and "prediction" in widget.status.value
    assert uploads_left(tmp_path) == ["video"]


def test_upload_over_the_size_cap_is_refused_before_writing(widget, tmp_path):
    assert widget.handle("big.mp4", bytes(50_001)) is None
    assert "too large" in widget.status.value and "max_bytes=50,000" in widget.status.value
    assert uploads_left(tmp_path) == []


def test_upload_default_cap_refuses_a_200_mb_file(tmp_path, monkeypatch):
    box = make_widget(tmp_path, monkeypatch)
    assert box.handle("huge.mp4", memoryview(bytearray(200 * 2 ** 20))) is None
    assert "too large" in box.status.value and uploads_left(tmp_path) == []
    with pytest.raises(ValueError, match="max_bytes"):
        make_widget(tmp_path, monkeypatch, max_bytes=0)
