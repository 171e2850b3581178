"""Issue 9, part 5: the NumPy layers refuse empty axes, and numerical_gradient always restores x."""
from __future__ import annotations

import numpy as np
import pytest

from course.numpy_nn import conv2d, conv2d_naive, conv3d, max_pool2d, numerical_gradient
from course.numpy_nn.conv3d import conv3d_naive, max_pool3d


@pytest.mark.parametrize("fn, x_shape, w_shape", [
    (conv2d, (1, 1, 5, 5), (1, 1, 0, 3)),       # a kernel with a zero dimension
    (conv2d_naive, (1, 1, 5, 5), (1, 1, 3, 0)),
    (conv2d, (0, 1, 5, 5), (1, 1, 3, 3)),       # N = 0
    (conv2d, (1, 1, 5, 5), (0, 1, 3, 3)),       # F = 0
    (conv2d_naive, (0, 1, 5, 5), (2, 1, 3, 3)),
    (conv3d, (1, 1, 4, 5, 5), (1, 1, 0, 3, 3)),
    (conv3d_naive, (1, 1, 4, 5, 5), (0, 1, 3, 3, 3)),
    (conv3d, (0, 1, 4, 5, 5), (1, 1, 3, 3, 3)),
])
def test_empty_axes_are_clear_errors(fn, x_shape, w_shape):
    with pytest.raises(ValueError, match=r"at least 1, got shape"):
        fn(np.zeros(x_shape), np.zeros(w_shape))


@pytest.mark.parametrize("fn, shape", [(max_pool2d, (0, 1, 4, 4)), (max_pool2d, (1, 0, 4, 4)),
                                       (max_pool3d, (0, 1, 2, 4, 4))])
def test_pooling_an_empty_batch_is_a_clear_error(fn, shape):
    with pytest.raises(ValueError, match=r"at least 1, got shape"):
        fn(np.zeros(shape), 2)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.arange(4.0)
    calls = []

    def f(v):
        calls.append(v.copy())
        if len(calls) > 1:  # the first call (shape probe) works; the perturbed one fails
            raise RuntimeError("boom")
        return v * 2

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(f, x, np.ones(4))
    np.testing.assert_array_equal(x, np.arange(4.0))
