"""course.numpy_nn.pool2d: max/avg pooling and their backward passes against torch, gradient checks, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course.numpy_nn import relative_error as rel_err
from course.numpy_nn import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward,
                             max_pool2d, max_pool2d_backward, numerical_gradient)

NUM_CONFIGS = 60




def random_config(seed: int):
    """Random pooling problem: non-square windows, stride (default or explicit, overlapping or not), padding."""
    rng = np.random.default_rng(seed)
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    kernel = tuple(int(k) for k in rng.integers(1, 5, size=2))
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    stride = None if rng.random() < 0.3 else tuple(int(s) for s in rng.integers(1, 4, size=2))
    size = tuple(max(1, k - 2 * p + int(rng.integers(0, 7))) for k, p in zip(kernel, padding))
    if rng.random() < 0.3:  # ints are allowed as well as tuples, as in torch
        kernel, padding = kernel[0], padding[0]
        stride = stride if stride is None else stride[0]
        size = (size[0], size[0] + int(rng.integers(0, 3)))
    x = rng.standard_normal((n, c) + size)
    return x, dict(kernel_size=kernel, stride=stride, padding=padding)


def torch_kwargs(kw):
    return {**kw, "stride": kw["stride"] if kw["stride"] is not None else kw["kernel_size"]}


CASES = [(max_pool2d, max_pool2d_backward, F.max_pool2d), (avg_pool2d, avg_pool2d_backward, F.avg_pool2d)]
IDS = ["max", "avg"]


@pytest.mark.parametrize("seed", range(NUM_CONFIGS))
@pytest.mark.parametrize("forward, backward, reference", CASES, ids=IDS)
def test_pooling_and_backward_match_torch(forward, backward, reference, seed):
    x, kw = random_config(seed)
    tx = torch.from_numpy(x).requires_grad_()
    y = reference(tx, **torch_kwargs(kw))
    assert rel_err(forward(x, **kw), y.detach().numpy()) <= 1e-8
    dout = np.random.default_rng(100 + seed).standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(dout))
    assert rel_err(backward(dout, x, **kw), tx.grad.numpy()) <= 1e-6


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("forward, backward, reference", CASES, ids=IDS)
def test_pooling_backward_matches_numerical_gradient(forward, backward, reference, seed):
    x, kw = random_config(seed)
    dout = np.random.default_rng(200 + seed).standard_normal(forward(x, **kw).shape)
    assert rel_err(backward(dout, x, **kw), numerical_gradient(lambda v: forward(v, **kw), x, dout)) <= 1e-6


def test_max_pool_routes_gradient_to_argmax():
    x = np.array([[1.0, 5.0], [3.0, 2.0]])[None, None]
    dx = max_pool2d_backward(np.array([[[[7.0]]]]), x, 2)
    np.testing.assert_array_equal(dx[0, 0], [[0, 7], [0, 0]])


def test_global_avg_pool_and_backward():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4, 5))
    expected = F.adaptive_avg_pool2d(torch.from_numpy(x), 1).numpy()[:, :, 0, 0]
    assert rel_err(global_avg_pool2d(x), expected) <= 1e-12
    dout = rng.standard_normal((2, 3))
    assert rel_err(global_avg_pool2d_backward(dout, x), numerical_gradient(global_avg_pool2d, x, dout)) <= 1e-6


X = np.zeros((1, 2, 4, 4))


@pytest.mark.parametrize("fn", [max_pool2d, avg_pool2d], ids=["max", "avg"])
@pytest.mark.parametrize("args, kwargs, error, words", [
    ((X[0], 2), {}, ValueError, "x): expected 4 dims"),
    ((X.astype(np.int64), 2), {}, TypeError, "x): expected a floating-point"),
    ((X, 5), {}, ValueError, "larger than the padded input"),
    ((X, 0), {}, ValueError, "kernel_size"),
    ((X, 2), {"stride": 0}, ValueError, "stride"),
    ((X, 2), {"padding": -1}, ValueError, "padding"),
    ((X, 2), {"padding": 2}, ValueError, "at most half the kernel"),
    ((X, (2, 2, 2)), {}, TypeError, "kernel_size"),
])
def test_pooling_rejects_bad_input(fn, args, kwargs, error, words):
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    assert words in str(info.value) and fn.__name__ in str(info.value)


@pytest.mark.parametrize("fn", [max_pool2d_backward, avg_pool2d_backward], ids=["max", "avg"])
def test_pooling_backward_rejects_bad_dout(fn):
    with pytest.raises(ValueError, match=rf"{fn.__name__}\(dout\): expected shape \(1, 2, 2, 2\)"):
        fn(np.zeros((1, 2, 4, 4)), X, 2)
    with pytest.raises(TypeError, match=rf"{fn.__name__}\(dout\): expected a floating-point"):
        fn(np.zeros((1, 2, 2, 2), dtype=int), X, 2)


def test_global_avg_pool_rejects_bad_input():
    with pytest.raises(ValueError, match=r"global_avg_pool2d\(x\): expected 4 dims"):
        global_avg_pool2d(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"global_avg_pool2d_backward\(dout\): expected shape \(1, 2\)"):
        global_avg_pool2d_backward(np.zeros((1, 3)), X)
