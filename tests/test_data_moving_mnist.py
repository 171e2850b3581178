"""course.data.load_moving_mnist: reads torchvision's MovingMNIST file into (past, future); never downloads in tests."""
from __future__ import annotations

import numpy as np
import pytest

from course.data import load_moving_mnist


def test_missing_file_says_how_to_get_it_and_does_not_download(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True"):
        load_moving_mnist(root=tmp_path)
    assert not any(tmp_path.rglob("*.npy"))


def test_reads_the_file_as_past_and_future(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, size=(20, 3, 64, 64), dtype=np.uint8)      # the file's layout: (T, N, H, W)
    (tmp_path / "MovingMNIST").mkdir()
    np.save(tmp_path / "MovingMNIST" / "mnist_test_seq.npy", data)
    past, future = load_moving_mnist(root=tmp_path, num_clips=2, num_input=12)
    assert past.shape == (2, 1, 12, 64, 64) and future.shape == (2, 1, 8, 64, 64)
    np.testing.assert_allclose(past[1, 0, 3].numpy(), data[3, 1] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(future[0, 0, 0].numpy(), data[12, 0] / 255.0, rtol=1e-6)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"download": "yes"}, TypeError, "download"), ({"num_clips": 0}, ValueError, "num_clips"),
    ({"num_input": 20}, ValueError, "num_input"),
])
def test_bad_arguments(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        load_moving_mnist(root=tmp_path, **kwargs)
