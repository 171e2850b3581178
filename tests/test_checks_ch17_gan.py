"""The GAN checks of chapter 17: the right answers pass, the typical mistakes fail with a message that names them,
and a learner's exception never escapes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course.checks import ch17_prediction_generation as check
from course.train import gan


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


def _messages(result):
    return " | ".join(c.message for c in result.cases if not c.passed)



def test_discriminator_loss_check(capsys):
    assert check.gan_discriminator_loss(gan.discriminator_loss).passed
    wrong = check.gan_discriminator_loss(gan.articles_discriminator_loss)
    assert not wrong.passed and "articles' version" in _messages(wrong)
    swapped = check.gan_discriminator_loss(lambda r, f: gan.discriminator_loss(f, r))
    assert not swapped.passed and "swapped" in _messages(swapped)
    summed = check.gan_discriminator_loss(
        lambda r, f: F.binary_cross_entropy_with_logits(r, torch.ones_like(r), reduction="sum")
        + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f), reduction="sum"))
    assert not summed.passed and "sum over the batch" in _messages(summed)
    naive = check.gan_discriminator_loss(
        lambda r, f: -torch.log(torch.sigmoid(r)).mean() - torch.log(1 - torch.sigmoid(f)).mean())
    assert not naive.passed and "binary_cross_entropy_with_logits" in _messages(naive)
    assert naive.n_passed == 5                         # right except where log(1 - sigmoid(120)) = -inf
    detached = check.gan_discriminator_loss(lambda r, f: gan.discriminator_loss(r, f).item())
    assert not detached.passed and "backward" in _messages(detached)
    assert "❌" in capsys.readouterr().out


def test_generator_loss_check():
    assert check.gan_generator_loss(gan.generator_loss).passed
    saturating = check.gan_generator_loss(lambda l: gan.generator_loss(l, saturating=True))
    assert not saturating.passed and "saturating loss" in _messages(saturating)
    naive = check.gan_generator_loss(lambda l: -torch.log(torch.sigmoid(l)).mean())
    assert naive.n_passed == 3 and "log(0)" in _messages(naive)
    assert check.gan_generator_loss(lambda l: F.softplus(-l).mean()).passed
    flipped = check.gan_generator_loss(lambda l: -gan.generator_loss(l))
    assert "sign is flipped" in _messages(flipped)
    per_sample = check.gan_generator_loss(lambda l: F.softplus(-l))
    assert not per_sample.passed and "one number" in _messages(per_sample)


def _fd_without_sqrt(a, b):
    ca, cb = torch.cov(a.T), torch.cov(b.T)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + ca.trace() + cb.trace() - 2 * torch.trace(ca @ cb))


def _fd_biased(a, b):
    ca, cb = torch.cov(a.T, correction=0), torch.cov(b.T, correction=0)
    s = gan.sqrtm_psd(ca)
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + ca.trace() + cb.trace()
                 - 2 * torch.trace(gan.sqrtm_psd(s @ cb @ s)))


def test_frechet_distance_check():
    assert check.frechet_distance(gan.frechet_distance).passed
    no_sqrt = check.frechet_distance(_fd_without_sqrt)
    assert not no_sqrt.passed and "SQUARE ROOT" in _messages(no_sqrt)
    biased = check.frechet_distance(_fd_biased)
    assert not biased.passed and "N - 1" in _messages(biased)
    means = check.frechet_distance(lambda a, b: float(((a.mean(0) - b.mean(0)) ** 2).sum()))
    assert not means.passed and "covariance term" in _messages(means)


def test_checks_never_let_exceptions_escape():
    def broken(*args):
        raise RuntimeError("learner bug")

    for fn in (check.gan_discriminator_loss, check.gan_generator_loss, check.frechet_distance):
        result = fn(broken)
        assert not result.passed and "learner bug" in _messages(result)
        assert not fn("not a function").passed
        assert not fn(lambda *a: "a string").passed
        nan = fn(lambda *a: float("nan"))
        assert not nan.passed


def test_not_implemented_is_reported_as_such():
    def todo(*args):
        raise NotImplementedError

    for fn in (check.gan_discriminator_loss, check.gan_generator_loss, check.frechet_distance):
        assert fn(todo).not_implemented
