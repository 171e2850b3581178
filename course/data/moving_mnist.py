"""The standard Moving MNIST benchmark (Srivastava, Mansimov and Salakhutdinov, *Unsupervised Learning of Video
Representations using LSTMs*, ICML 2015) through ``torchvision.datasets.MovingMNIST``, for learners with internet.

The course itself uses :class:`course.data.MovingDigits` (made offline); this loader gives the same (past, future)
layout for the real benchmark: 10,000 sequences of 20 frames of 64x64 with two MNIST digits. torchvision downloads
``mnist_test_seq.npy`` (about 800 MB, md5-checked by torchvision) only when asked: ``download=True``.
"""
from __future__ import annotations

import numbers
from pathlib import Path

import torch

from ..config import data_dir

__all__ = ["load_moving_mnist"]


def load_moving_mnist(*, download: bool = False, root=None, num_clips: int | None = None,
                      num_input: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """Moving MNIST as two float32 tensors in [0, 1]: past (N, 1, num_input, 64, 64) and future (N, 1, 20 - num_input,
    64, 64).

    ``root``: the folder holding ``MovingMNIST/mnist_test_seq.npy`` (default: the course's data cache,
    ``course.config.data_dir("moving_mnist")``). ``download=True`` fetches it with torchvision if it is missing;
    without it a missing file is a ``FileNotFoundError`` that says how to get it. ``num_clips``: the first N
    sequences only (all 10,000 take 800 MB as uint8, four times that as float).
    """
    from torchvision.datasets import MovingMNIST

    if not isinstance(download, bool):
        raise TypeError(f"load_moving_mnist(download): expected True or False, got {download!r}")
    if num_clips is not None and (not isinstance(num_clips, numbers.Integral) or isinstance(num_clips, bool)
                                  or num_clips < 1):
        raise ValueError(f"load_moving_mnist(num_clips): expected a positive int or None, got {num_clips!r}")
    if not isinstance(num_input, numbers.Integral) or isinstance(num_input, bool) or not 1 <= num_input <= 19:
        raise ValueError(f"load_moving_mnist(num_input): expected an int in 1..19, got {num_input!r}")
    root = Path(root) if root is not None else data_dir("moving_mnist")
    try:
        dataset = MovingMNIST(str(root), download=download)
    except RuntimeError as err:
        if "not found" not in str(err).lower():
            raise
        raise FileNotFoundError(
            f"load_moving_mnist: {root / 'MovingMNIST' / 'mnist_test_seq.npy'} does not exist. Pass download=True to "
            f"fetch it (about 800 MB) from {MovingMNIST._URL}, or put the file there by hand.") from None
    videos = dataset.data if num_clips is None else dataset.data[:num_clips]         # (N, 20, 1, 64, 64) uint8
    clips = videos.transpose(1, 2).float() / 255.0                                     # (N, 1, 20, 64, 64)
    return clips[:, :, :num_input].contiguous(), clips[:, :, num_input:].contiguous()
