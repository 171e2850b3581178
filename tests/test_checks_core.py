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


# --- issue 9: a check never crashes, never hangs, prints plain numbers, shows its verdict once ----------------------

@pytest.mark.parametrize("bad, expected", [
    ([[1, 2], [3]], np.zeros((2, 2))),                                   # ragged list
    (torch.ones(2, 2, dtype=torch.bfloat16) * 3, np.ones((2, 2))),       # bfloat16 has no NumPy dtype
    ([torch.ones(2, requires_grad=True)] * 2, np.zeros((2, 2))),          # tensors that require grad
    (np.arange(3), 2),                                                   # an array where a label is expected
    (object(), (1, 2)),
    ({"a": 1}, 1.5),
])
def test_odd_results_are_verdicts_not_crashes(bad, expected):
    result = check_function(lambda: bad, [Case(name="odd")], title="odd", reference=lambda: expected, report=False)
    assert not result.passed and result.cases[0].message
    check_value(bad, expected, title="odd value", report=False)


def test_bfloat16_and_grad_tensors_are_compared_by_value():
    want = np.full((2, 2), 3.0)
    assert check_function(lambda: torch.full((2, 2), 3.0, dtype=torch.bfloat16), [Case()], title="bf16",
                          reference=lambda: want, report=False).passed
    assert check_function(lambda: [torch.full((2,), 3.0, requires_grad=True)] * 2, [Case()], title="grad",
                          reference=lambda: want, report=False).passed


def test_a_comparison_that_raises_is_a_verdict():
    def picky(got, expected):
        raise RuntimeError("boom")

    result = check_function(lambda: 1, [Case()], title="x", reference=lambda: 1, compare_fn=picky, report=False)
    assert not result.passed and "could not compare your result (1)" in result.cases[0].message


def test_an_endless_loop_fails_the_case_after_the_time_limit():
    import time

    def forever():
        while True:
            pass

    start = time.perf_counter()
    result = check_function(forever, [Case(name="a"), Case(name="b")], title="loop", reference=lambda: 1,
                            time_limit=0.3, report=False)
    assert time.perf_counter() - start < 5
    assert result.cases[0].message.startswith("your function did not return within 0.3 s")
    assert "not run" in result.cases[1].message and "skipped" in result.cases[1].message  # issue 23, item 15


def test_the_time_limit_also_works_off_the_main_thread():
    import threading
    import time

    def slow():
        time.sleep(2)
        return 1

    box = {}
    worker = threading.Thread(target=lambda: box.update(r=check_function(
        slow, [Case()], title="slow", reference=lambda: 1, time_limit=0.2, report=False)))
    worker.start()
    worker.join(10)
    message = box["r"].cases[0].message
    assert "did not return within 0.2 s" in message and "restart the kernel" in message


def test_sys_exit_is_reported_not_propagated(capsys):
    import sys

    result = check_function(lambda x: sys.exit(3), [Case((1,)), Case((2,))], title="exit", reference=square)
    assert not result.passed and "your code called sys.exit(3)" in result.cases[1].message
    assert "sys.exit(3)" in capsys.readouterr().out


def test_keyboard_interrupt_stops_the_check_with_a_verdict(capsys):
    calls = []

    def interrupted(x):
        calls.append(x)
        raise KeyboardInterrupt

    result = check_function(interrupted, [Case((1,)), Case((2,))], title="ctrl-c", reference=square)
    assert calls == [1], "after an interrupt the remaining cases are not run"
    assert "interrupted (KeyboardInterrupt)" in result.cases[0].message and "not run" in result.cases[1].message
    assert "ctrl-c" in capsys.readouterr().out


def test_messages_print_plain_numbers():
    result = check_function(lambda: np.float64(-7.25), [Case()], title="n", reference=lambda: np.float64(-6.09),
                            report=False)
    assert result.cases[0].message == "expected -6.09, got -7.25"
    arr = check_function(lambda: np.array([1.0, 2.5]), [Case()], title="a", reference=lambda: np.array([1.0, 2.0]),
                         report=False)
    assert "expected 2, got 2.5" in arr.cases[0].message and "np.float64" not in arr.cases[0].message


def test_a_check_cell_shows_its_summary_exactly_once(capsys):
    from IPython.core.formatters import DisplayFormatter

    result = check_function(square, [Case((2,))], title="square", reference=square)
    assert capsys.readouterr().out.count("Checking square") == 1
    data, _ = DisplayFormatter().format(result)  # what Jupyter does with the cell's last value
    assert data == {} and capsys.readouterr().out == "", "no CheckResult(...) line after the friendly message"
    DisplayFormatter().format(result)  # shown again later, on its own: the summary, once
    assert capsys.readouterr().out.count("Checking square") == 1
