"""The base of every exercise check.

A check runs the learner's function on a few cases, compares each result with a reference (a reference function or
an expected value), and prints one short, friendly verdict per case: what was expected, what came back, and a hint.
It never lets the learner's exception escape (a check cell must not crash), and it returns a :class:`CheckResult`
that tests can inspect (in a notebook the result shows nothing more: the verdict was already printed).

Everything that touches the learner's result — the call, converting it, comparing it — runs inside one guard:

- an exception is reported as a failed case (``SystemExit`` from ``sys.exit()`` too);
- ``KeyboardInterrupt`` (the learner's own, or a real Ctrl-C) fails the case, skips the remaining ones and prints the
  verdict, so a cell stops promptly without a traceback;
- each call has a time limit (``time_limit`` seconds, :data:`DEFAULT_TIME_LIMIT` by default; checks that train pass
  more). On Linux and macOS, in the main thread (where Jupyter runs cells), a ``SIGALRM`` timer interrupts the
  learner's code, so an endless loop really stops. Elsewhere (Windows, or a check called from another thread) the
  call runs in a daemon thread that is abandoned after the limit: the check reports and moves on, but the runaway
  code keeps using a CPU core until the kernel is restarted, and the message says so. After a case that runs out of
  time the remaining cases are skipped (with a message), so a check never keeps the learner waiting much longer than
  one time limit.

When the environment variable ``COURSE_STRICT_CHECKS=1`` is set — the test suite sets it while executing the
solution notebooks — a failed check raises :class:`CheckFailed` after printing, so a broken solution fails the suite.
"""
from __future__ import annotations

import math
import os
import signal
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

_MISSING = object()

#: Seconds a learner's function may run for one case before the case fails.
DEFAULT_TIME_LIMIT = 10.0


class CheckFailed(AssertionError):
    """Raised in strict mode (``COURSE_STRICT_CHECKS=1``) when an exercise check does not pass."""


@dataclass
class Case:
    """One test case: call the function with ``args``/``kwargs`` and compare with ``expected``.

    Leave ``expected`` out to compute it from the check's reference function.
    """

    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    name: str = ""
    expected: Any = _MISSING
    hint: str | None = None


@dataclass
class CaseResult:
    name: str
    passed: bool
    message: str
    expected: Any = None
    got: Any = None
    hint: str | None = None
    error: BaseException | None = None

    @property
    def not_implemented(self) -> bool:
        return isinstance(self.error, NotImplementedError)

    @property
    def timed_out(self) -> bool:
        return isinstance(self.error, TimeLimitExceeded)


@dataclass
class CheckResult:
    """What a check found: one :class:`CaseResult` per case. ``bool(result)`` is True when all cases pass."""

    title: str
    cases: list[CaseResult]

    @property
    def passed(self) -> bool:
        return bool(self.cases) and all(c.passed for c in self.cases)

    @property
    def n_passed(self) -> int:
        return sum(c.passed for c in self.cases)

    @property
    def not_implemented(self) -> bool:
        return any(c.not_implemented for c in self.cases)

    @property
    def stopped(self) -> bool:
        """True when a case ran out of time or was interrupted: later cases (of a combined check) should not run."""
        return any(c.timed_out or isinstance(c.error, KeyboardInterrupt) for c in self.cases)

    def __bool__(self) -> bool:
        return self.passed

    def summary(self) -> str:
        lines = [f"Checking {self.title}:"]
        if self.not_implemented and self.n_passed == 0:
            lines.append("  ⏳ not implemented yet: replace `raise NotImplementedError` with your code, then run this cell again.")
            return "\n".join(lines)
        for case in self.cases:
            mark = "✅" if case.passed else "❌"
            lines.append(f"  {mark} {case.name}" + ("" if case.passed else f": {case.message}"))
            if not case.passed and case.hint:
                lines.append(f"     hint: {case.hint}")
        if self.passed:
            lines.append(f"  All {len(self.cases)} cases pass — well done!")
        else:
            lines.append(f"  {self.n_passed} of {len(self.cases)} cases pass. Fix the ❌ ones and run this cell again.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"CheckResult({self.title!r}, passed={self.passed}, {self.n_passed}/{len(self.cases)} cases)"

    def _ipython_display_(self) -> None:
        # A check cell ends with the check call, so Jupyter displays the returned result right after report()
        # printed it: show nothing then (the summary appears exactly once); displayed later on its own, print it.
        if getattr(self, "_just_reported", False):
            self._just_reported = False
            return
        print(self.summary())

    def report(self) -> "CheckResult":
        """Print the summary; in strict mode raise :class:`CheckFailed` if a case failed. Returns self."""
        print(self.summary())
        self._just_reported = True
        if strict_mode() and not self.passed:
            failed = [c.name for c in self.cases if not c.passed]
            raise CheckFailed(f"exercise check {self.title!r} failed for: {', '.join(failed)}")
        return self


def strict_mode() -> bool:
    return os.environ.get("COURSE_STRICT_CHECKS", "").strip().lower() in {"1", "true", "yes", "on"}


def plain(value: Any) -> str:
    """A number as a learner would write it: ``-6.09``, not ``np.float64(-6.09)``; other values by ``repr``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return f"{value:.10g}"
    return repr(value)


def _short(value: Any, limit: int = 160) -> str:
    try:
        if isinstance(value, np.ndarray) or _is_tensor(value):
            arr = _to_numpy(value)
            kind = f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}" if _is_tensor(value) else (
                f"array of shape {tuple(arr.shape)}, dtype {arr.dtype}")
            if arr.size <= 16:
                kind += ": " + np.array2string(arr, precision=4, separator=", ").replace("\n", "")
            return kind
        text = plain(value)
    except Exception:  # noqa: BLE001 — a learner's object whose repr fails must not crash the check
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _to_numpy(value: Any) -> np.ndarray:
    """An array from a tensor (any dtype, even bfloat16, even one that requires grad), a list of them, or a value."""
    if _is_tensor(value):
        value = value.detach().cpu()
        if value.dtype.is_floating_point and value.dtype not in _numpy_float_dtypes():
            value = value.float()  # bfloat16 and float8 have no NumPy dtype
        return value.numpy()
    if isinstance(value, (list, tuple)) and any(_is_tensor(v) or isinstance(v, (list, tuple)) for v in value):
        return np.asarray([_to_numpy(v) for v in value])
    return np.asarray(value)


def _numpy_float_dtypes() -> tuple:
    import torch

    return (torch.float16, torch.float32, torch.float64)


def compare(got: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-8) -> str | None:
    """Compare a learner's value with the expected one. Returns None when they match, else what differs (in words).

    Arrays and tensors are compared by shape, then values (``np.allclose``); tuples and lists element by element;
    an expected float approximately, and only with a number (an int or a float: not a string, a bool or an array);
    an expected int — a count, a size, an index — exactly, and only with an int (see :func:`compare_ints`); an
    expected bool only with a bool; everything else with ``==``.
    """
    if isinstance(expected, (bool, np.bool_)):
        if not isinstance(got, (bool, np.bool_)):
            return f"expected {expected} (a bool: True or False), got {_short(got)} ({type(got).__name__})"
        return None if bool(got) == bool(expected) else f"expected {expected}, got {bool(got)}"
    if _is_int(expected):
        return compare_ints(got, expected)
    if isinstance(expected, (float, np.floating)):
        problem = number_problem(got)
        if problem:
            return problem
        if math.isnan(float(expected)) and math.isnan(float(got)):
            return None
        ok = math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol)
        return None if ok else f"expected {plain(expected)}, got {plain(got)}"
    if isinstance(expected, (np.ndarray, np.generic)) or _is_tensor(expected):
        if got is None:
            return "got None — did you forget to `return` the result?"
        if not (isinstance(got, (np.ndarray, np.generic, list, tuple, int, float)) or _is_tensor(got)):
            return f"expected an array, got {type(got).__name__}"
        g, e = _to_numpy(got), _to_numpy(expected)
        if g.shape != e.shape:
            return f"expected shape {tuple(e.shape)}, got shape {tuple(g.shape)}"
        if e.dtype == bool:
            bad = int(np.sum(g != e))
            return None if bad == 0 else f"{bad} of {e.size} values differ"
        if g.dtype == bool:
            return f"expected numbers (dtype {e.dtype}), got True/False values (dtype bool)"
        if not np.issubdtype(g.dtype, np.number):
            return f"expected numbers, got dtype {g.dtype}"
        if np.issubdtype(e.dtype, np.integer) and not np.issubdtype(g.dtype, np.integer):
            return (f"expected whole numbers (an integer dtype, like {e.dtype}), got dtype {g.dtype}: indices, ids "
                    f"and counts are ints — use // rather than /, or .astype(int) / .long()")
        if np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
            return None
        if e.ndim == 0:
            return f"expected {plain(e.item())}, got {plain(g.item())}"
        diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
        idx = np.unravel_index(int(np.nanargmax(diff)), diff.shape) if diff.size else ()
        wrong = int(np.sum(~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)))
        return (f"{wrong} of {e.size} values differ; largest difference at index {tuple(int(i) for i in idx)}: "
                f"expected {plain(e[idx])}, got {plain(g[idx])}")
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"expected a {type(expected).__name__} of {len(expected)} items, got {type(got).__name__}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, rtol=rtol, atol=atol)
            if problem:
                return f"item {i}: {problem}"
        return None
    try:
        equal = got == expected
        equal = bool(np.all(equal)) if not isinstance(equal, bool) else equal
    except Exception:  # noqa: BLE001 — a learner's object with a strange __eq__ must not crash the check
        equal = False
    return None if equal else f"expected {_short(expected)}, got {_short(got)}"


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _not_a_single_value(got: Any, what: str, wanted: str) -> str | None:
    """What is wrong with ``got`` when a single ``wanted`` value was expected and ``got`` is None, a bool, a string,
    an array, a tensor or a list; None when it is none of these."""
    if got is None:
        return f"{what} is None — did you forget to `return` it?"
    if isinstance(got, (bool, np.bool_)):
        return f"{what} is the bool {bool(got)}: expected {wanted}, not True/False"
    if isinstance(got, (str, bytes)):
        return f"{what} is the string {got!r}: expected {wanted}, not text"
    if isinstance(got, np.ndarray) or _is_tensor(got) or isinstance(got, (list, tuple)):
        return (f"{what} is {_short(got)}: expected {wanted}, not an array or a list — take the single value out "
                f"with .item()")
    return None


def number_problem(got: Any, what: str = "the result") -> str | None:
    """None if ``got`` is a single real number (an int or a float, Python or NumPy; not a bool), else what is wrong
    with it, in words: a string, a bool, an array or tensor (even of one element), a list..."""
    if isinstance(got, (int, float, np.integer, np.floating)) and not isinstance(got, (bool, np.bool_)):
        return None
    return (_not_a_single_value(got, what, "a number (a Python float)")
            or f"{what} is {_short(got)} ({type(got).__name__}): expected a number (a Python float)")


def python_float_problem(got: Any, what: str = "the result") -> str | None:
    """None if ``got`` is a Python ``float`` (``np.float64`` is one), else what is wrong and how to make one."""
    if isinstance(got, float):
        return None
    if _is_tensor(got):
        return (f"returned a tensor ({got.dtype}, shape {tuple(got.shape)}) as {what}; return a Python float: "
                f"call .item() on it")
    if isinstance(got, np.generic) and not isinstance(got, (bool, np.bool_, str, bytes)):
        return f"{what} is a NumPy {got.dtype} ({plain(got)}); return a Python float: float(...)"
    if _is_int(got):
        return f"{what} is the int {got}; return a Python float (e.g. a / b, or float(...))"
    return (_not_a_single_value(got, what, "a Python float")
            or f"{what} is {_short(got)} ({type(got).__name__}): expected a Python float")


def compare_float(got: Any, expected: Any, *, rtol: float = 1e-9, atol: float = 1e-12) -> str | None:
    """Compare a learner's value that must be a Python float (what the exercise asks for) with the expected number."""
    return python_float_problem(got) or compare(got, float(expected), rtol=rtol, atol=atol)


def array_problem(got: Any, what: str = "the result") -> str | None:
    """None if ``got`` is a NumPy array, else what is wrong and how to make one (a tensor, a list, a number...)."""
    if isinstance(got, np.ndarray):
        return None
    if _is_tensor(got):
        return f"{what} is a tensor ({_short(got)}); return a NumPy array: .detach().numpy() (or np.array(...))"
    if got is None:
        return f"{what} is None — did you forget to `return` it?"
    return f"{what} is {_short(got)} ({type(got).__name__}): expected a NumPy array (np.array(...))"


def int_problem(got: Any, what: str = "the result") -> str | None:
    """None if ``got`` is a single int (Python or NumPy), else what is wrong with it, in words."""
    if _is_int(got):
        return None
    if isinstance(got, (float, np.floating)):
        whole = "" if math.isfinite(got) and float(got).is_integer() else ", not even a whole number"
        return (f"{what} is {plain(got)}, a float{whole}: expected an int (sizes and counts are whole numbers) — "
                f"use floor division // (true division / gives floats), or int(...)")
    return (_not_a_single_value(got, what, "a single int")
            or f"{what} is {_short(got)} ({type(got).__name__}): expected an int")


def compare_ints(got: Any, expected: Any) -> str | None:
    """Compare a learner's int, or tuple/list of ints (a shape, a size, a count), with the expected one, exactly.

    Strict about types: a float (``/`` instead of ``//``), a string, a bool or a one-element array is named, even
    when its value would compare equal."""
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"expected a tuple of {len(expected)} ints {tuple(expected)}, got {_short(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} numbers {tuple(expected)}, got {len(got)}: {_short(got)}"
        for i, value in enumerate(got):
            problem = int_problem(value, f"item {i}")
            if problem:
                return problem
        values = tuple(int(v) for v in got)
        return None if values == tuple(expected) else f"expected {tuple(expected)}, got {values}"
    problem = int_problem(got)
    if problem:
        return problem
    return None if int(got) == int(expected) else f"expected {plain(expected)}, got {plain(got)}"


def _describe_error(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "course/checks" not in frame.filename.replace("\\", "/"):
            where = f" (line {frame.lineno}: `{(frame.line or '').strip()}`)"
            break
    return f"your code raised {type(err).__name__}: {err}{where}"


class TimeLimitExceeded(TimeoutError):
    """The error of a case whose call ran past the check's time limit (not a ``TimeoutError`` the learner raised)."""


class _TimeUp(BaseException):
    """Raised inside the learner's code by the SIGALRM timer (a BaseException, so `except Exception` can't eat it)."""


@dataclass
class Outcome:
    """What running the learner's code gave: ``value``, or a failure ``message`` (with the ``error``)."""

    value: Any = None
    message: str | None = None
    error: BaseException | None = None
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return self.message is None


def _alarm_usable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def _call_with_alarm(thunk: Callable[[], Any], seconds: float) -> Any:
    def on_alarm(signum, frame):
        raise _TimeUp()

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    previous_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds, 0.25)  # repeats if the learner's code catches it
    start = time.monotonic()
    try:
        return thunk()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay:  # someone else's timer (e.g. a test runner's): give it back, minus the time spent here
            signal.setitimer(signal.ITIMER_REAL, max(previous_delay - (time.monotonic() - start), 0.001))


def _call_in_thread(thunk: Callable[[], Any], seconds: float) -> Any:
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = thunk()
        except BaseException as err:  # noqa: BLE001 — handed to the main thread
            box["error"] = err

    worker = threading.Thread(target=target, daemon=True, name="course-check")
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise _TimeUp("thread")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def run_guarded(thunk: Callable[[], Any], time_limit: float | None = DEFAULT_TIME_LIMIT) -> Outcome:
    """Run ``thunk()`` (which calls the learner's code) within ``time_limit`` seconds and never raise.

    Returns an :class:`Outcome`: the value, or a message describing what went wrong (an exception, ``sys.exit()``,
    a ``KeyboardInterrupt`` — then ``interrupted`` is True — or the time limit)."""
    try:
        if time_limit is None:
            value = thunk()
        elif _alarm_usable():
            value = _call_with_alarm(thunk, time_limit)
        else:
            value = _call_in_thread(thunk, time_limit)
        return Outcome(value)
    except _TimeUp as err:
        still = (" It is still running in the background: restart the kernel (Kernel > Restart) to stop it."
                 if err.args == ("thread",) else "")
        return Outcome(message=f"your function did not return within {time_limit:g} s — an endless loop, or far "
                               f"more work than this small case needs?{still}", error=TimeLimitExceeded(time_limit))
    except KeyboardInterrupt as err:
        return Outcome(message="interrupted (KeyboardInterrupt) — the remaining cases were not run", error=err,
                       interrupted=True)
    except SystemExit as err:
        return Outcome(message=f"your code called sys.exit({'' if err.code is None else plain(err.code)}) (or exit()); "
                               f"a function should return its result instead", error=err)
    except Exception as err:  # noqa: BLE001 — the learner's code may raise anything
        return Outcome(message=_describe_error(err), error=err)


def _stop_message(outcome: Outcome, time_limit: float | None) -> str | None:
    """Why the remaining cases of a check are not run after ``outcome`` (None: they are)."""
    if outcome.interrupted:
        return "not run (interrupted)"
    if isinstance(outcome.error, TimeLimitExceeded):
        limit = outcome.error.args[0] if outcome.error.args else time_limit
        return f"not run: skipped, as an earlier case ran past the {limit:g} s time limit — fix that one first"
    return None


class CaseRunner:
    """Runs the property cases of one check (each a ``test()`` returning None to pass or a message to fail) one
    after another, each inside :func:`run_guarded` with ``time_limit`` seconds. After a case that runs out of time
    (or is interrupted) the remaining ones are not run: each is reported as skipped, so a check that waits for a
    hanging function waits once. ``after``: an earlier part of the same check; if it stopped, so does this.

    ``run = CaseRunner(); cases = [run("name", test, hint), ...]``
    """

    def __init__(self, time_limit: float = 60.0, *, after: "CheckResult | None" = None):
        self.time_limit = time_limit
        self.stopped: str | None = None
        if after is not None and after.stopped:
            self.stopped = "not run: skipped, as an earlier case did not finish (see above) — fix that one first"

    def __call__(self, name: str, test: Callable[[], str | None], hint: str | None = None, *,
                 time_limit: float | None = None) -> CaseResult:
        if self.stopped:
            return CaseResult(name, False, self.stopped)
        limit = self.time_limit if time_limit is None else time_limit
        outcome = run_guarded(test, limit)
        if not outcome.ok:
            self.stopped = _stop_message(outcome, limit)
            return CaseResult(name, False, outcome.message, hint=hint, error=outcome.error)
        problem = outcome.value
        return CaseResult(name, problem is None, "" if problem is None else str(problem), hint=hint)


def _compare_guarded(compare_fn: Callable[[Any, Any], str | None], got: Any, expected: Any) -> str | None:
    try:
        problem = compare_fn(got, expected)
        return None if problem is None else str(problem)
    except Exception as err:  # noqa: BLE001 — a ragged list, an odd dtype... is a verdict, not a crash
        return (f"could not compare your result ({_short(got)}) with the expected one "
                f"({type(err).__name__}: {str(err)[:200]})")


def check_function(
    fn: Callable,
    cases: Sequence[Case],
    *,
    title: str,
    reference: Callable | None = None,
    compare_fn: Callable[[Any, Any], str | None] | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-8,
    hint: str | None = None,
    report: bool = True,
    time_limit: float | None = DEFAULT_TIME_LIMIT,
) -> CheckResult:
    """Run ``fn`` on every case and compare with ``case.expected`` (or ``reference(*args, **kwargs)``).

    Prints a friendly verdict per case when ``report`` is True and returns a :class:`CheckResult`. The learner's
    exceptions are caught and reported, never raised (except :class:`CheckFailed` in strict mode); the call, and the
    conversion and comparison of its result, run under :func:`run_guarded` with ``time_limit`` seconds per case;
    after a case that runs out of time (or is interrupted) the remaining cases are reported as skipped, not run.
    ``hint`` is shown for failing cases that have no hint of their own.
    """
    if not cases:
        raise ValueError("check_function(cases=...): need at least one case")
    results: list[CaseResult] = []
    if not callable(fn):
        results = [CaseResult(c.name or f"case {i + 1}", False, f"expected a function, got {_short(fn)}", hint=hint)
                   for i, c in enumerate(cases)]
    else:
        comparer = compare_fn or (lambda g, e: compare(g, e, rtol=rtol, atol=atol))
        stopped: str | None = None
        for i, case in enumerate(cases):
            name = case.name or f"case {i + 1}"
            case_hint = case.hint or hint
            if stopped:
                results.append(CaseResult(name, False, stopped, hint=None))
                continue
            expected = case.expected
            if expected is _MISSING:
                if reference is None:
                    raise ValueError(f"check_function: case {name!r} has no expected value and no reference was given")
                expected = reference(*_copy(case.args), **_copy(case.kwargs))
            args, kwargs = _copy(case.args), _copy(case.kwargs)
            outcome = run_guarded(lambda: fn(*args, **kwargs), time_limit)
            if not outcome.ok:
                stopped = _stop_message(outcome, time_limit)
                results.append(CaseResult(name, False, outcome.message, expected=expected, hint=case_hint,
                                          error=outcome.error))
                continue
            problem = _compare_guarded(comparer, outcome.value, expected)
            results.append(CaseResult(name, problem is None, problem or "", expected=expected, got=outcome.value,
                                      hint=case_hint))
    result = CheckResult(title, results)
    return result.report() if report else result


def check_value(got: Any, expected: Any, *, title: str, hint: str | None = None, rtol: float = 1e-5,
                atol: float = 1e-8, report: bool = True) -> CheckResult:
    """Check a single value the learner computed (e.g. an output size) against the expected one."""
    problem = _compare_guarded(lambda g, e: compare(g, e, rtol=rtol, atol=atol), got, expected)
    result = CheckResult(title, [CaseResult(title, problem is None, problem or "", expected, got, hint)])
    return result.report() if report else result


def _copy(value: Any) -> Any:
    """Deep-ish copy of case inputs so a learner's in-place edit cannot change the reference's inputs."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if _is_tensor(value):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
