"""Classroom kit: the solution notebooks as nbgrader source assignments, without a second copy.

``python -m course make-exercises --nbgrader OUTDIR [--chapter NN]`` writes, for each ``solutions/NN_name.ipynb``,
``OUTDIR/source/NN_name/NN_name.ipynb`` with nbgrader cell metadata (schema version 3), and a starting
``OUTDIR/nbgrader_config.py`` (written once, never overwritten). The markers stay the course's own
``### BEGIN SOLUTION`` / ``### END SOLUTION``, which are also nbgrader's, so ``nbgrader generate_assignment`` turns the
source into the same gaps as ``exercises/``. What each cell becomes:

- a code cell with a solution block: an **autograded answer** (``solution``, not graded, editable);
- the first code cell after it that calls a check (``check.name(...)``, ``check_function(...)``): an **autograded
  test** worth :data:`POINTS_PER_CHECK` point(s), locked. It starts with a hidden block (``### BEGIN HIDDEN TESTS``:
  removed from the released notebook, put back by ``nbgrader autograde``) that turns on strict checks
  (``COURSE_STRICT_CHECKS=1``), so in the grading run a check that does not pass *every* case raises and the cell
  scores 0. Learners see exactly the check cell of ``exercises/``: the per-case report, no traceback;
- a markdown cell with a solution block (a written answer): a **manually graded answer** worth
  :data:`POINTS_PER_WRITTEN_ANSWER` point(s), graded by the teacher in formgrader;
- every other cell: **read-only** (locked; ``nbgrader autograde`` restores its source, so edits there do not count).

Points: all or nothing per check cell (a check passes when all its cases pass; the learner sees which cases fail).
A teacher who wants other weights edits ``points`` in the source notebook (nbgrader's "Create Assignment" toolbar).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

from .authoring import BEGIN, CODE_PLACEHOLDER, MARKDOWN_PLACEHOLDER, MarkerError, _strip_cell_source, retarget_badges

#: Points of one autograded check cell (all or nothing: every case of the check must pass).
POINTS_PER_CHECK = 1
#: Points of one written (markdown) answer, graded by hand.
POINTS_PER_WRITTEN_ANSWER = 1

HIDDEN_STRICT = ("### BEGIN HIDDEN TESTS\n"
                 "import os\n"
                 "os.environ[\"COURSE_STRICT_CHECKS\"] = \"1\"  # grading run: a check that fails raises (0 points)\n"
                 "### END HIDDEN TESTS\n")

NBGRADER_CONFIG = '''\
# nbgrader configuration for the video course, written by `python -m course make-exercises --nbgrader`.
# It is written once and never overwritten: edit it freely. Reference: https://nbgrader.readthedocs.io
c = get_config()  # noqa: F821 (nbgrader provides get_config)

c.CourseDirectory.course_id = "deep-learning-for-video"
# The released notebooks get the same gaps as the course's exercises/ notebooks.
c.ClearSolutions.code_stub = {"python": %r}
c.ClearSolutions.text_stub = %r
# Notebooks train small models: give a cell up to 10 minutes in `nbgrader autograde` (nbgrader's default is 30 s).
c.Execute.timeout = 600
# The file-based exchange used by `nbgrader release_assignment` / `fetch_assignment` / `submit` / `collect`
# on one shared machine (e.g. a JupyterHub server); the folder must exist and be writable by everyone.
# c.Exchange.root = "/srv/nbgrader/exchange"
''' % ("\n".join(CODE_PLACEHOLDER), "\n".join(MARKDOWN_PLACEHOLDER))

_CHECK_CALL = re.compile(r"\bcheck(?:_function|_value)?\s*\(|\bcheck\.\w+\s*\(")
_TOP_LEVEL_DEF = re.compile(r"^(?:def|class)\s+(\w+)", re.M)
_GRADE_ID_OK = re.compile(r"^[a-zA-Z0-9_\-]+$")


@dataclass
class GradedCell:
    """One cell that carries points or an answer: ``kind`` is ``"answer"`` (autograded answer, 0 points),
    ``"check"`` (autograded test) or ``"written"`` (manually graded markdown answer)."""

    index: int
    grade_id: str
    kind: str
    points: int = 0


@dataclass
class NbgraderAssignment:
    """What :func:`make_nbgrader` wrote for one chapter."""

    solution: Path
    source: Path
    cells: list[GradedCell] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # answers with no check cell after them (no autograde points)

    @property
    def auto_points(self) -> int:
        return sum(c.points for c in self.cells if c.kind == "check")

    @property
    def manual_points(self) -> int:
        return sum(c.points for c in self.cells if c.kind == "written")


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    return meta


def _cell_key(cell, index: int) -> str:
    cell_id = cell.get("id")
    return cell_id if isinstance(cell_id, str) and _GRADE_ID_OK.match(cell_id) else f"cell-{index:03d}"


def _unique(name: str, used: set[str]) -> str:
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}_{n}", n + 1
    used.add(candidate)
    return candidate


def nbgrader_notebook(solution_nb, *, solution_path: str, exercise_path: str):
    """Return ``(notebook, cells, unchecked)``: the nbgrader source version of a solutions notebook, its
    :class:`GradedCell` list, and the grade ids of code answers that no check cell follows (they earn no automatic
    points). The input is not modified.

    Raises :class:`~course.authoring.MarkerError` naming the notebook and cell when markers are malformed or the
    notebook has no solution block; a solution block in a cell that is not code or markdown is an error too.
    """
    nb = copy.deepcopy(solution_nb)
    kinds: list[str | None] = [None] * len(nb.cells)
    for index, cell in enumerate(nb.cells):
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        cell.source = source
        if BEGIN not in source:
            continue
        where = f"{solution_path}, cell {index}"
        if cell.cell_type not in ("code", "markdown"):
            raise MarkerError(f"{where}: a solution block in a {cell.cell_type} cell (only code and markdown cells "
                              f"can hold answers)")
        _, blocks = _strip_cell_source(source, cell_type=cell.cell_type, where=where)  # validates the markers
        inline = [n for n, line in enumerate(source.split("\n"), start=1)
                  if BEGIN in line and not line.strip().startswith(BEGIN)]
        if inline:  # nbgrader takes any line containing the marker for one
            raise MarkerError(f"{where}: '{BEGIN}' inside line {inline[0]}; nbgrader would take that line for a "
                              f"solution marker: reword it, or put the marker at the start of its own line")
        kinds[index] = "answer" if cell.cell_type == "code" else "written"
    if not any(kinds):
        raise MarkerError(f"{solution_path}: no '{BEGIN}' block found — a solutions notebook needs at least one "
                          f"exercise")

    pending: list[int] = []  # code answers waiting for their check cell
    unchecked: set[int] = set()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if kinds[index] == "answer":
            pending.append(index)
        elif pending:  # the first code cell after one or more answers is their check, if it calls one
            if _CHECK_CALL.search(cell.source):
                kinds[index] = "check"
            else:
                unchecked.update(pending)
            pending = []
    unchecked.update(pending)

    used: set[str] = set()
    graded: list[GradedCell] = []
    last_answer = ""
    for index, cell in enumerate(nb.cells):
        kind, key = kinds[index], _cell_key(cell, index)
        if kind == "answer":
            names = _TOP_LEVEL_DEF.findall(cell.source)  # the exercise's function (a method's name says less)
            last_answer = names[0] if names else key
            grade_id = _unique(f"answer_{last_answer}", used)
            cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=False, locked=False)
            graded.append(GradedCell(index, grade_id, "answer"))
        elif kind == "check":
            grade_id = _unique(f"check_{last_answer}", used)
            cell.source = HIDDEN_STRICT + cell.source
            cell.metadata["nbgrader"] = _meta(grade_id, solution=False, grade=True, locked=True,
                                              points=POINTS_PER_CHECK)
            graded.append(GradedCell(index, grade_id, "check", POINTS_PER_CHECK))
        elif kind == "written":
            grade_id = _unique(f"written_{key}", used)
            cell.metadata["nbgrader"] = _meta(grade_id, solution=True, grade=True, locked=False,
                                              points=POINTS_PER_WRITTEN_ANSWER)
            graded.append(GradedCell(index, grade_id, "written", POINTS_PER_WRITTEN_ANSWER))
        else:
            cell.metadata["nbgrader"] = _meta(_unique(f"read_only_{key}", used), solution=False, grade=False,
                                              locked=True)
        if cell.cell_type == "markdown":  # a released notebook must never link to the solutions
            cell.source = retarget_badges(cell.source, exercise_path)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return nb, graded, [g.grade_id for g in graded if g.index in unchecked]


def _forbidden_outdir(outdir: Path, root: Path) -> str | None:
    out, base = outdir.resolve(), root.resolve()
    if out == base:
        return "the repository root itself"
    for name in ("solutions", "exercises", "notebooks", "course"):
        folder = base / name
        if out == folder or folder in out.parents:
            return f"the repository's {name}/ folder"
    return None


def select_solutions(root: Path, chapter: str | None = None) -> list[Path]:
    """The ``solutions/NN_*.ipynb`` files under ``root``, or the one chapter ``chapter`` (``"01"``, ``"1"`` or
    ``"01_convolution"``). Raises ValueError naming ``chapter`` when it matches no notebook."""
    solutions = sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if chapter is None:
        return solutions
    wanted = chapter.strip()
    if re.fullmatch(r"\d{1,2}", wanted):
        picked = [p for p in solutions if p.name[:2] == f"{int(wanted):02d}"]
    else:
        picked = [p for p in solutions if p.stem == wanted.removesuffix(".ipynb")]
    if not picked:
        available = ", ".join(p.stem for p in solutions) or "none"
        raise ValueError(f"make-exercises --chapter {chapter!r}: no solutions notebook matches "
                         f"(expected a number like 01 or a name like 01_convolution; available: {available})")
    return picked


def make_nbgrader(outdir: Path | str, root: Path | str | None = None, *, chapter: str | None = None
                  ) -> list[NbgraderAssignment]:
    """Write nbgrader source assignments for the solutions notebooks under ``root`` into ``outdir``.

    ``outdir/source/NN_name/NN_name.ipynb`` per chapter (``chapter``: only that one), and ``outdir/nbgrader_config.py``
    if there is none. ``outdir`` must not be the repository root or inside its ``solutions/``, ``exercises/``,
    ``notebooks/`` or ``course/`` folders (ValueError naming ``outdir``).
    """
    import nbformat

    from .config import repo_root

    root = Path(root) if root is not None else repo_root()
    if root is None:
        raise ValueError("make_nbgrader(root=None): not inside a course checkout; pass the repository root")
    if outdir is None or str(outdir).strip() == "":
        raise ValueError("make_nbgrader(outdir=...): expected a folder for the nbgrader course, got nothing")
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"make_nbgrader(outdir={str(outdir)!r}): expected a folder, but that is a file")
    forbidden = _forbidden_outdir(outdir, root)
    if forbidden:
        raise ValueError(f"make_nbgrader(outdir={str(outdir)!r}): that is {forbidden}; choose a folder for the "
                         f"nbgrader course outside the course's notebook and code folders (e.g. ~/grading)")
    if not (root / "solutions").is_dir():
        raise FileNotFoundError(f"make_nbgrader: no solutions/ folder in {root}")
    written = []
    for sol in select_solutions(root, chapter):
        nb = nbformat.read(sol, as_version=4)
        source_nb, cells, unchecked = nbgrader_notebook(nb, solution_path=f"solutions/{sol.name}",
                                                        exercise_path=f"exercises/{sol.name}")
        target = outdir / "source" / sol.stem / sol.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(nbformat.writes(source_nb) + "\n", encoding="utf-8")
        written.append(NbgraderAssignment(sol, target, cells, unchecked))
    config = outdir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(NBGRADER_CONFIG, encoding="utf-8")
    return written


def graded_exercises_table(root: Path | str | None = None) -> str:
    """The markdown table of graded exercises per chapter (for TEACHING.md): autograded checks with their points
    and the written answers graded by hand. ``python -m course make-exercises --graded-table`` prints it."""
    import nbformat

    from .config import repo_root

    root = Path(root) if root is not None else repo_root()
    if root is None:
        raise ValueError("graded_exercises_table(root=None): not inside a course checkout; pass the repository root")
    lines = ["| chapter | autograded checks (1 point each) | points | written answers (graded by hand) |",
             "|---|---|---|---|"]
    for sol in select_solutions(root):
        _, cells, _ = nbgrader_notebook(nbformat.read(sol, as_version=4), solution_path=f"solutions/{sol.name}",
                                        exercise_path=f"exercises/{sol.name}")
        checks = [c.grade_id.removeprefix("check_") for c in cells if c.kind == "check"]
        written = [c for c in cells if c.kind == "written"]
        lines.append(f"| {sol.stem} | {', '.join(f'`{n}`' for n in checks) or '—'} | "
                     f"{sum(c.points for c in cells if c.kind == 'check')} | {len(written) or '—'} |")
    return "\n".join(lines)
