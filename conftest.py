"""pytest setup for the whole repository: quick mode, strict exercise checks, and the per-notebook timing report.

nbval executes notebooks/ and solutions/ (one test item per cell); tests/test_notebooks.py runs the generated
exercises. Kernels inherit this process's environment, so the variables set here reach them.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from collections import defaultdict
from pathlib import Path

import pytest

# The test command sets COURSE_QUICK=1; set it here too so `pytest` alone never starts a full-length run.
os.environ.setdefault("COURSE_QUICK", "1")
# In solutions, a failing exercise check raises instead of only printing (see course/checks/core.py).
os.environ["COURSE_STRICT_CHECKS"] = "1"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


NOTEBOOK_SECONDS: defaultdict[str, float] = defaultdict(float)


@pytest.fixture(scope="session")
def benchmark_script():
    """``benchmark_script("video_gan")`` -> ``benchmarks/video_gan.py`` loaded as a fresh module (the benchmark
    scripts are programs, not a package, so tests load them by path)."""
    def load(name: str):
        path = Path(__file__).resolve().parent / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


def pytest_configure(config):
    config.course_notebook_seconds = NOTEBOOK_SECONDS  # tests add to it through request.config
    config.course_report_lines = []


def pytest_runtest_logreport(report):
    path = report.nodeid.split("::", 1)[0]
    if path.endswith(".ipynb"):  # an nbval cell: add its setup/call/teardown time to its notebook
        NOTEBOOK_SECONDS[path] += report.duration


def pytest_runtest_teardown(item, nextitem):
    """Close the figures a test drew (pyplot keeps them open, and hundreds of tests draw some)."""
    if not item.nodeid.split("::", 1)[0].endswith(".ipynb") and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    times = getattr(config, "course_notebook_seconds", {})
    lines = getattr(config, "course_report_lines", [])
    if times:
        terminalreporter.section("notebook run times (quick mode)")
        for path in sorted(times):
            terminalreporter.write_line(f"{times[path]:7.1f} s  {path}")
        terminalreporter.write_line(f"{sum(times.values()):7.1f} s  total")
    if lines:
        terminalreporter.section("course checks report")
        for line in lines:
            terminalreporter.write_line(line)
