"""UCF101 / HMDB51 / KTH: official split-file parsing and dataset construction on small fixtures the tests write."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.data import HMDB51, KTH, UCF101, DatasetNotFoundError, parse_hmdb51_split, parse_ucf101_split, write_video
from course.data.real_datasets import KTH_PERSONS, kth_split


def tiny_video(path, t=12):
    frames = np.zeros((t, 16, 16, 3), np.uint8)
    frames[:, :, :, 0] = np.arange(t, dtype=np.uint8)[:, None, None] * 20
    return write_video(path, frames, fps=25, codec="ffv1")


@pytest.fixture
def ucf(tmp_path):
    """A 3-class UCF101 look-alike: official file formats (CRLF lines), videos in root/UCF-101/<Class>/."""
    root = tmp_path / "ucf101"
    ann = root / "ucfTrainTestlist"
    ann.mkdir(parents=True)
    classes = ["ApplyEyeMakeup", "Basketball", "YoYo"]
    (ann / "classInd.txt").write_bytes("".join(f"{i} {c}\r\n" for i, c in enumerate(classes, 1)).encode())
    train, test = [], []
    for i, c in enumerate(classes, 1):
        for g in (1, 2, 3):
            name = f"{c}/v_{c}_g0{g}_c01.avi"
            tiny_video(root / "UCF-101" / name.replace(".avi", ".avi"))
            (test if g == 1 else train).append(name)
    for split in (1, 2, 3):
        (ann / f"trainlist0{split}.txt").write_bytes(
            "".join(f"{n} {classes.index(n.split('/')[0]) + 1}\r\n" for n in train).encode())
        (ann / f"testlist0{split}.txt").write_bytes("".join(f"{n}\r\n" for n in test).encode())
    return root


def test_parse_ucf101_split(ucf):
    classes, train = parse_ucf101_split(ucf / "ucfTrainTestlist", 1, "train")
    assert classes == ["ApplyEyeMakeup", "Basketball", "YoYo"]
    assert len(train) == 6 and train[0] == ("ApplyEyeMakeup/v_ApplyEyeMakeup_g02_c01.avi", 0)
    assert [label for _, label in train] == [0, 0, 1, 1, 2, 2]
    _, test = parse_ucf101_split(ucf / "ucfTrainTestlist", 1, "test")
    assert test == [(f"{c}/v_{c}_g01_c01.avi", i) for i, c in enumerate(classes)]


def test_parse_ucf101_split_reports_bad_lines(ucf):
    ann = ucf / "ucfTrainTestlist"
    (ann / "trainlist02.txt").write_text("Basketball/v_Basketball_g02_c01.avi 1\n")  # label 1 is ApplyEyeMakeup
    with pytest.raises(ValueError, match=r"trainlist02.txt:1: label 1 does not match folder 'Basketball'"):
        parse_ucf101_split(ann, 2, "train")
    (ann / "testlist03.txt").write_text("Unknown/v.avi\n")
    with pytest.raises(ValueError, match="testlist03.txt:1"):
        parse_ucf101_split(ann, 3, "test")
    with pytest.raises(ValueError, match="split"):
        parse_ucf101_split(ann, 4, "train")
    with pytest.raises(ValueError, match="subset"):
        parse_ucf101_split(ann, 1, "val")
    with pytest.raises(FileNotFoundError, match="classInd.txt"):
        parse_ucf101_split(ucf, 1, "train")


def test_ucf101_dataset(ucf):
    train = UCF101(ucf, split=1, subset="train", frames_per_clip=4, sampling="center")
    test = UCF101(ucf, split=1, subset="test", frames_per_clip=4)
    assert len(train) == 6 and len(test) == 3 and len(train.classes) == 3
    clip, label = train[3]
    assert clip.shape == (3, 4, 16, 16) and label == 1
    assert not {p for p, _ in train.samples} & {p for p, _ in test.samples}


def test_ucf101_missing_videos(ucf, capsys):
    (ucf / "UCF-101" / "YoYo" / "v_YoYo_g02_c01.avi").unlink()
    with pytest.raises(DatasetNotFoundError, match="1 of 6 videos"):
        UCF101(ucf, subset="train")
    ds = UCF101(ucf, subset="train", skip_bad=True)
    assert len(ds) == 5 and [s.path.name for s in ds.skipped] == ["v_YoYo_g02_c01.avi"]
    assert "missing on disk" in capsys.readouterr().out


def test_ucf101_not_downloaded_prints_instructions(tmp_path):
    with pytest.raises(DatasetNotFoundError) as e:
        UCF101(tmp_path / "nothing_here")
    message = str(e.value)
    assert "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar" in message and "unrar x" in message
    assert "UCF101TrainTestSplits-RecognitionTask.zip" in message and str(tmp_path / "nothing_here") in message


def test_ucf101_default_root_is_in_the_data_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))
    with pytest.raises(DatasetNotFoundError, match=str(tmp_path / "cache" / "ucf101")):
        UCF101()


@pytest.fixture
def hmdb(tmp_path):
    root = tmp_path / "hmdb51"
    ann = root / "testTrainMulti_7030_splits"
    ann.mkdir(parents=True)
    for c in ("brush_hair", "wave"):
        lines = []
        for k, role in enumerate([1, 1, 2, 0]):
            name = f"{c}_clip_{k}.avi"
            tiny_video(root / "videos" / c / name)
            lines.append(f"{name} {role} \n")  # the official files have a trailing space
        for split in (1, 2, 3):
            (ann / f"{c}_test_split{split}.txt").write_text("".join(lines))
    return root


def test_parse_hmdb51_split(hmdb):
    classes, train = parse_hmdb51_split(hmdb / "testTrainMulti_7030_splits", 1, "train", num_classes=2)
    assert classes == ["brush_hair", "wave"]
    assert train == [("brush_hair/brush_hair_clip_0.avi", 0), ("brush_hair/brush_hair_clip_1.avi", 0),
                     ("wave/wave_clip_0.avi", 1), ("wave/wave_clip_1.avi", 1)]
    _, test = parse_hmdb51_split(hmdb / "testTrainMulti_7030_splits", 2, "test", num_classes=2)
    assert test == [("brush_hair/brush_hair_clip_2.avi", 0), ("wave/wave_clip_2.avi", 1)]  # id 0 = unused


def test_hmdb51_dataset_and_bad_lines(hmdb):
    ds = HMDB51(hmdb, split=1, subset="test", frames_per_clip=3, num_classes=2)
    assert len(ds) == 2 and ds[1][0].shape == (3, 3, 16, 16) and ds[1][1] == 1
    (hmdb / "testTrainMulti_7030_splits" / "wave_test_split3.txt").write_text("wave_clip_0.avi 7\n")
    with pytest.raises(ValueError, match="wave_test_split3.txt:1"):
        parse_hmdb51_split(hmdb / "testTrainMulti_7030_splits", 3, num_classes=2)
    with pytest.raises(DatasetNotFoundError, match="unrar"):
        HMDB51(hmdb / "elsewhere")


@pytest.fixture
def kth(tmp_path):
    root = tmp_path / "kth"
    for person in (1, 2, 11, 12, 19):
        for action in ("boxing", "walking"):
            tiny_video(root / action / f"person{person:02d}_{action}_d1_uncomp.avi")
    (root / "walking" / "readme.avi").write_bytes(b"")  # not a KTH name: ignored
    return root


def test_kth_person_split(kth):
    assert set(KTH_PERSONS["train"]) | set(KTH_PERSONS["val"]) | set(KTH_PERSONS["test"]) == set(range(1, 26))
    assert not set(KTH_PERSONS["train"]) & set(KTH_PERSONS["test"])
    classes, train = kth_split(kth, "train")
    assert classes[0] == "boxing" and len(classes) == 6
    assert sorted(p.name for p, _ in train) == ["person11_boxing_d1_uncomp.avi", "person11_walking_d1_uncomp.avi",
                                                "person12_boxing_d1_uncomp.avi", "person12_walking_d1_uncomp.avi"]
    assert {label for _, label in train} == {0, 5}
    assert len(kth_split(kth, "test")[1]) == 2 and len(kth_split(kth, "val")[1]) == 4  # test: person 2; val: 1 and 19
    assert len(kth_split(kth, "trainval")[1]) == 8
    ds = KTH(kth, subset="val", frames_per_clip=4)
    assert len(ds) == 4 and ds[0][0].shape == (3, 4, 16, 16)
    with pytest.raises(ValueError, match="subset"):
        KTH(kth, subset="dev")


def test_kth_missing_says_how_to_download(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="walking.zip"):
        KTH(tmp_path / "nope")


def test_kth_download_uses_the_safe_downloader(kth, tmp_path, monkeypatch):
    """download=True fetches each zip and unpacks it; here the 'server' is a folder of zips made by the test."""
    import zipfile

    from course.data import real_datasets

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    files = []
    for url, name, _ in KTH.FILES:
        action = name[:-4]
        with zipfile.ZipFile(mirror / name, "w") as zf:
            for person in (11, 22):
                zf.write(kth / "boxing" / "person11_boxing_d1_uncomp.avi", f"person{person:02d}_{action}_d2_uncomp.avi")
        files.append(((mirror / name).as_uri(), name, None))
    monkeypatch.setattr(real_datasets.KTH, "FILES", tuple(files))
    root = tmp_path / "fresh"
    train = KTH(root, subset="train", frames_per_clip=4, download=True)
    assert len(train) == 6 and sorted(set(train.targets)) == list(range(6))
    assert not list(root.glob("*.zip")), "archives are removed after extraction"
    assert isinstance(train[0][0], torch.Tensor)


def test_download_offline_prints_the_manual_instructions(tmp_path, monkeypatch):
    import socket

    from course.data import real_datasets

    with socket.socket() as s:  # a port nobody listens on stands in for "no network"
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(real_datasets.KTH, "FILES", (("http://127.0.0.1:%d/walking.zip" % port, "walking.zip", None),))
    with pytest.raises(DatasetNotFoundError, match="by hand") as e:
        KTH(tmp_path / "kth", download=True)
    assert "unzip" in str(e.value) and not list((tmp_path / "kth").glob("*.part"))
