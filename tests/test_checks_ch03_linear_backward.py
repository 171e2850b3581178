"""course.checks.ch03_pooling_cnn.linear_backward: passes the right backward pass, catches the usual mistakes."""
import numpy as np
import pytest

from course.checks import ch03_pooling_cnn as check


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


def right(dout, x, w):
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


@pytest.mark.parametrize("wrong", [
    lambda d, x, w: (2 * d @ w.T, x.T @ d, d.sum(axis=0)),           # dx off by a factor
    lambda d, x, w: (d @ w.T, x.T @ d / len(x), d.sum(axis=0)),    # averaged instead of summed over examples
    lambda d, x, w: (d @ w.T, x.T @ d, d.sum(axis=1)),             # bias gradient summed over the wrong axis
    lambda d, x, w: (d @ w.T, d.T @ x, d.sum(axis=0)),             # dw transposed
])
def test_linear_backward_rejects_mistakes(wrong):
    assert not check.linear_backward(wrong).passed


def test_linear_backward_accepts_the_right_answer_and_survives_errors():
    assert check.linear_backward(right).passed
    result = check.linear_backward(lambda d, x, w: 1 / 0)
    assert not result.passed
