"""course.numpy_nn.conv3d: conv3d_naive, conv3d and max_pool3d against torch.nn.functional, plus bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.numpy_nn import conv3d, conv3d_naive, max_pool3d


def _random_conv_config(rng: np.random.Generator):
    n, c, f = rng.integers(1, 3), rng.integers(1, 4), rng.integers(1, 4)
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=3))
    stride = tuple(int(s) for s in rng.integers(1, 3, size=3))
    padding = tuple(int(p) for p in rng.integers(0, 2, size=3))
    size = tuple(int(k + rng.integers(0, 4)) for k in kernel)
    x = rng.standard_normal((n, c) + size)
    w = rng.standard_normal((f, c) + kernel)
    b = rng.standard_normal(f) if rng.random() < 0.7 else None
    # Sometimes pass stride/padding as plain ints, as torch allows.
    if rng.random() < 0.3:
        stride, padding = stride[0], padding[0]
    return x, w, b, stride, padding


def _torch_conv3d(x, w, b, stride, padding):
    tb = None if b is None else torch.from_numpy(b)
    return F.conv3d(torch.from_numpy(x), torch.from_numpy(w), tb, stride=stride, padding=padding).numpy()


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("fn", [conv3d, conv3d_naive], ids=["conv3d", "conv3d_naive"])
def test_conv3d_matches_torch_on_random_configurations(fn, seed):
    x, w, b, stride, padding = _random_conv_config(np.random.default_rng(seed))
    got = fn(x, w, b, stride=stride, padding=padding)
    expected = _torch_conv3d(x, w, b, stride, padding)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_conv3d_keeps_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3, 3)).astype(np.float32)
    got = conv3d(x, w, padding=1)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, _torch_conv3d(x, w, None, 1, 1), rtol=1e-4, atol=1e-5)


def test_conv3d_output_is_contiguous_and_does_not_alias_input():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 1, 3, 3, 3))
    w = np.ones((1, 1, 1, 1, 1))
    out = conv3d(x, w)
    assert out.flags.c_contiguous
    out[...] = 0.0
    assert np.abs(x).sum() > 0


def test_conv3d_temporal_kernel_sees_only_time():
    # A (2, 1, 1) kernel [-1, +1] computes frame differences x[t+1] - x[t]: time is axis 2.
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 1, 4, 5, 5))
    w = np.array([-1.0, 1.0]).reshape(1, 1, 2, 1, 1)
    np.testing.assert_allclose(conv3d(x, w)[0, 0], x[0, 0, 1:] - x[0, 0, :-1])


@pytest.mark.parametrize("seed", range(25))
def test_max_pool3d_matches_torch_on_random_configurations(seed):
    rng = np.random.default_rng(100 + seed)
    kernel = tuple(int(k) for k in rng.integers(1, 4, size=3))
    stride = None if rng.random() < 0.3 else tuple(int(s) for s in rng.integers(1, 3, size=3))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    size = tuple(int(k + rng.integers(0, 5)) for k in kernel)
    x = rng.standard_normal((int(rng.integers(1, 3)), int(rng.integers(1, 4))) + size)
    got = max_pool3d(x, kernel, stride, padding)
    expected = F.max_pool3d(torch.from_numpy(x), kernel, stride, padding).numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_max_pool3d_padding_never_wins_over_negative_values():
    x = -np.ones((1, 1, 2, 2, 2)) - np.arange(8.0).reshape(1, 1, 2, 2, 2)
    got = max_pool3d(x, 2, stride=1, padding=1)
    expected = F.max_pool3d(torch.from_numpy(x), 2, stride=1, padding=1).numpy()
    np.testing.assert_array_equal(got, expected)
    assert np.isfinite(got).all()


def test_max_pool3d_c3d_pool5_shape():
    # C3D's pool5: kernel 2x2x2, stride 2, padding (0, 1, 1) turns 512x2x7x7 into 512x1x4x4.
    x = np.random.default_rng(3).standard_normal((1, 2, 2, 7, 7))
    assert max_pool3d(x, 2, 2, (0, 1, 1)).shape == (1, 2, 1, 4, 4)


# ---------------------------------------------------------------------------------------------------------------------
# Bad input: the error names the argument.
# ---------------------------------------------------------------------------------------------------------------------

X = np.zeros((1, 2, 4, 4, 4))
W = np.zeros((3, 2, 3, 3, 3))


@pytest.mark.parametrize("fn", [conv3d, conv3d_naive], ids=["conv3d", "conv3d_naive"])
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros((1, 2, 4, 4))), ValueError, r"\(x\): expected 5 dims"),
    (dict(x=[[0.0]]), TypeError, r"\(x\): expected a NumPy array"),
    (dict(x=np.zeros((1, 2, 4, 4, 4), dtype=int)), TypeError, r"\(x\): expected a floating-point array"),
    (dict(w=np.zeros((3, 2, 3, 3))), ValueError, r"\(w\): expected 5 dims"),
    (dict(w=np.zeros((3, 5, 3, 3, 3))), ValueError, r"\(w\): expected 2 input channels"),
    (dict(w=np.zeros((3, 2, 5, 3, 3))), ValueError, r"\(w\): kernel .* larger than the padded input"),
    (dict(b=np.zeros(4)), ValueError, r"\(b\): expected shape \(3,\)"),
    (dict(b=np.zeros((3, 1))), ValueError, r"\(b\): expected 1 dims"),
    (dict(stride=0), ValueError, r"\(stride\): expected positive"),
    (dict(stride=(1, 2)), TypeError, r"\(stride\): expected an int or a tuple of 3 ints"),
    (dict(stride=1.5), TypeError, r"\(stride\)"),
    (dict(padding=-1), ValueError, r"\(padding\): expected >= 0"),
    (dict(padding=(1, 1, 1, 1)), TypeError, r"\(padding\): expected an int or a tuple of 3 ints"),
])
def test_conv3d_bad_input_names_the_argument(fn, kwargs, error, match):
    args = dict(x=X, w=W, b=None, stride=1, padding=0) | kwargs
    with pytest.raises(error, match=match):
        fn(args["x"], args["w"], args["b"], stride=args["stride"], padding=args["padding"])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros((2, 4, 4, 4))), ValueError, r"max_pool3d\(x\): expected 5 dims"),
    (dict(kernel_size=0), ValueError, r"max_pool3d\(kernel_size\): expected positive"),
    (dict(kernel_size=(2, 2)), TypeError, r"max_pool3d\(kernel_size\)"),
    (dict(kernel_size=5), ValueError, r"max_pool3d\(kernel_size\): kernel .* larger"),
    (dict(stride=(0, 1, 1)), ValueError, r"max_pool3d\(stride\)"),
    (dict(padding=2), ValueError, r"max_pool3d\(padding\): expected at most half"),
    (dict(padding=-1), ValueError, r"max_pool3d\(padding\)"),
])
def test_max_pool3d_bad_input_names_the_argument(kwargs, error, match):
    args = dict(x=X, kernel_size=2, stride=None, padding=0) | kwargs
    with pytest.raises(error, match=match):
        max_pool3d(args["x"], args["kernel_size"], args["stride"], args["padding"])
