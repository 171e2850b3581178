"""course.numpy_nn.conv2d: conv2d_naive, conv2d, conv2d_backward, im2col vs torch; gradient checks; bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.numpy_nn import relative_error as rel_err
from course.numpy_nn import conv2d, conv2d_backward, conv2d_naive, im2col, numerical_gradient, output_size

NUM_CONFIGS = 60




def random_config(seed: int):
    """A random conv2d problem: non-square input and kernel, stride, padding, dilation, channels, batch, bias."""
    rng = np.random.default_rng(seed)
    n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
    kernel = tuple(int(k) for k in rng.integers(1, 5, size=2))
    stride = tuple(int(s) for s in rng.integers(1, 4, size=2))
    padding = tuple(int(p) for p in rng.integers(0, 3, size=2))
    dilation = tuple(int(d) for d in rng.integers(1, 3, size=2))
    size = tuple(max(1, d * (k - 1) + 1 - 2 * p + int(rng.integers(0, 7)))   # the dilated kernel always fits
                 for k, p, d in zip(kernel, padding, dilation))
    x = rng.standard_normal((n, c) + size)
    w = rng.standard_normal((f, c) + kernel)
    b = rng.standard_normal(f) if rng.random() < 0.7 else None
    if rng.random() < 0.3:  # ints are allowed as well as tuples, as in torch
        stride, padding, dilation = stride[0], padding[0], dilation[0]
    return x, w, b, dict(stride=stride, padding=padding, dilation=dilation)


def torch_conv2d(x, w, b, kw):
    tb = None if b is None else torch.from_numpy(b)
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(w), tb, **kw).numpy()


def test_random_configurations_cover_the_interesting_cases():
    configs = [random_config(s) for s in range(NUM_CONFIGS)]
    as_pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    assert any(x.shape[2] != x.shape[3] for x, *_ in configs)
    assert any(w.shape[2] != w.shape[3] for _, w, *_ in configs)
    assert any(max(as_pair(kw["stride"])) > 1 for *_, kw in configs)
    assert any(max(as_pair(kw["padding"])) > 0 for *_, kw in configs)
    assert any(max(as_pair(kw["dilation"])) > 1 for *_, kw in configs)
    assert any(x.shape[0] > 1 and x.shape[1] > 1 and w.shape[0] > 1 for x, w, *_ in configs)


@pytest.mark.parametrize("seed", range(NUM_CONFIGS))
def test_conv2d_and_naive_match_torch(seed):
    x, w, b, kw = random_config(seed)
    expected = torch_conv2d(x, w, b, kw)
    assert rel_err(conv2d(x, w, b, **kw), expected) <= 1e-8
    assert rel_err(conv2d_naive(x, w, b, **kw), expected) <= 1e-8


@pytest.mark.parametrize("seed", range(NUM_CONFIGS))
def test_conv2d_backward_matches_autograd(seed):
    x, w, b, kw = random_config(seed)
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_()
    tb = torch.zeros(w.shape[0], dtype=torch.float64, requires_grad=True)
    y = F.conv2d(tx, tw, tb, **kw)
    dout = np.random.default_rng(1000 + seed).standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(dout))
    dx, dw, db = conv2d_backward(dout, x, w, **kw)
    assert rel_err(dx, tx.grad.numpy()) <= 1e-6
    assert rel_err(dw, tw.grad.numpy()) <= 1e-6
    assert rel_err(db, tb.grad.numpy()) <= 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_conv2d_backward_matches_numerical_gradient(seed):
    x, w, b, kw = random_config(seed)
    b = np.random.default_rng(seed).standard_normal(w.shape[0]) if b is None else b
    dout = np.random.default_rng(2000 + seed).standard_normal(conv2d(x, w, b, **kw).shape)
    dx, dw, db = conv2d_backward(dout, x, w, **kw)
    assert rel_err(dx, numerical_gradient(lambda v: conv2d(v, w, b, **kw), x, dout)) <= 1e-6
    assert rel_err(dw, numerical_gradient(lambda v: conv2d(x, v, b, **kw), w, dout)) <= 1e-6
    assert rel_err(db, numerical_gradient(lambda v: conv2d(x, w, v, **kw), b, dout)) <= 1e-6


def test_numerical_gradient_of_a_known_function():
    x = np.random.default_rng(0).standard_normal((3, 4))
    dout = np.random.default_rng(1).standard_normal((3, 4))
    before = x.copy()
    grad = numerical_gradient(lambda v: v ** 3, x, dout)
    np.testing.assert_allclose(grad, 3 * before ** 2 * dout, rtol=1e-7)
    np.testing.assert_array_equal(x, before)  # x is restored


@pytest.mark.parametrize("seed", range(10))
def test_im2col_matches_torch_unfold(seed):
    x, w, _, kw = random_config(seed)
    expected = F.unfold(torch.from_numpy(x), w.shape[2:], **kw).numpy()
    np.testing.assert_array_equal(im2col(x, w.shape[2:], **kw), expected)


@pytest.mark.parametrize("seed", range(20))
def test_output_size_matches_torch(seed):
    x, w, b, kw = random_config(seed)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    expected = torch_conv2d(x, w, b, kw).shape[2:]
    got = tuple(output_size(n, k, p, s, d) for n, k, p, s, d in
                zip(x.shape[2:], w.shape[2:], pair(kw["padding"]), pair(kw["stride"]), pair(kw["dilation"])))
    assert got == expected


def test_worked_example_from_chapter_01():
    x = np.ones((1, 1, 3, 3))
    w = np.array([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]])[None, None]
    np.testing.assert_array_equal(conv2d(x, w, padding=1)[0, 0], [[2, 3, 2], [3, 5, 3], [2, 3, 2]])
    np.testing.assert_array_equal(conv2d(x, w)[0, 0], [[5]])


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 2)).astype(np.float32)
    y = conv2d(x, w, padding=1)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, torch_conv2d(x, w, None, dict(padding=1)), rtol=1e-4, atol=1e-5)
    assert all(g.dtype == np.float32 for g in conv2d_backward(np.ones_like(y), x, w, padding=1))


X = np.zeros((1, 3, 5, 5))
W = np.zeros((2, 3, 3, 3))


@pytest.mark.parametrize("fn", [conv2d, conv2d_naive], ids=["conv2d", "conv2d_naive"])
@pytest.mark.parametrize("args, kwargs, error, words", [
    ((X, np.zeros((2, 4, 3, 3))), {}, ValueError, "input channels"),
    ((X[0], W), {}, ValueError, "x): expected 4 dims"),
    ((X, W[0]), {}, ValueError, "w): expected 4 dims"),
    ((X, np.zeros((2, 3, 6, 3))), {}, ValueError, "larger than the padded input"),
    ((X, W), {"dilation": 3}, ValueError, "larger than the padded input"),
    ((X, W), {"stride": 0}, ValueError, "stride"),
    ((X, W), {"stride": (1, -1)}, ValueError, "stride"),
    ((X, W), {"dilation": 0}, ValueError, "dilation"),
    ((X, W), {"padding": -1}, ValueError, "padding"),
    ((X, W), {"stride": 1.5}, TypeError, "stride"),
    ((X, W), {"padding": (1, 1, 1)}, TypeError, "padding"),
    ((X.astype(np.int64), W), {}, TypeError, "x): expected a floating-point"),
    ((X, W.astype(np.int32)), {}, TypeError, "w): expected a floating-point"),
    ((X.tolist(), W), {}, TypeError, "x): expected a NumPy array"),
    ((X, W, np.zeros(3)), {}, ValueError, "b): expected shape (2,)"),
    ((X, W, np.zeros(2, dtype=int)), {}, TypeError, "b): expected a floating-point"),
])
def test_conv2d_rejects_bad_input(fn, args, kwargs, error, words):
    with pytest.raises(error, match=None) as info:
        fn(*args, **kwargs)
    assert words in str(info.value)
    assert fn.__name__ in str(info.value)


def test_conv2d_backward_rejects_bad_input():
    with pytest.raises(ValueError, match=r"conv2d_backward\(dout\): expected shape \(1, 2, 3, 3\)"):
        conv2d_backward(np.zeros((1, 2, 5, 5)), X, W)
    with pytest.raises(TypeError, match=r"conv2d_backward\(dout\): expected a floating-point"):
        conv2d_backward(np.zeros((1, 2, 3, 3), dtype=int), X, W)
    with pytest.raises(ValueError, match=r"conv2d_backward\(w\): expected 3 input channels"):
        conv2d_backward(np.zeros((1, 2, 3, 3)), X, np.zeros((2, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"conv2d_backward\(padding\)"):
        conv2d_backward(np.zeros((1, 2, 3, 3)), X, W, padding=-2)


@pytest.mark.parametrize("args, error, words", [
    ((5, 7), ValueError, "output_size(kernel)"),
    ((5, 3, -1), ValueError, "output_size(padding)"),
    ((5, 3, 0, 0), ValueError, "output_size(stride)"),
    ((5, 3, 0, 1, 0), ValueError, "output_size(dilation)"),
    ((5.0, 3), TypeError, "output_size(size)"),
])
def test_output_size_rejects_bad_input(args, error, words):
    with pytest.raises(error) as info:
        output_size(*args)
    assert words in str(info.value)


def test_im2col_and_numerical_gradient_reject_bad_input():
    with pytest.raises(ValueError, match=r"im2col\(kernel_size\)"):
        im2col(X, 7)
    with pytest.raises(TypeError, match=r"im2col\(x\)"):
        im2col(X.astype(int), 3)
    with pytest.raises(TypeError, match=r"numerical_gradient\(x\)"):
        numerical_gradient(lambda v: v, np.arange(3), np.ones(3))
    with pytest.raises(ValueError, match=r"numerical_gradient\(dout\)"):
        numerical_gradient(lambda v: v, np.zeros(3), np.ones(4))
    with pytest.raises(ValueError, match=r"numerical_gradient\(h\)"):
        numerical_gradient(lambda v: v, np.zeros(3), np.ones(3), h=0)
    with pytest.raises(TypeError, match=r"numerical_gradient\(f\)"):
        numerical_gradient(None, np.zeros(3), np.ones(3))


# The chapter 01 kernel explorer's arithmetic and widget (course.viz.convolution).
def test_explain_position_matches_conv2d_everywhere():
    from course.viz.convolution import KERNELS, explain_position

    image = np.random.default_rng(0).standard_normal((6, 5))
    for kernel in KERNELS.values():
        for padding in (0, 1):
            out = conv2d(image[None, None], kernel[None, None], padding=padding)[0, 0]
            for (r, c), value in np.ndenumerate(out):
                patch, product, total = explain_position(image, kernel, r, c, padding)
                assert patch.shape == kernel.shape and np.allclose(product, patch * kernel)
                assert np.isclose(total, value)


def test_explain_position_rejects_bad_input():
    from course.viz.convolution import explain_position

    with pytest.raises(ValueError, match=r"explain_position\(row, col\)"):
        explain_position(np.ones((3, 3)), np.ones((3, 3)), 1, 0)
    with pytest.raises(ValueError, match=r"explain_position\(kernel\): kernel \(4, 4\) is larger"):
        explain_position(np.ones((3, 3)), np.ones((4, 4)), 0, 0)
    with pytest.raises(ValueError, match=r"explain_position\(image\)"):
        explain_position(np.ones((1, 3, 3)), np.ones((3, 3)), 0, 0)


def test_kernel_explorer_builds_and_reacts(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course.viz.convolution import kernel_explorer

    drawn = []
    monkeypatch.setattr(plt, "show", lambda: (drawn.append(plt.gcf().axes[-1].get_title()), plt.close("all")))
    widget = kernel_explorer(np.arange(25.0).reshape(5, 5))
    (choice, same), (row, col) = widget.children[0].children, widget.children[1].children
    assert (row.max, col.max) == (4, 4)           # 'same' padding: 5x5 output
    same.value = False
    assert (row.max, col.max) == (2, 2)           # valid: 3x3 output
    choice.value = "worked example"
    row.value, col.value = 1, 1
    expected = conv2d(np.arange(25.0).reshape(1, 1, 5, 5), np.array([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]])[None, None])
    assert drawn[-1] == f"output[1, 1] = sum = {expected[0, 0, 1, 1]:.3g}"


@pytest.mark.parametrize("seed", range(5))
def test_generic_window_helpers_work_for_3d_video_too(seed):
    from course.numpy_nn.conv2d import col2im_nd, im2col_nd, pad_spatial, sliding_windows

    rng = np.random.default_rng(seed)
    kernel, stride, dilation = (2, 3, 2), (1, 2, 1), (2, 1, 1)
    x = rng.standard_normal((2, 3, 6, 7, 5))
    xp = pad_spatial(x, (1, 0, 1))
    out = tuple((n - d * (k - 1) - 1) // s + 1 for n, k, s, d in zip(xp.shape[2:], kernel, stride, dilation))
    w = rng.standard_normal((4, 3) + kernel)
    expected = F.conv3d(torch.from_numpy(x), torch.from_numpy(w), stride=stride, padding=(1, 0, 1),
                        dilation=dilation).numpy()
    view = sliding_windows(xp, kernel, stride, dilation)                 # (N, C, *out, *kernel)
    assert np.allclose(np.einsum("ncthwxyz,fcxyz->nfthw", view, w), expected)
    cols = im2col_nd(xp.transpose(1, 0, 2, 3, 4), kernel, stride, dilation, out)   # (C, *kernel, N, *out)
    assert np.allclose(np.einsum("cxyznthw,fcxyz->nfthw", cols, w), expected)
    # col2im is im2col's adjoint: <im2col(x), c> == <x, col2im(c)>
    c = rng.standard_normal(cols.shape)
    back = col2im_nd(c, (3, 2) + xp.shape[2:], kernel, stride, dilation)
    assert np.isclose(np.sum(cols * c), np.sum(xp.transpose(1, 0, 2, 3, 4) * back))


def test_relative_error_is_scaled_by_the_reference_and_checks_shapes():
    assert rel_err(np.array([1.0, 2.0]), np.array([1.0, 4.0])) == 0.5
    assert rel_err(np.zeros(3), np.zeros(3)) == 0.0
    with pytest.raises(ValueError, match=r"relative_error\(got\)"):
        rel_err(np.zeros(2), np.zeros(3))
