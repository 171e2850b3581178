"""Issue 23, items 9, 10 and 22: no silent wrong results, one decode per sample per epoch, no train -> viz import."""
from __future__ import annotations

import ast
import math
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

import course
from course.data.motion import active_clip_fraction, clip_motion, motion_clip_indices
from course.data.video_io import read_frames
from course.models import VideoTransformer
from course.models.inflate import InflatedConv3d
from course.train import (MultiClipDataset, TemperatureScaled, evaluate, evaluate_videos, fit, lr_range_test,
                          sanity_checks, validate)


class NaNLogits(nn.Module):
    """A classifier whose logits are NaN: their argmax is a class, so an accuracy could be read from it."""

    def __init__(self, num_classes=2):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))
        self.num_classes = num_classes

    def forward(self, x):
        return torch.full((x.shape[0], self.num_classes), float("nan")) * self.scale


def _blobs(n=32, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    return torch.randn(n, d, generator=g) + 3 * y[:, None].float(), y


# item 9: non-finite outputs and silent NaN ----------------------------------------------------------------------------

def test_evaluate_videos_rejects_nan_logits():
    videos = TensorDataset(torch.rand(4, 3, 8, 8, 8), torch.tensor([0, 1, 0, 1]))
    loader = DataLoader(MultiClipDataset(videos, clip_len=4, num_clips=2), batch_size=4)
    with pytest.raises(ValueError, match=r"evaluate_videos: the model returned NaN or infinite logits for 4 of 4"):
        evaluate_videos(NaNLogits(), loader, progress=False)


def test_evaluate_rejects_infinite_logits():
    class Inf(NaNLogits):
        def forward(self, x):
            out = torch.zeros(x.shape[0], 2)
            out[0, 1] = float("inf")
            return out * self.scale

    loader = DataLoader(TensorDataset(*_blobs()), batch_size=8)
    with pytest.raises(ValueError, match=r"evaluate: the model returned NaN or infinite logits for 1 of 8 examples "
                                         r"in batch 0"):
        evaluate(Inf(), loader)


def test_fit_stops_when_only_the_validation_loss_is_nan():
    x, y = _blobs()
    bad_x = x.clone()
    bad_x[3] = float("nan")  # one corrupt validation example
    model = nn.Linear(4, 2)
    train, val = DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(bad_x, y), batch_size=8)
    with pytest.raises(FloatingPointError, match=r"validation loss became nan at epoch 1 while the training loss is "
                                                  r"finite.*validation inputs"):
        fit(model, train, val, epochs=2, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), device="cpu",
            progress=False)
    # a finite validation set trains as before
    history = fit(model, train, DataLoader(TensorDataset(x, y), batch_size=8), epochs=2, device="cpu",
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False)
    assert all(math.isfinite(v) for v in history["val_loss"])


def test_lr_range_test_raises_instead_of_suggesting_nan():
    x, y = _blobs()
    x[:] = float("nan")
    with pytest.raises(FloatingPointError, match=r"lr_range_test: the loss was nan on the first batch"):
        lr_range_test(nn.Linear(4, 2), DataLoader(TensorDataset(x, y), batch_size=8), num_steps=10, progress=False)


def test_sanity_checks_rejects_a_model_with_the_wrong_number_of_outputs():
    x, y = _blobs(16)  # labels 0 and 1: valid for 3 outputs and for num_classes=5
    with pytest.raises(ValueError, match=r"sanity_checks\(num_classes=5\): the model must return logits "
                                         r"\(N, num_classes\) = \(16, 5\), got \(16, 3\)"):
        sanity_checks(nn.Linear(4, 3), (x, y), num_classes=5, steps=2)
    assert sanity_checks(nn.Linear(4, 5), (x, y), num_classes=5, steps=2).checks  # the right width still runs


@pytest.mark.parametrize("temperature", [float("inf"), float("nan"), -1.0, 0.0])
def test_temperature_must_be_positive_and_finite(temperature):
    with pytest.raises(ValueError, match=r"TemperatureScaled\(temperature=.*\): expected a positive finite number"):
        TemperatureScaled(nn.Linear(2, 2), temperature)


@pytest.mark.parametrize("kwargs, match", [
    ({"input_std": (float("nan"), 0.2, 0.2)}, r"input_std=\(nan, 0.2, 0.2\)\): expected None or 3 finite numbers"),
    ({"input_mean": (0.4, float("inf"), 0.4)}, r"input_mean=.*expected None or 3 finite numbers"),
    ({"mlp_ratio": float("nan")}, r"mlp_ratio=nan\): expected a positive finite number"),
    ({"mlp_ratio": float("inf")}, r"mlp_ratio=inf\): expected a positive finite number"),
    ({"mlp_ratio": 1e-9}, r"mlp_ratio=1e-09\): .*dim \* mlp_ratio >= 1"),
])
def test_video_transformer_rejects_non_finite_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VideoTransformer(4, input_size=(4, 16, 16), tubelet=(2, 8, 8), dim=16, depth=1, heads=2, **kwargs)


def test_inflated_conv3d_names_the_expected_input():
    conv = InflatedConv3d(3, 4, (3, 3, 3), padding=(0, 1, 1), time_padding=1)
    with pytest.raises(ValueError, match=r"InflatedConv3d.forward\(x\): expected 5 dims \(N, C, T, H, W\), "
                                         r"got shape \(2, 3, 8, 8\)"):
        conv(torch.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"expected 3 channels in dim 1"):
        conv(torch.rand(1, 2, 4, 8, 8))
    assert conv(torch.rand(1, 3, 4, 8, 8)).shape == (1, 4, 4, 8, 8)


@pytest.mark.parametrize("call", [
    lambda e: clip_motion(e, 2),
    lambda e: active_clip_fraction(e, 2),
    lambda e: motion_clip_indices(e, 2),
])
def test_negative_motion_energy_is_rejected(call):
    energy = np.array([0.1, -0.2, 0.3, 0.0])
    with pytest.raises(ValueError, match=r"\(energy\): motion energy .* cannot be negative; got -0.2 at frame 1"):
        call(energy)
    call(np.abs(energy))  # the same values, non-negative, are fine


@pytest.mark.parametrize("indices, match", [
    (5, r"read_frames\(indices\): expected a sequence of frame indices such as \[0, 8, 16\], got int 5; "
        r"for one frame pass \[index\]"),
    ("0,1", r"read_frames\(indices\): expected a sequence of frame indices .* got str '0,1'$"),
    (None, r"got NoneType None$"),
])
def test_read_frames_indices_type(tmp_path, indices, match):
    with pytest.raises(TypeError, match=match):
        read_frames(tmp_path / "clip.mp4", indices)


# item 10: every sample decoded once per epoch -------------------------------------------------------------------------

class CountingDataset(Dataset):
    """Blobs that count their ``__getitem__`` calls in a counter shared with the DataLoader's worker processes."""

    def __init__(self, counter, n=32, with_ids=False):
        self.counter, self.n, self.with_ids = counter, n, with_ids
        self.x, self.y = _blobs(n)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        with self.counter.get_lock():
            self.counter.value += 1
        return (self.x[i], self.y[i], i) if self.with_ids else (self.x[i], self.y[i])


@pytest.fixture
def counter():
    return multiprocessing.get_context().Value("i", 0)


@pytest.mark.parametrize("progress", [False, True])
def test_fit_decodes_every_sample_once_per_epoch_with_workers(counter, progress):
    loader = DataLoader(CountingDataset(counter), batch_size=8, num_workers=2)
    model = nn.Linear(4, 2)
    fit(model, loader, epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), device="cpu",
        progress=progress)
    assert counter.value == 32
    counter.value = 0
    fit(model, loader, loader, epochs=2, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), device="cpu",
        progress=progress)
    assert counter.value == 2 * (32 + 32)  # two epochs, each one training pass and one validation pass
    counter.value = 0
    validate(model, loader, nn.CrossEntropyLoss(), device="cpu", progress=progress)
    assert counter.value == 32


def test_evaluate_videos_decodes_every_clip_once_with_workers(counter):
    loader = DataLoader(CountingDataset(counter, with_ids=True), batch_size=8, num_workers=2)
    result = evaluate_videos(nn.Linear(4, 2), loader, progress=True)
    assert counter.value == 32 and result["video_ids"].shape == (32,)


def test_progress_bar_iterates_once_and_keeps_the_length():
    from course.train.loop import progress_bar

    calls = []

    class Loader:
        def __iter__(self):
            calls.append(1)
            return iter(range(5))

        def __len__(self):
            return 5

    bar = progress_bar(Loader(), enabled=True, leave=False)
    assert bar.total == 5 and list(bar) == list(range(5)) and len(calls) == 1
    generator_bar = progress_bar((i for i in range(3)), enabled=False)   # no len(): no total, still one pass
    assert generator_bar.total is None and list(generator_bar) == [0, 1, 2]


# item 22: the training code does not import the plotting package ------------------------------------------------------

def _imported_modules(path: Path, package: str) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            names += [module] + [f"{module}.{alias.name}" for alias in node.names]
    return names


def test_training_code_does_not_import_course_viz():
    train_dir = Path(course.__file__).parent / "train"
    files = sorted(train_dir.rglob("*.py"))
    assert len(files) > 10
    offenders = {}
    for path in files:
        package = "course.train" + "".join(f".{p}" for p in path.relative_to(train_dir).parent.parts)
        bad = [m for m in _imported_modules(path, package) if m == "course.viz" or m.startswith("course.viz.")]
        if bad:
            offenders[path.name] = bad
    assert offenders == {}


def test_import_scan_sees_relative_and_absolute_viz_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from ..viz import frames_vs_time\nimport course.viz.explain\nfrom .metrics import x\n")
    names = _imported_modules(source, "course.train")
    assert "course.viz.frames_vs_time" in names and "course.viz.explain" in names
    assert "course.train.metrics.x" in names


def test_within_pair_accuracy_lives_in_metrics_and_is_re_exported():
    from course.train import metrics
    from course.viz import frames_vs_time

    assert frames_vs_time.within_pair_accuracy is metrics.within_pair_accuracy
    assert frames_vs_time.pair_accuracy is metrics.pair_accuracy
    preds, labels = np.array([0, 1, 1, 0, 2]), np.array([0, 1, 0, 0, 3])
    assert metrics.within_pair_accuracy(preds, labels, [(0, 1), (2, 3)]) == pytest.approx(3 / 5)
