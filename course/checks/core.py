"""The base of every exercise check.

A check runs the learner's function on a few cases, compares each result with a reference (a reference function or
an expected value), and prints one short, friendly verdict per case: what was expected, what came back, and a hint.
It never lets the learner's exception escape (a check cell must not crash), and it returns a :class:`CheckResult`
that tests can inspect.

When the environment variable ``COURSE_STRICT_CHECKS=1`` is set — the test suite sets it while executing the
solution notebooks — a failed check raises :class:`CheckFailed` after printing, so a broken solution fails the suite.
"""
from __future__ import annotations

import math
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

_MISSING = object()


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

    def report(self) -> "CheckResult":
        """Print the summary; in strict mode raise :class:`CheckFailed` if a case failed. Returns self."""
        print(self.summary())
        if strict_mode() and not self.passed:
            failed = [c.name for c in self.cases if not c.passed]
            raise CheckFailed(f"exercise check {self.title!r} failed for: {', '.join(failed)}")
        return self


def strict_mode() -> bool:
    return os.environ.get("COURSE_STRICT_CHECKS", "").strip().lower() in {"1", "true", "yes", "on"}


def _short(value: Any, limit: int = 160) -> str:
    if isinstance(value, np.ndarray) or _is_tensor(value):
        arr = _to_numpy(value)
        text = f"array of shape {tuple(arr.shape)}, dtype {arr.dtype}"
        if arr.size <= 16:
            text += ": " + np.array2string(arr, precision=4, separator=", ").replace("\n", "")
        return text
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _to_numpy(value: Any) -> np.ndarray:
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def compare(got: Any, expected: Any, *, rtol: float = 1e-5, atol: float = 1e-8) -> str | None:
    """Compare a learner's value with the expected one. Returns None when they match, else what differs (in words).

    Arrays and tensors are compared by shape, then values (``np.allclose``); tuples and lists element by element;
    floats approximately; everything else with ``==``.
    """
    if isinstance(expected, (np.ndarray, np.generic)) or _is_tensor(expected):
        if got is None:
            return "got None — did you forget to `return` the result?"
        if not (isinstance(got, (np.ndarray, np.generic, list, tuple, int, float)) or _is_tensor(got)):
            return f"expected an array, got {type(got).__name__}"
        g, e = _to_numpy(got), _to_numpy(expected)
        if g.shape != e.shape:
            return f"expected shape {tuple(e.shape)}, got shape {tuple(g.shape)}"
        if e.dtype == bool or g.dtype == bool:
            bad = int(np.sum(g != e))
            return None if bad == 0 else f"{bad} of {e.size} values differ"
        if not np.issubdtype(g.dtype, np.number):
            return f"expected numbers, got dtype {g.dtype}"
        if np.allclose(g, e, rtol=rtol, atol=atol, equal_nan=True):
            return None
        diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
        idx = np.unravel_index(int(np.nanargmax(diff)), diff.shape) if diff.size else ()
        wrong = int(np.sum(~np.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)))
        return (f"{wrong} of {e.size} values differ; largest difference at index {tuple(int(i) for i in idx)}: "
                f"expected {e[idx]!r}, got {g[idx]!r}")
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
    if isinstance(expected, float) or (isinstance(expected, (int, np.integer)) and isinstance(got, float)):
        try:
            ok = math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol)
        except (TypeError, ValueError):
            return f"expected a number, got {_short(got)}"
        return None if ok else f"expected {expected!r}, got {got!r}"
    try:
        equal = got == expected
        equal = bool(np.all(equal)) if not isinstance(equal, bool) else equal
    except Exception:  # noqa: BLE001 — a learner's object with a strange __eq__ must not crash the check
        equal = False
    return None if equal else f"expected {_short(expected)}, got {_short(got)}"


def _describe_error(err: BaseException) -> str:
    frames = traceback.extract_tb(err.__traceback__)
    where = ""
    for frame in reversed(frames):
        if "course/checks" not in frame.filename.replace("\\", "/"):
            where = f" (line {frame.lineno}: `{(frame.line or '').strip()}`)"
            break
    return f"your code raised {type(err).__name__}: {err}{where}"


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
) -> CheckResult:
    """Run ``fn`` on every case and compare with ``case.expected`` (or ``reference(*args, **kwargs)``).

    Prints a friendly verdict per case when ``report`` is True and returns a :class:`CheckResult`. The learner's
    exceptions are caught and reported, never raised (except :class:`CheckFailed` in strict mode).
    ``hint`` is shown for failing cases that have no hint of their own.
    """
    if not cases:
        raise ValueError("check_function(cases=...): need at least one case")
    results: list[CaseResult] = []
    if not callable(fn):
        results = [CaseResult(c.name or f"case {i + 1}", False, f"expected a function, got {_short(fn)}", hint=hint)
                   for i, c in enumerate(cases)]
    else:
        for i, case in enumerate(cases):
            name = case.name or f"case {i + 1}"
            case_hint = case.hint or hint
            expected = case.expected
            if expected is _MISSING:
                if reference is None:
                    raise ValueError(f"check_function: case {name!r} has no expected value and no reference was given")
                expected = reference(*_copy(case.args), **_copy(case.kwargs))
            try:
                got = fn(*_copy(case.args), **_copy(case.kwargs))
            except Exception as err:  # noqa: BLE001 — the learner's code may raise anything
                results.append(CaseResult(name, False, _describe_error(err), expected=expected, hint=case_hint, error=err))
                continue
            problem = (compare_fn or (lambda g, e: compare(g, e, rtol=rtol, atol=atol)))(got, expected)
            results.append(CaseResult(name, problem is None, problem or "", expected=expected, got=got, hint=case_hint))
    result = CheckResult(title, results)
    return result.report() if report else result


def check_value(got: Any, expected: Any, *, title: str, hint: str | None = None, rtol: float = 1e-5,
                atol: float = 1e-8, report: bool = True) -> CheckResult:
    """Check a single value the learner computed (e.g. an output size) against the expected one."""
    problem = compare(got, expected, rtol=rtol, atol=atol)
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
