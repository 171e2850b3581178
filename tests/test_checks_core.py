import numpy as np
import pytest
import torch

from course.checks import Case, CheckFailed, check_function, check_value, compare
from course.checks import ch00_welcome
from course.viz.welcome import ball_position


@pytest.fixture(autouse=True)
def not_strict(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def square(x):
    return x * x


def test_correct_function_passes_and_prints_verdicts(capsys):
    result = check_function(square, [Case((2,), name="two"), Case((np.arange(3.0),), name="array")],
                            title="square", reference=lambda x: x ** 2)
    out = capsys.readouterr().out
    assert result.passed and result.n_passed == 2
    assert "✅ two" in out and "All 2 cases pass" in out


def test_wrong_answer_says_what_was_expected_and_got(capsys):
    result = check_function(lambda x: x + x, [Case((3,), name="three", hint="multiply")], title="square",
                            reference=square)
    out = capsys.readouterr().out
    assert not result.passed
    assert "expected 9, got 6" in out and "hint: multiply" in out


def test_learner_exceptions_are_caught_and_described(capsys):
    def broken(x):
        return x / 0

    result = check_function(broken, [Case((1,), name="one")], title="broken", reference=square)
    out = capsys.readouterr().out
    assert not result.passed and isinstance(result.cases[0].error, ZeroDivisionError)
    assert "ZeroDivisionError" in out and "x / 0" in out


def test_not_implemented_is_reported_as_such(capsys):
    def todo(x):
        raise NotImplementedError

    result = check_function(todo, [Case((1,)), Case((2,))], title="todo", reference=square)
    assert result.not_implemented and not result.passed
    assert "not implemented yet" in capsys.readouterr().out


def test_not_a_function_is_a_verdict_not_a_crash():
    result = check_function(42, [Case((1,))], title="x", reference=square, report=False)
    assert not result.passed and "expected a function" in result.cases[0].message


def test_strict_mode_raises_after_printing(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed, match="square"):
        check_function(lambda x: 0, [Case((3,), name="three")], title="square", reference=square)
    assert "❌ three" in capsys.readouterr().out
    assert check_function(square, [Case((3,))], title="square", reference=square).passed


def test_learner_cannot_corrupt_reference_inputs():
    def mutating(a):
        a[:] = 0
        return a

    data = np.ones(3)
    result = check_function(mutating, [Case((data,))], title="m", reference=lambda a: a * 1, report=False)
    assert not result.passed and np.array_equal(data, np.ones(3))


@pytest.mark.parametrize("got, expected, fragment", [
    (np.zeros((2, 3)), np.zeros((3, 2)), "expected shape (3, 2), got shape (2, 3)"),
    (np.array([1.0, 2.0]), np.array([1.0, 2.5]), "1 of 2 values differ"),
    (None, np.zeros(2), "forget to `return`"),
    ((1, 2), (1, 2, 3), "expected 3 items, got 2"),
    (torch.ones(2), np.ones(3), "expected shape (3,)"),
    (0.5, 0.25, "expected 0.25, got 0.5"),
])
def test_compare_explains_differences(got, expected, fragment):
    assert fragment in compare(got, expected)


def test_compare_accepts_close_values_and_tensors():
    assert compare(torch.tensor([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])) is None
    assert compare((1.0, np.ones(2)), (1.0, np.ones(2))) is None


def test_check_value():
    assert check_value(5, 5, title="size", report=False).passed
    assert not check_value(4, 5, title="size", report=False).passed


def test_chapter00_check_accepts_the_solution_and_rejects_a_swap():
    def right(clip, t0, t1):
        (r0, c0), (r1, c1) = ball_position(clip[t0]), ball_position(clip[t1])
        return (r1 - r0, c1 - c0)

    def swapped(clip, t0, t1):
        return right(clip, t1, t0)

    assert ch00_welcome.ball_displacement(right).passed
    wrong = ch00_welcome.ball_displacement(swapped)
    assert not wrong.passed and wrong.cases[-1].passed  # t0 == t1 passes either way
