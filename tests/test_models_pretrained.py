"""Tests for course.models.pretrained: shipped checkpoints load offline; missing or tampered files are clear errors."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from course.models import PretrainedError, available_pretrained, load_pretrained, pretrained_info
from course.models.pretrained import PRETRAINED_DIR, sha256_of

SHIPPED = ["c3d_small_moving_shapes", "cnn_lstm_moving_shapes"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_loads_and_is_small(name):
    assert name in available_pretrained()
    info = pretrained_info(name)
    path = PRETRAINED_DIR / info["file"]
    assert path.stat().st_size <= 10 * 1024 * 1024
    model = load_pretrained(name)
    assert not model.training
    x = torch.rand(2, 3, 16, 32, 32)
    with torch.no_grad():
        assert model(x).shape == (2, 10)


def test_every_manifest_entry_matches_its_file():
    for name in available_pretrained():
        info = pretrained_info(name)
        assert sha256_of(PRETRAINED_DIR / info["file"]) == info["sha256"], name


@pytest.fixture
def copy_dir(tmp_path):
    target = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED_DIR, target)
    return target


def test_tampered_file_is_refused(copy_dir):
    name = SHIPPED[0]
    path = copy_dir / pretrained_info(name)["file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(PretrainedError, match="SHA-256"):
        load_pretrained(name, directory=copy_dir)


def test_missing_file_is_a_clear_error(copy_dir):
    name = SHIPPED[1]
    (copy_dir / pretrained_info(name)["file"]).unlink()
    with pytest.raises(PretrainedError, match="missing"):
        load_pretrained(name, directory=copy_dir)


def test_missing_manifest_and_unknown_name(copy_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown checkpoint"):
        load_pretrained("c3d_imagenet", directory=copy_dir)
    (copy_dir / "manifest.json").unlink()
    with pytest.raises(PretrainedError, match="manifest"):
        load_pretrained(SHIPPED[0], directory=copy_dir)


def test_manifest_cannot_name_arbitrary_code(copy_dir):
    manifest = json.loads((copy_dir / "manifest.json").read_text())
    manifest[SHIPPED[0]]["builder"] = "os.system"
    (copy_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PretrainedError, match="builder"):
        load_pretrained(SHIPPED[0], directory=copy_dir)


def test_shipped_checkpoints_reach_their_recorded_test_accuracy():
    """The accuracy in the manifest is what the file really scores on the test split it names (not a typed number)."""
    from course.data import MovingShapes, tensor_dataset

    names = [n for n in available_pretrained() if pretrained_info(n)["dataset"]["name"] == "MovingShapes"]
    assert set(SHIPPED) <= set(names)
    clips_by_split = {}
    for name in names:
        info = pretrained_info(name)
        ds = info["dataset"]
        key = (ds["seed"], ds["test_clips"], ds["num_frames"], ds["size"])
        if key not in clips_by_split:
            test = MovingShapes("test", num_clips=ds["test_clips"], seed=ds["seed"], num_frames=ds["num_frames"],
                                size=ds["size"])
            clips_by_split[key] = tensor_dataset(test).tensors
        clips, labels = clips_by_split[key]
        model = load_pretrained(name)
        with torch.no_grad():
            predictions = torch.cat([model(batch).argmax(1) for batch in clips.split(100)])
        accuracy = (predictions == labels).float().mean().item()
        assert abs(accuracy - info["test_acc"]) <= 0.01, f"{name}: measured {accuracy:.4f}, manifest {info['test_acc']}"
