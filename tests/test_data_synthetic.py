"""Tests for course.data.synthetic: MovingShapes and MovingDigits."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.data import MovingDigits, MovingShapes
from course.data.synthetic import render_moving_shape


# --- MovingShapes ------------------------------------------------------------------------------------------------

def test_shapes_item_shape_dtype_range_and_label():
    ds = MovingShapes("train", num_clips=12, num_frames=8, size=24)
    clip, label = ds[3]
    assert clip.shape == (3, 8, 24, 24) and clip.dtype == torch.float32
    assert 0.0 <= float(clip.min()) and float(clip.max()) <= 1.0
    assert isinstance(label, int) and label == 3
    assert len(ds) == 12 and ds.num_classes == len(ds.classes) == 10


def test_shapes_deterministic_given_seed_split_index():
    a = MovingShapes("train", num_clips=5, seed=7)
    b = MovingShapes("train", num_clips=5, seed=7)
    assert torch.equal(a[4][0], b[4][0])
    assert not torch.equal(a[4][0], MovingShapes("train", num_clips=5, seed=8)[4][0])
    assert not torch.equal(a[4][0], MovingShapes("test", num_clips=5, seed=7)[4][0])
    # an item does not depend on how many clips the split has
    assert torch.equal(a[2][0], MovingShapes("train", num_clips=50, seed=7)[2][0])


def test_shapes_balanced_and_pairs_cover_all_classes():
    ds = MovingShapes("val", num_clips=40)
    counts = np.bincount([ds.label_of(i) for i in range(len(ds))], minlength=ds.num_classes)
    assert counts.min() == counts.max() == 4
    flat = sorted(c for pair in ds.pairs for c in pair)
    assert flat == list(range(ds.num_classes))
    for i, j in ds.pairs:
        assert ds.twin(i) == j and ds.twin(j) == i


@pytest.mark.parametrize("index", [0, 1, 5])
def test_twin_is_the_reversed_clip(index):
    """A clip of class j, drawn with the same randomness, is the clip of its twin i played backwards."""
    ds = MovingShapes("train", num_clips=10)
    for i, j in ds.pairs:
        forward = ds.frames(index, label=i)
        backward = ds.frames(index, label=j)
        np.testing.assert_array_equal(backward, forward[::-1])
        assert not np.array_equal(forward, backward)  # and the clip really changes over time


def test_order_blind_statistics_equal_within_pairs():
    """Any statistic that ignores frame order (here: the mean frame) is identical for twin classes."""
    ds = MovingShapes("train", num_clips=10)
    for i, j in ds.pairs:
        np.testing.assert_allclose(ds.frames(2, label=i).mean(axis=0), ds.frames(2, label=j).mean(axis=0), atol=1e-6)


def _clean_coverage(label, seed=0, size=32, frames=16):
    rng = np.random.default_rng(seed)
    from course.data.synthetic import sample_shape_params

    p = sample_shape_params(rng, size=size, num_frames=frames, clutter=0, noise=0.0)
    return render_moving_shape(label, p, size=size, num_frames=frames, return_coverage=True)


def _centroid(cov):
    ys, xs = np.indices(cov.shape)
    return (xs * cov).sum() / cov.sum(), (ys * cov).sum() / cov.sum()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_class_names_match_what_happens(seed):
    names = MovingShapes.classes
    frames, cov = _clean_coverage(names.index("move_right"), seed)
    assert _centroid(cov[-1])[0] > _centroid(cov[0])[0] + 3
    frames, cov = _clean_coverage(names.index("move_up"), seed)
    assert _centroid(cov[-1])[1] < _centroid(cov[0])[1] - 3
    frames, cov = _clean_coverage(names.index("grow"), seed)
    assert cov[-1].sum() > 2 * cov[0].sum()
    frames, cov = _clean_coverage(names.index("fade_out"), seed)
    mask = cov[0] > 0.99
    bg = frames[-1][mask]  # at the end the shape is almost gone: its pixels differ from the first frame
    assert np.abs(frames[0][mask] - bg).mean() > 0.1
    frames, cov = _clean_coverage(names.index("rotate_cw"), seed)
    assert not np.allclose(cov[0], cov[-1], atol=0.2)


def test_rotate_cw_turns_clockwise_on_screen():
    """For an ellipse, the orientation of the coverage's second moments increases (clockwise, rows point down)."""
    from course.data.synthetic import sample_shape_params

    for seed in range(20):
        p = sample_shape_params(np.random.default_rng(seed), size=32, num_frames=16, clutter=0, noise=0.0)
        if p["shape"] == "ellipse":
            break
    _, cov = render_moving_shape(MovingShapes.classes.index("rotate_cw"), p, size=32, num_frames=16,
                                 return_coverage=True)

    def orientation(c):
        ys, xs = np.indices(c.shape)
        x0, y0 = _centroid(c)
        cxx = ((xs - x0) ** 2 * c).sum()
        cyy = ((ys - y0) ** 2 * c).sum()
        cxy = ((xs - x0) * (ys - y0) * c).sum()
        return 0.5 * np.arctan2(2 * cxy, cxx - cyy)

    steps = [np.angle(np.exp(1j * 2 * (orientation(cov[t + 1]) - orientation(cov[t])))) / 2 for t in range(15)]
    assert np.mean(steps) > 0


def test_single_frame_has_the_same_distribution_within_a_pair():
    """The middle frames of twin classes come from the same distribution: same mean brightness on average."""
    ds = MovingShapes("train", num_clips=200, num_frames=9)
    for i, j in ds.pairs:
        a = [ds.frames(k, label=i)[4].mean() for k in range(40)]
        b = [ds.frames(k, label=j)[4].mean() for k in range(40)]
        np.testing.assert_allclose(a, b, atol=1e-6)  # the middle frame of a reversed clip is the same frame


def test_shapes_transform_is_applied():
    ds = MovingShapes("train", num_clips=3, transform=lambda x: x[:, ::2])
    assert ds[0][0].shape[1] == 8


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "training"}, "split"),
    ({"num_clips": 0}, "num_clips"),
    ({"num_frames": 1}, "num_frames"),
    ({"size": 8}, "size"),
    ({"seed": -1}, "seed"),
    ({"noise": 2.0}, "noise"),
])
def test_shapes_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MovingShapes(**kwargs)


def test_shapes_bad_transform_and_index():
    with pytest.raises(TypeError, match="transform"):
        MovingShapes(transform=3)
    ds = MovingShapes(num_clips=4)
    with pytest.raises(IndexError, match="out of range"):
        ds[4]
    with pytest.raises(TypeError, match="index"):
        ds["a"]
    assert torch.equal(ds[-1][0], ds[3][0])
    with pytest.raises(ValueError, match="label"):
        ds.twin(99)


# --- MovingDigits ------------------------------------------------------------------------------------------------

def test_digits_shapes_determinism_and_label():
    ds = MovingDigits("train", num_clips=6, num_frames=10, size=48)
    clip, label = ds[2]
    assert clip.shape == (1, 10, 48, 48) and clip.dtype == torch.float32
    assert 0 <= label <= 9 and float(clip.max()) > 0.5 and float(clip.min()) == 0.0
    assert torch.equal(clip, MovingDigits("train", num_clips=6, num_frames=10, size=48)[2][0])
    assert not torch.equal(clip, MovingDigits("train", num_clips=6, num_frames=10, size=48, seed=1)[2][0])


def test_digits_label_is_the_digit_shown():
    from course.data.synthetic import _digit_images

    images, labels = _digit_images()
    ds = MovingDigits("test", num_clips=5)
    d = ds.draw(1)
    assert ds[1][1] == labels[d["ids"][0]]


def test_digits_sum_label_and_classes():
    ds = MovingDigits("val", num_clips=4, num_digits=2)
    assert ds.num_classes == 19
    from course.data.synthetic import _digit_images

    _, labels = _digit_images()
    assert ds[0][1] == int(labels[ds.draw(0)["ids"]].sum())


def test_digits_splits_use_disjoint_images():
    pools = [set(MovingDigits(s, num_clips=1)._pool.tolist()) for s in ("train", "val", "test")]
    assert not (pools[0] & pools[1]) and not (pools[0] & pools[2]) and not (pools[1] & pools[2])


def test_digits_move_and_stay_inside():
    ds = MovingDigits("train", num_clips=3, num_frames=30, size=40)
    frames, _ = ds.frames(0)
    assert not np.array_equal(frames[0], frames[-1])
    assert all(f.sum() > 0 for f in frames)  # a bounce never pushes the digit out of the frame


def test_digits_predict_mode_splits_past_and_future():
    ds = MovingDigits("train", num_clips=3, num_frames=12, mode="predict", num_input=5)
    past, future = ds[0]
    assert past.shape == (1, 5, 64, 64) and future.shape == (1, 7, 64, 64)
    full, _ = MovingDigits("train", num_clips=3, num_frames=12)[0]
    assert torch.equal(torch.cat([past, future], dim=1), full)


@pytest.mark.parametrize("kwargs, match", [
    ({"split": "x"}, "split"), ({"num_digits": 0}, "num_digits"), ({"num_digits": 9}, "num_digits"),
    ({"mode": "generate"}, "mode"), ({"num_input": 16}, "num_input"), ({"size": 10}, "size"),
])
def test_digits_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MovingDigits(**kwargs)


def test_tensor_dataset_renders_every_item_once():
    from course.data import MovingShapes, tensor_dataset

    shapes = MovingShapes("val", num_clips=6, num_frames=4, size=16)
    data = tensor_dataset(shapes)
    clips, labels = data.tensors
    assert clips.shape == (6, 3, 4, 16, 16) and labels.dtype == torch.int64
    assert torch.equal(clips[5], shapes[5][0]) and labels.tolist() == [shapes.label_of(i) for i in range(6)]
    with pytest.raises(TypeError, match=r"tensor_dataset\(dataset\)"):
        tensor_dataset(iter([]))
    with pytest.raises(ValueError, match="empty"):
        tensor_dataset([])
