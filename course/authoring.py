"""Notebook authoring: the standard title and setup cells, and the single-source exercise generator.

``solutions/NN_name.ipynb`` is the single source of the exercises. :func:`make_exercises` writes
``exercises/NN_name.ipynb`` from it: every ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block in a code cell becomes
``# YOUR CODE HERE`` + ``raise NotImplementedError`` (in a markdown cell: "*Write your answer here.*"), outputs are
stripped, and the Colab/Binder badges are pointed at the exercise notebook's own path.

Command line: ``python -m course make-exercises [--check]``.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from .config import BRANCH, REPO, REPO_URL

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
CODE_PLACEHOLDER = ["# YOUR CODE HERE", "raise NotImplementedError"]
MARKDOWN_PLACEHOLDER = ["*Write your answer here.*"]

_BADGE_RE = re.compile(r"(colab\.research\.google\.com/github/[^/]+/[^/]+/blob/[^/]+/|labpath=)([\w./-]+\.ipynb)")


class MarkerError(ValueError):
    """Malformed ``### BEGIN SOLUTION`` / ``### END SOLUTION`` markers in a solutions notebook."""


def colab_url(path: str) -> str:
    """Colab link for a notebook path relative to the repository root, e.g. ``notebooks/00_welcome.ipynb``."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/{path}"


def binder_url(path: str) -> str:
    """Binder (JupyterLab) link for a notebook path relative to the repository root."""
    return f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}?labpath={path}"


def badges(path: str) -> str:
    """The markdown line with the Colab and Binder badges for the notebook at ``path``."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(path)})")


def title_cell_source(path: str, title: str, objectives: list[str], intro: str = "") -> str:
    """Markdown for a notebook's title cell: title, badges, learning objectives and an optional intro paragraph."""
    lines = [f"# {title}", "", badges(path), "", "**In this notebook you will:**", ""]
    lines += [f"- {o}" for o in objectives]
    if intro:
        lines += ["", intro]
    return "\n".join(lines)


SETUP_CELL_SOURCE = f'''# Setup: works on your machine and on Colab.
import sys

if "google.colab" in sys.modules:  # on Colab, install the course package (torch is already there)
    %pip install -q "course @ git+{REPO_URL}@{BRANCH}"

import course
from course import config

print(f"quick mode: {{config.QUICK}} | device: {{config.device()}} | data cache: {{config.data_dir()}}")'''


# --------------------------------------------------------------------------------------------------------------------
# Exercise generation
# --------------------------------------------------------------------------------------------------------------------

def _strip_cell_source(source: str, *, cell_type: str, where: str) -> tuple[str, int]:
    lines = source.split("\n")
    out: list[str] = []
    inside = False
    blocks = 0
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise MarkerError(f"{where}: nested '{BEGIN}' at line {lineno} (the previous block is not closed)")
            inside = True
            blocks += 1
            indent = line[: len(line) - len(line.lstrip())]
            placeholder = CODE_PLACEHOLDER if cell_type == "code" else MARKDOWN_PLACEHOLDER
            out.extend(indent + p for p in placeholder)
        elif stripped.startswith(END):
            if not inside:
                raise MarkerError(f"{where}: '{END}' at line {lineno} without a matching '{BEGIN}'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: '{BEGIN}' without a matching '{END}'")
    return "\n".join(out), blocks


def retarget_badges(source: str, new_path: str) -> str:
    """Point every Colab/Binder notebook link in a markdown source at ``new_path``."""
    return _BADGE_RE.sub(lambda m: m.group(1) + new_path, source)


def exercise_notebook(solution_nb, *, solution_path: str, exercise_path: str):
    """Return the exercise version of a solutions notebook (an ``nbformat.NotebookNode``; input is not modified).

    Raises :class:`MarkerError` naming the notebook and cell when markers are malformed, and when the notebook has
    no solution block at all.
    """
    nb = copy.deepcopy(solution_nb)
    total = 0
    for index, cell in enumerate(nb.cells):
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        where = f"{solution_path}, cell {index}"
        if cell.cell_type in ("code", "markdown"):
            source, blocks = _strip_cell_source(source, cell_type=cell.cell_type, where=where)
            total += blocks
        if cell.cell_type == "markdown":
            source = retarget_badges(source, exercise_path)
        cell.source = source
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.get("metadata", {}).pop("execution", None)
    if total == 0:
        raise MarkerError(f"{solution_path}: no '{BEGIN}' block found — a solutions notebook needs at least one exercise")
    return nb


@dataclass
class ExerciseStatus:
    solution: Path
    exercise: Path
    up_to_date: bool


def _serialize(nb) -> str:
    import nbformat

    return nbformat.writes(nb) + "\n"


def make_exercises(root: Path | str | None = None, *, check: bool = False) -> list[ExerciseStatus]:
    """Generate ``exercises/NN_*.ipynb`` from ``solutions/NN_*.ipynb`` under ``root`` (the repository root).

    With ``check=True`` nothing is written; the returned statuses say which exercise notebooks are out of date
    (missing, different, or left over without a solution).
    """
    import nbformat

    from .config import repo_root

    root = Path(root) if root is not None else repo_root()
    if root is None:
        raise ValueError("make_exercises(root=None): not inside a course checkout; pass the repository root")
    sol_dir, ex_dir = root / "solutions", root / "exercises"
    if not sol_dir.is_dir():
        raise FileNotFoundError(f"make_exercises: no solutions/ folder in {root}")
    statuses = []
    expected_names = set()
    for sol in sorted(sol_dir.glob("[0-9][0-9]_*.ipynb")):
        ex = ex_dir / sol.name
        expected_names.add(sol.name)
        nb = nbformat.read(sol, as_version=4)
        text = _serialize(exercise_notebook(nb, solution_path=f"solutions/{sol.name}", exercise_path=f"exercises/{sol.name}"))
        current = ex.read_text(encoding="utf-8") if ex.exists() else None
        up_to_date = current == text
        if not check and not up_to_date:
            ex_dir.mkdir(exist_ok=True)
            tmp = ex.with_suffix(".ipynb.tmp")
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(ex)
        statuses.append(ExerciseStatus(sol, ex, up_to_date))
    for ex in sorted(ex_dir.glob("*.ipynb")) if ex_dir.is_dir() else []:
        if ex.name not in expected_names:
            statuses.append(ExerciseStatus(sol_dir / ex.name, ex, False))
            if not check:
                ex.unlink()
    return statuses


def build_notebook(path: str, title: str, objectives: list[str], cells: list[tuple[str, str]], *,
                   intro: str = "", root: Path | str | None = None) -> Path:
    """Write a notebook with the standard title and setup cells followed by ``cells``.

    ``path`` is relative to the repository root (e.g. ``"notebooks/01_convolution.ipynb"``); each item of ``cells``
    is ``("md", markdown)`` or ``("code", source)``. For authors: chapters can be (re)built from a script with this.
    """
    import nbformat
    from nbformat import v4

    from .config import repo_root

    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells.append(v4.new_markdown_cell(title_cell_source(path, title, objectives, intro)))
    nb.cells.append(v4.new_code_cell(SETUP_CELL_SOURCE, metadata={"tags": ["setup"]}))
    for kind, source in cells:
        if kind not in ("md", "code"):
            raise ValueError(f"build_notebook(cells=...): kind must be 'md' or 'code', got {kind!r}")
        source = source.strip("\n")
        nb.cells.append(v4.new_markdown_cell(source) if kind == "md" else v4.new_code_cell(source))
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small when a chapter is rebuilt
        cell["id"] = f"cell-{i:03d}"
    base = Path(root) if root is not None else repo_root()
    if base is None:
        raise ValueError("build_notebook(root=None): not inside a course checkout; pass root")
    target = base / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return target
