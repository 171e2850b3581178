"""Issue 9, part 5: the smaller bad-input holes in VideoFolder, the split files, ClipTransform, write_video, fit."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from course.data import ClipTransform, VideoFolder, VideoReadError, parse_hmdb51_split, parse_ucf101_split, write_video
from course.data.real_datasets import HMDB51_CLASSES


def tagged(t, value):
    """(T, 16, 16, 3) uint8 frames whose red channel is ``value`` (so a clip tells which video it came from)."""
    frames = np.zeros((t, 16, 16, 3), np.uint8)
    frames[..., 0] = value
    return frames


@pytest.fixture
def tree(tmp_path):
    """walk/: a good video (red 40), a truncated one; jump/: two good videos (red 200, 220)."""
    root = tmp_path / "videos"
    write_video(root / "walk" / "a_good.mkv", tagged(12, 40), fps=10, codec="ffv1")
    write_video(root / "jump" / "a_one.mkv", tagged(12, 200), fps=10, codec="ffv1")
    write_video(root / "jump" / "b_two.mkv", tagged(12, 220), fps=10, codec="ffv1")
    big = write_video(root / "walk" / "big.avi", np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), np.uint8),
                      fps=25)
    data = big.read_bytes()
    big.unlink()
    (root / "walk" / "b_cut.avi").write_bytes(data[: len(data) // 2])  # header fine, decoding fails half-way
    return root


def red(clip):
    return round(float(clip[0].mean()) * 255)


def test_skip_bad_substitutes_a_video_of_the_same_class(tree):
    ds = VideoFolder(tree, frames_per_clip=4, sampling="center", skip_bad=True)
    cut = [p.name for p, _ in ds.samples].index("b_cut.avi")
    with pytest.warns(RuntimeWarning, match="b_cut.avi"):
        clip, label = ds[cut]
    assert label == ds.targets[cut] == ds.class_to_idx["walk"]
    assert red(clip) == 40, "the clip must come from the other walk video, not from the next (jump) one"


def test_skip_bad_with_no_readable_video_of_that_class_raises(tree):
    (tree / "walk" / "a_good.mkv").unlink()
    ds = VideoFolder(tree, frames_per_clip=4, sampling="center", skip_bad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(VideoReadError, match="no video of class 'walk'"):
            ds[[p.name for p, _ in ds.samples].index("b_cut.avi")]


def test_skip_bad_labels_stay_honest_in_dataloader_workers(tree):
    ds = VideoFolder(tree, frames_per_clip=4, sampling="center", skip_bad=True)
    loader = DataLoader(ds, batch_size=1, num_workers=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (clip, label) in enumerate(loader):
            assert int(label) == ds.targets[i]
            assert (red(clip[0]) == 40) == (ds.classes[int(label)] == "walk")
    assert [s.path.name for s in ds.verify(progress=False)] == ["b_cut.avi"], "verify() sees what workers cannot report"


def test_a_decode_size_the_scaler_refuses_is_not_file_corruption(tree):
    with pytest.raises(ValueError, match="decode_size"):
        VideoFolder(tree, decode_size=(100_000, 100_000))
    ds = VideoFolder(tree, frames_per_clip=2, decode_size=(16384, 16384), skip_bad=True)
    with pytest.raises(ValueError, match="scaler cannot resize"):
        ds[0]
    assert ds.skipped == [], "a good file must not be reported as bad because of the size asked for"


def test_classes_must_name_every_folder_and_set_the_label_order(tree):
    with pytest.raises(ValueError, match=r"VideoFolder\(classes\).*'walk'"):
        VideoFolder(tree, classes=["jump"])
    ds = VideoFolder(tree, classes=["walk", "jump", "run"])
    assert {p.parent.name: label for p, label in ds.samples} == {"walk": 0, "jump": 1}


@pytest.mark.parametrize("bad", [".avi", "avi", [".avi", 3], ["mkv"]])
def test_extensions_must_be_a_list_of_suffixes(tree, bad):
    with pytest.raises(ValueError, match="VideoFolder.extensions"):
        VideoFolder(tree, extensions=bad)


# --- split files ----------------------------------------------------------------------------------------------------

def hmdb_dir(tmp_path, classes):
    ann = tmp_path / "splits"
    ann.mkdir()
    for c in classes:
        for split in (1, 2, 3):
            (ann / f"{c}_test_split{split}.txt").write_text(f"{c}_a.avi 1 \n{c}_b.avi 2 \n")
    return ann


def test_hmdb51_missing_class_file_is_an_error_naming_it(tmp_path):
    ann = hmdb_dir(tmp_path, HMDB51_CLASSES)
    classes, _ = parse_hmdb51_split(ann, 1)
    assert len(classes) == 51
    (ann / "kiss_test_split2.txt").unlink()  # one split of one class
    with pytest.raises(FileNotFoundError, match="kiss_test_split2.txt"):
        parse_hmdb51_split(ann, 2)
    for split in (1, 3):
        (ann / f"kiss_test_split{split}.txt").unlink()  # the class entirely gone
    with pytest.raises(FileNotFoundError, match=r"found 50 class files .* expected 51; missing: kiss_test_split1.txt"):
        parse_hmdb51_split(ann, 1)


def test_duplicate_lines_are_used_once(tmp_path):
    ann = hmdb_dir(tmp_path, ["wave"])
    (ann / "wave_test_split1.txt").write_text("wave_a.avi 1\nwave_b.avi 1\nwave_a.avi 1\n")
    with pytest.warns(UserWarning, match=r"wave_test_split1.txt:3: 'wave/wave_a.avi' is listed again"):
        _, train = parse_hmdb51_split(ann, 1, num_classes=None)
    assert train == [("wave/wave_a.avi", 0), ("wave/wave_b.avi", 0)]
    ucf = tmp_path / "ucf"
    ucf.mkdir()
    (ucf / "classInd.txt").write_text("1 YoYo\n")
    (ucf / "trainlist01.txt").write_text("YoYo/v_1.avi 1\nYoYo/v_1.avi 1\n")
    with pytest.warns(UserWarning, match="listed again"):
        assert parse_ucf101_split(ucf, 1)[1] == [("YoYo/v_1.avi", 0)]


@pytest.mark.parametrize("entry", ["YoYo/../../secret.avi", "YoYo/../YoYo/../../x.avi"])
def test_split_entries_leaving_the_root_are_refused(tmp_path, entry):
    (tmp_path / "classInd.txt").write_text("1 YoYo\n")
    (tmp_path / "testlist01.txt").write_text(f"{entry}\n")
    with pytest.raises(ValueError, match=r"testlist01.txt:1: the entry .* points outside the dataset folder"):
        parse_ucf101_split(tmp_path, 1, "test")
    (tmp_path / "h").mkdir()
    ann = hmdb_dir(tmp_path / "h", ["wave"])
    (ann / "wave_test_split1.txt").write_text("../../secret.avi 1\n")
    with pytest.raises(ValueError, match="points outside the dataset folder"):
        parse_hmdb51_split(ann, 1, num_classes=None)


# --- ClipTransform, write_video, fit ----------------------------------------------------------------------------------

@pytest.mark.parametrize("mean, std, match", [
    ((0.5, 0.5, 0.5), (0.2, float("nan"), 0.2), "std"),
    ((0.5, float("inf"), 0.5), (0.2, 0.2, 0.2), "mean"),
    ((0.5, 0.5), (0.2, 0.2), "mean"),                 # two values for three channels
    ((0.5, 0.5, 0.5), (0.2,), "one value per channel"),
    ("abc", (0.2, 0.2, 0.2), "mean"),
    ((0.5, 0.5, 0.5), (0.2, 0.0, 0.2), "positive"),
])
def test_clip_transform_rejects_bad_normalisation(mean, std, match):
    with pytest.raises(ValueError, match=match):
        ClipTransform(mean=mean, std=std)


def test_clip_transform_single_value_normalisation_still_works():
    out = ClipTransform(mean=[0.5], std=[0.5])(torch.full((2, 4, 4, 3), 255, dtype=torch.uint8))
    assert torch.allclose(out, torch.ones_like(out))
    with pytest.raises(ValueError, match="channel"):
        ClipTransform(mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))(torch.zeros(2, 4, 4, 1, dtype=torch.uint8))


@pytest.mark.parametrize("quality", [True, False, 2.5, -1, 52])
def test_write_video_quality_must_be_an_int(tmp_path, quality):
    with pytest.raises(ValueError, match="quality"):
        write_video(tmp_path / "x.mp4", np.zeros((2, 16, 16, 3), np.uint8), fps=10, quality=quality)
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("bad", [math.nan, math.inf, True, 0, -1.0])
def test_fit_rejects_a_max_grad_norm_that_is_not_a_positive_finite_number(bad):
    from course.train import fit

    model = torch.nn.Linear(2, 2)
    loader = DataLoader(TensorDataset(torch.randn(4, 2), torch.tensor([0, 1, 0, 1])), batch_size=2)
    with pytest.raises(ValueError, match="max_grad_norm"):
        fit(model, loader, epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), max_grad_norm=bad,
            progress=False)
