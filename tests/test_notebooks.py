"""Notebook checks beyond nbval's execution of notebooks/ and solutions/:

- the generated exercises are up to date with solutions/ (``python -m course make-exercises --check``);
- every generated exercise notebook runs top to bottom with no error other than ``NotImplementedError``;
- hygiene: stored without outputs, python3 kernel, a title cell with Colab and Binder badges pointing at the
  notebook's own path, and a setup cell that installs ``course`` on Colab.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from course.authoring import binder_url, colab_url
from course.config import REPO_URL

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "solutions", "exercises")
ALL_NOTEBOOKS = sorted(p.relative_to(ROOT).as_posix() for d in FOLDERS for p in (ROOT / d).glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks_to_test():
    assert (ROOT / "notebooks" / "00_welcome.ipynb").exists()
    assert EXERCISES, "no generated exercise notebooks found in exercises/"


def test_every_solution_has_a_lecture():
    lectures = {p.name[:3] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    orphans = [p.name for p in (ROOT / "solutions").glob("*.ipynb") if p.name[:3] not in lectures]
    assert not orphans, f"solutions without a lecture notebook of the same chapter number: {orphans}"


def test_exercises_are_generated_from_solutions():
    result = subprocess.run([sys.executable, "-m", "course", "make-exercises", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"exercises/ is out of date:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercise_notebook_runs_with_only_not_implemented_errors(path, monkeypatch, request):
    from nbclient import NotebookClient

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")  # learners' checks report, never raise
    monkeypatch.setenv("COURSE_QUICK", "1")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=600, allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    request.config.course_notebook_seconds[f"exercises/{path.name}"] += time.perf_counter() - start
    unexpected = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error" and output.get("ename") != "NotImplementedError":
                unexpected.append(f"cell {index}: {output.get('ename')}: {output.get('evalue')}")
    assert not unexpected, f"exercises/{path.name} raised errors other than NotImplementedError:\n" + "\n".join(unexpected)
    placeholders = sum("raise NotImplementedError" in c.source for c in nb.cells if c.cell_type == "code")
    assert placeholders >= 1, f"exercises/{path.name} has no exercise left for the learner"


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


@pytest.mark.parametrize("rel", ALL_NOTEBOOKS)
def test_notebook_hygiene(rel):
    nb = nbformat.read(ROOT / rel, as_version=4)
    problems = []
    with_outputs = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    if with_outputs:
        problems.append(f"stored with outputs in cells {with_outputs} (run `python -m course strip-outputs {rel}`)")
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernelspec is {kernel!r}, expected 'python3'")
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "markdown" or not _source(first).lstrip().startswith("# "):
        problems.append("the first cell must be a markdown title cell ('# Title')")
    else:
        title = _source(first)
        for name, url in (("Colab", colab_url(rel)), ("Binder", binder_url(rel))):
            if f"({url})" not in title:
                problems.append(f"the title cell has no {name} badge pointing at {url}")
    code = [_source(c) for c in nb.cells if c.cell_type == "code"]
    setup = code[0] if code else ""
    if not ("google.colab" in setup and "pip install" in setup and REPO_URL in setup and "import course" in setup):
        problems.append("the first code cell must be the setup cell that installs `course` on Colab "
                        "(see course.authoring.SETUP_CELL_SOURCE)")
    assert not problems, f"{rel}:\n  " + "\n  ".join(problems)
