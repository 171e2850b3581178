"""The exercise checks of chapters 01–03 accept a correct hand-written answer, reject wrong ones, never crash."""
from __future__ import annotations

import numpy as np
import pytest

from course.checks import ch01_convolution as ch01
from course.checks import ch02_fast_convolution as ch02
from course.checks import ch03_pooling_cnn as ch03


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


# Learner-style answers, written with loops independently of course.numpy_nn.
def output_size(n, k, p, s, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def zero_pad(image, p):
    out = np.zeros((image.shape[0] + 2 * p, image.shape[1] + 2 * p))
    out[p:p + image.shape[0], p:p + image.shape[1]] = image
    return out


def correlate2d(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i:i + kh, j:j + kw] * kernel)
    return out


def conv2d_multichannel(x, w, b, stride=1, padding=0):
    xp = np.pad(x, ((0, 0), (padding, padding), (padding, padding)))
    f, _, kh, kw = w.shape
    ho, wo = (xp.shape[1] - kh) // stride + 1, (xp.shape[2] - kw) // stride + 1
    out = np.zeros((f, ho, wo))
    for k in range(f):
        for i in range(ho):
            for j in range(wo):
                out[k, i, j] = np.sum(xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw] * w[k]) + b[k]
    return out


def im2col(x, kh, kw, stride=1):
    n, c, h, w = x.shape
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    cols = np.zeros((n, c * kh * kw, ho * wo))
    for i in range(ho):
        for j in range(wo):
            cols[:, :, i * wo + j] = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw].reshape(n, -1)
    return cols


def conv2d_matmul(x, w, b):
    f, _, kh, kw = w.shape
    ho, wo = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    return (w.reshape(f, -1) @ im2col(x, kh, kw) + b[:, None]).reshape(x.shape[0], f, ho, wo)


def conv2d_backward(dout, x, w):
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    kh, kw = w.shape[2:]
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            patch = x[:, :, i:i + kh, j:j + kw]
            dw += np.einsum("nf,nchw->fchw", dout[:, :, i, j], patch)
            dx[:, :, i:i + kh, j:j + kw] += np.einsum("nf,fchw->nchw", dout[:, :, i, j], w)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def max_pool2d(x, k):
    n, c, h, w = x.shape
    return x[:, :, :h // k * k, :w // k * k].reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))


def max_pool2d_backward(dout, x, k):
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            win = x[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k]
            flat = win.reshape(*win.shape[:2], -1).argmax(axis=2)
            for n in range(x.shape[0]):
                for c in range(x.shape[1]):
                    u, v = divmod(flat[n, c], k)
                    dx[n, c, i * k + u, j * k + v] += dout[n, c, i, j]
    return dx


def softmax_cross_entropy(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    n = len(labels)
    loss = -np.log(p[np.arange(n), labels]).mean()
    p[np.arange(n), labels] -= 1
    return loss, p / n


def gradient_check(backward, x, w):
    from course.numpy_nn import conv2d, numerical_gradient

    dout = np.random.default_rng(0).standard_normal(conv2d(x, w).shape)
    dx, dw, _ = backward(dout, x, w)
    num_dx = numerical_gradient(lambda v: conv2d(v, w), x, dout)
    num_dw = numerical_gradient(lambda v: conv2d(x, v), w, dout)
    return (np.abs(dx - num_dx).max() / np.abs(num_dx).max(), np.abs(dw - num_dw).max() / np.abs(num_dw).max())


CHECKS = [
    (ch01.output_size, output_size, lambda n, k, p, s, d=1: (n + 2 * p - k) // s + 1),  # forgets dilation
    (ch01.zero_pad, zero_pad, lambda image, p: np.pad(image, p)[:-1]),
    (ch01.correlate2d, correlate2d, lambda image, kernel: correlate2d(image, kernel[::-1, ::-1])),  # flips
    (ch01.conv2d_multichannel, conv2d_multichannel, lambda x, w, b, stride=1, padding=0:
        conv2d_multichannel(x, w, 0 * b, stride, padding)),  # forgets the bias
    (ch02.im2col, im2col, lambda x, kh, kw, stride=1: im2col(x, kh, kw, 1)),  # ignores stride
    (ch02.conv2d_matmul, conv2d_matmul, lambda x, w, b: conv2d_matmul(x, w[:, :, ::-1], b)),
    (ch02.conv2d_backward_simple, conv2d_backward, lambda d, x, w: conv2d_backward(d, x, w)[::-1]),
    (ch02.gradient_check, gradient_check, lambda backward, x, w: (0.0, 0.0)),  # a check that cannot fail
    (ch03.max_pool2d, max_pool2d, lambda x, k: max_pool2d(-x, k)),
    (ch03.max_pool2d_backward, max_pool2d_backward, lambda d, x, k: max_pool2d_backward(d, -x, k)),
    (ch03.softmax_cross_entropy, softmax_cross_entropy, lambda lg, lb: softmax_cross_entropy(lg, lb)[::-1]),
]
IDS = [c[0].__name__ for c in CHECKS]


@pytest.mark.parametrize("check, good, bad", CHECKS, ids=IDS)
def test_check_accepts_a_correct_answer(check, good, bad, capsys):
    result = check(good)
    assert result.passed, result.summary()
    assert "well done" in capsys.readouterr().out


@pytest.mark.parametrize("check, good, bad", CHECKS, ids=IDS)
def test_check_rejects_a_wrong_answer(check, good, bad):
    result = check(bad)
    assert not result.passed and result.n_passed < len(result.cases)


@pytest.mark.parametrize("check, good, bad", CHECKS, ids=IDS)
def test_check_reports_unfinished_exercise_without_crashing(check, good, bad, capsys):
    def unfinished(*args, **kwargs):
        raise NotImplementedError

    result = check(unfinished)
    assert result.not_implemented and not result.passed
    assert "not implemented yet" in capsys.readouterr().out


def test_strict_mode_raises_on_a_wrong_answer(monkeypatch):
    from course.checks import CheckFailed

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        ch01.output_size(lambda n, k, p, s, d=1: 0)
