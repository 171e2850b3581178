import importlib

import numpy as np
import pytest
import torch

from course import config


def test_quick_or_full_follows_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "1")
    assert config.quick_or_full(quick=2, full=30) == 2
    monkeypatch.setenv("COURSE_QUICK", "0")
    assert config.quick_or_full(quick=2, full=30) == 30


def test_quick_flag_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "maybe")
    with pytest.raises(ValueError, match="COURSE_QUICK"):
        config.is_quick()


def test_quick_constant_is_read_at_import(monkeypatch):
    monkeypatch.setenv("COURSE_QUICK", "yes")
    assert importlib.reload(config).QUICK is True
    monkeypatch.setenv("COURSE_QUICK", "")
    assert importlib.reload(config).QUICK is False


def test_data_dir_uses_course_data(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))
    path = config.data_dir("videos", "ucf101")
    assert path == tmp_path / "cache" / "videos" / "ucf101" and path.is_dir()


def test_data_dir_default_is_datasets_cache(monkeypatch):
    monkeypatch.delenv("COURSE_DATA", raising=False)
    path = config.data_dir(create=False)
    assert path.parts[-2:] == ("datasets", "cache")


@pytest.mark.parametrize("bad", ["../escape", "/abs", "", "a/../../b"])
def test_data_dir_refuses_paths_outside_the_cache(bad):
    with pytest.raises(ValueError, match="inside the cache"):
        config.data_dir(bad, create=False)


def test_device_default_and_override(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else None
    dev = config.device()
    assert isinstance(dev, torch.device)
    if expected:
        assert dev.type == expected
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")
    assert config.device("cpu") == torch.device("cpu")


def test_device_rejects_unavailable_or_unknown():
    with pytest.raises(ValueError, match="prefer='banana'"):
        config.device("banana")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available"):
            config.device("cuda")


def test_seed_everything_makes_runs_repeatable():
    config.seed_everything(123)
    first = (np.random.rand(3), torch.rand(3))
    config.seed_everything(123)
    second = (np.random.rand(3), torch.rand(3))
    assert np.array_equal(first[0], second[0]) and torch.equal(first[1], second[1])
    config.seed_everything(124)
    assert not torch.equal(torch.rand(3), second[1])


@pytest.mark.parametrize("bad", [-1, 1.5, "7", True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(bad)
