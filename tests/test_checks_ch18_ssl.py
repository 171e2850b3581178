"""The chapter 18 checks for masked tube autoencoding and the video-text miniature: a right answer passes, the
typical wrong answers fail with a message that says what is wrong, and a learner's exception never escapes."""
import pytest
import torch
import torch.nn.functional as F

from course.checks import ch18_self_supervised as check
from course.checks.core import CheckFailed


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


def _messages(result):
    return " ".join(c.message for c in result.cases if not c.passed)


# --------------------------------------------------------------------------------------------------------------------
# tube_mask
# --------------------------------------------------------------------------------------------------------------------

def _tube(frames, positions, ratio, generator):
    mask = torch.zeros(frames, positions, dtype=torch.bool)
    mask[:, torch.randperm(positions, generator=generator)[:round(ratio * positions)]] = True
    return mask


def test_tube_mask_accepts_a_right_answer(capsys):
    assert check.tube_mask(_tube).passed
    assert "All 4 cases pass" in capsys.readouterr().out


def test_tube_mask_accepts_a_numpy_answer():
    assert check.tube_mask(lambda T, S, r, g: _tube(T, S, r, g).numpy()).passed


@pytest.mark.parametrize("wrong, words", [
    (lambda T, S, r, g: torch.rand(T, S, generator=g) < r, "differ between frames"),           # per-token masking
    (lambda T, S, r, g: _tube(T, S, int(r * S) / S, g), "expected round(ratio * positions)"),   # truncated count
    (lambda T, S, r, g: ~_tube(T, S, r, g), "True means hidden"),                             # visible marked True
    (lambda T, S, r, g: _tube(T, S, r, torch.Generator().manual_seed(0)), "same mask"),     # ignores the generator
    (lambda T, S, r, g: _tube(T, S, r, torch.Generator().manual_seed(int(torch.randint(9, ())))), "seeded alike"),
    (lambda T, S, r, g: _tube(T, S, r, g).int(), "dtype bool"),
    (lambda T, S, r, g: _tube(T, S, r, g).flatten(), "expected shape"),
    (lambda T, S, r, g: None, "return"),
])
def test_tube_mask_rejects_typical_mistakes(wrong, words):
    result = check.tube_mask(wrong)
    assert not result.passed
    assert words in _messages(result)


def test_tube_mask_never_lets_an_exception_escape_and_reports_unfinished_work(capsys):
    def crash(*args):
        raise RuntimeError("boom")

    assert not check.tube_mask(crash).passed
    assert "boom" in capsys.readouterr().out

    def unfinished(*args):
        raise NotImplementedError

    assert check.tube_mask(unfinished).not_implemented
    assert not check.tube_mask("not a function").passed


def test_tube_mask_raises_in_strict_mode(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        check.tube_mask(lambda T, S, r, g: ~_tube(T, S, r, g))


# --------------------------------------------------------------------------------------------------------------------
# clip_loss
# --------------------------------------------------------------------------------------------------------------------

def _clip(video, text, logit_scale):
    logits = logit_scale.exp() * F.normalize(video, dim=1) @ F.normalize(text, dim=1).T
    target = torch.arange(len(video))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def test_clip_loss_accepts_a_right_answer():
    assert check.clip_loss(_clip).passed
    assert check.clip_loss(lambda v, t, s: float(_clip(v, t, s))).passed


def _one_direction(video, text, logit_scale):
    logits = logit_scale.exp() * F.normalize(video, dim=1) @ F.normalize(text, dim=1).T
    return F.cross_entropy(logits, torch.arange(len(video)))


def _unnormalised(video, text, logit_scale):
    logits = logit_scale.exp() * video @ text.T
    target = torch.arange(len(video))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def _scale_not_exponentiated(video, text, logit_scale):
    return _clip(video, text, logit_scale.log())


def _per_pair(video, text, logit_scale):
    logits = logit_scale.exp() * F.normalize(video, dim=1) @ F.normalize(text, dim=1).T
    return F.cross_entropy(logits, torch.arange(len(video)), reduction="none")


@pytest.mark.parametrize("wrong, words", [
    (_one_direction, "expected"),
    (_unnormalised, "expected"),
    (_scale_not_exponentiated, "expected"),
    (_per_pair, "single number"),
    (lambda v, t, s: None, "None"),
])
def test_clip_loss_rejects_typical_mistakes(wrong, words):
    result = check.clip_loss(wrong)
    assert not result.passed
    assert words in _messages(result)


def test_clip_loss_hints_name_the_mistake(capsys):
    check.clip_loss(_unnormalised)
    assert "F.normalize" in capsys.readouterr().out
    check.clip_loss(_one_direction)
    assert "logits.T" in capsys.readouterr().out


def test_clip_loss_never_lets_an_exception_escape():
    def crash(video, text, logit_scale):
        return video @ text                    # wrong shapes: a RuntimeError inside the learner's code

    result = check.clip_loss(crash)
    assert not result.passed and all(not c.passed for c in result.cases)
    assert "RuntimeError" in _messages(result)
