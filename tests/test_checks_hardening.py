"""Issue 9, part 4: the wrong answers that used to pass these checks are rejected, each with a message naming the
mistake (chapters 01, 04, 05, 07, 08)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.checks import ch01_convolution as ch01
from course.checks import ch04_pytorch as ch04
from course.checks import ch05_video_data as ch05
from course.checks import ch07_3d_convolution as ch07
from course.checks import ch08_c3d as ch08


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def messages(result):
    return " | ".join(c.message for c in result.cases if not c.passed)


# --- chapter 01: output size ----------------------------------------------------------------------------------------

def good_output_size(n, k, p, s, d=1):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


@pytest.mark.parametrize("wrong, words", [
    (lambda n, k, p, s, d=1: np.array([good_output_size(n, k, p, s, d)]), "not an array"),
    (lambda n, k, p, s, d=1: float(good_output_size(n, k, p, s, d)), "a float"),
    (lambda n, k, p, s, d=1: str(good_output_size(n, k, p, s, d)), "the string"),
    (lambda n, k, p, s, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1, "floor division //"),
])
def test_ch01_output_size_needs_a_plain_int(wrong, words):
    assert ch01.output_size(good_output_size).passed
    result = ch01.output_size(wrong)
    assert not result.passed and words in messages(result)


# --- chapters 07 and 08: shapes ---------------------------------------------------------------------------------------

def good_conv3d_shape(x_shape, w_shape, stride=1, padding=0):
    s = (stride,) * 3 if isinstance(stride, int) else stride
    p = (padding,) * 3 if isinstance(padding, int) else padding
    n, _, *size = x_shape
    f, _, *k = w_shape
    return (n, f) + tuple((a + 2 * pp - kk) // ss + 1 for a, kk, ss, pp in zip(size, k, s, p))


def good_pooled_shape(shape, kernel, stride, padding):
    c, *size = shape
    return (c,) + tuple((a + 2 * p - k) // s + 1 for a, k, s, p in zip(size, kernel, stride, padding))


@pytest.mark.parametrize("check, good", [(ch07.conv3d_output_shape, good_conv3d_shape),
                                         (ch08.pooled_shape, good_pooled_shape)])
def test_shape_checks_reject_true_division_and_strings(check, good):
    assert check(good).passed
    true_division = check(lambda *a: tuple(v / 1 for v in good(*a)))  # the same values, as floats
    assert not true_division.passed and "floor division //" in messages(true_division)
    strings = check(lambda *a: tuple(str(v) for v in good(*a)))
    assert not strings.passed and "the string" in messages(strings)
    as_one_string = check(lambda *a: str(good(*a)))
    assert not as_one_string.passed


def test_ch08_feature_shape_rejects_floats():
    def floats(t, h, w, channels=512):
        t5 = t / 16
        return (channels, t5, h // 32, w // 32)

    result = ch08.c3d_feature_shape(floats)
    assert not result.passed and "float" in messages(result)


def test_ch07_receptive_field_rejects_strings():
    result = ch07.receptive_field_size(lambda layers: ("3", "3", "3"))
    assert not result.passed and "the string" in messages(result)


# --- chapter 05: frame indices and the random crop ---------------------------------------------------------------------

def test_ch05_clip_indices_rejects_float_indices():
    good = lambda n, start, clip_len, step: (start + step * np.arange(clip_len)) % n  # noqa: E731
    assert ch05.clip_indices(good).passed
    result = ch05.clip_indices(lambda n, start, clip_len, step: good(n, start, clip_len, step).astype(float))
    assert not result.passed and "must be ints" in messages(result)


def good_crop(clip, size, generator):
    h, w = clip.shape[-2:]
    top = torch.randint(0, h - size + 1, (1,), generator=generator).item()
    left = torch.randint(0, w - size + 1, (1,), generator=generator).item()
    return clip[:, :, top:top + size, left:left + size]


def global_rng_crop(clip, size, generator):
    h, w = clip.shape[-2:]
    top = torch.randint(0, h - size + 1, (1,)).item()
    left = torch.randint(0, w - size + 1, (1,)).item()
    return clip[:, :, top:top + size, left:left + size]


def off_by_one_crop(clip, size, generator):
    h, w = clip.shape[-2:]
    top = torch.randint(0, max(h - size, 1), (1,), generator=generator).item()
    left = torch.randint(0, max(w - size, 1), (1,), generator=generator).item()
    return clip[:, :, top:top + size, left:left + size]


@pytest.mark.parametrize("wrong", [global_rng_crop, off_by_one_crop])
def test_ch05_random_crop_must_be_the_reference_draw(wrong):
    assert ch05.random_crop_clip(good_crop).passed
    result = ch05.random_crop_clip(wrong)
    assert not result.passed and "generator=generator" in messages(result)


def test_ch05_center_clip_item_with_an_array_label_is_a_verdict():
    def array_label(videos, labels, index, clip_len):
        return torch.zeros(3, clip_len, 6, 8), np.array(labels)

    result = ch05.center_clip_item(array_label)
    assert not result.passed and all(c.message for c in result.cases)


# --- chapter 04: accuracy as a float, evaluation without gradients ------------------------------------------------------

def good_accuracy(logits, labels):
    return (logits.argmax(dim=1) == labels).float().mean().item()


def test_ch04_accuracy_from_logits_wants_a_python_float():
    assert ch04.accuracy_from_logits(good_accuracy).passed
    result = ch04.accuracy_from_logits(lambda logits, labels: (logits.argmax(dim=1) == labels).float().mean())
    assert not result.passed and "returned a tensor" in messages(result) and ".item()" in messages(result)


def evaluate(model, loader, no_grad=True):
    import contextlib

    model.eval()
    correct = total = 0
    with torch.no_grad() if no_grad else contextlib.nullcontext():
        for inputs, labels in loader:
            correct += (model(inputs).argmax(dim=1) == labels).sum().item()
            total += len(labels)
    return correct / total


def test_ch04_evaluate_accuracy_must_not_record_gradients():
    assert ch04.evaluate_accuracy(evaluate).passed
    result = ch04.evaluate_accuracy(lambda model, loader: evaluate(model, loader, no_grad=False))
    assert not result.passed and "torch.no_grad()" in messages(result)


def test_ch04_evaluate_accuracy_accepts_inference_mode():
    def with_inference_mode(model, loader):
        with torch.inference_mode():
            return evaluate(model, loader, no_grad=False)

    assert ch04.evaluate_accuracy(with_inference_mode).passed


def test_model_checks_of_chapter06_guard_exit_and_endless_loops():
    """ch06's case runner (also used by ch08, ch09, ch11, ch12) reports sys.exit and a loop past its limit."""
    import sys
    import time

    from course.checks.ch06_frames_vs_time import _run_case

    exited = _run_case("exits", lambda: sys.exit(3))
    assert not exited.passed and "sys.exit(3)" in exited.message

    def forever():
        while True:
            time.sleep(0.01)

    hung = _run_case("loops", forever, time_limit=0.3)
    assert not hung.passed and "did not return within 0.3 s" in hung.message
    assert _run_case("passes", lambda: None).passed
