"""Classroom kit: solutions/ as nbgrader source assignments (course.classroom), and the round trip through nbgrader
itself (generate_assignment, autograde) on chapter 01 with a blank, a wrong and a right submission."""
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from course.authoring import BEGIN, END, MarkerError
from course.classroom import (HIDDEN_STRICT, NBGRADER_CONFIG, POINTS_PER_CHECK, POINTS_PER_WRITTEN_ANSWER,
                              graded_exercises_table, make_nbgrader, nbgrader_notebook, select_solutions)

ROOT = Path(__file__).resolve().parent.parent


def _nb(*cells):
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, src in cells:
        nb.cells.append(v4.new_code_cell(src) if kind == "code" else v4.new_markdown_cell(src))
    return nb


SOLVED = ("code", f"def f(x):\n    {BEGIN}\n    return x + 1\n    {END}")
CHECKED = ("code", "check.f(f)")


def _convert(nb, name="01_demo.ipynb"):
    return nbgrader_notebook(nb, solution_path=f"solutions/{name}", exercise_path=f"exercises/{name}")


def _by_id(nb):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells}


def test_answer_check_written_and_read_only_cells_get_nbgrader_metadata():
    colab = "https://colab.research.google.com/github/o/r/blob/main/solutions/01_demo.ipynb"
    nb = _nb(("markdown", f"# Title [colab]({colab})"),
             SOLVED, ("markdown", "The check:"), CHECKED,
             ("markdown", f"Why?\n\n{BEGIN}\nBecause.\n{END}"), ("code", "print('later')"))
    out, cells, unchecked = _convert(nb)
    meta = [c.metadata["nbgrader"] for c in out.cells]
    assert all(m["schema_version"] == 3 for m in meta)
    assert meta[1] == {"grade": False, "grade_id": "answer_f", "locked": False, "schema_version": 3,
                       "solution": True, "task": False}
    assert meta[3] == {"grade": True, "grade_id": "check_f", "locked": True, "points": POINTS_PER_CHECK,
                       "schema_version": 3, "solution": False, "task": False}
    assert meta[4]["solution"] and meta[4]["grade"] and not meta[4]["locked"]
    assert meta[4]["points"] == POINTS_PER_WRITTEN_ANSWER
    for i in (0, 2, 5):
        assert meta[i]["locked"] and not meta[i]["grade"] and not meta[i]["solution"]
    assert [(c.kind, c.index) for c in cells] == [("answer", 1), ("check", 3), ("written", 4)]
    assert unchecked == []
    assert len({m["grade_id"] for m in meta}) == len(meta)
    assert all(re.fullmatch(r"[a-zA-Z0-9_\-]+", m["grade_id"]) for m in meta)
    # the check cell turns strict mode on in a hidden block only; the answer keeps the course's markers
    assert out.cells[3].source == HIDDEN_STRICT + "check.f(f)"
    assert BEGIN in out.cells[1].source and "return x + 1" in out.cells[1].source
    # a released notebook must not link to the solutions; the input is not modified
    assert "solutions/" not in out.cells[0].source and "exercises/01_demo.ipynb" in out.cells[0].source
    assert "nbgrader" not in nb.cells[1].metadata and nb.cells[3].source == "check.f(f)"


def test_nbgrader_accepts_the_metadata():
    from nbgrader.nbgraderformat import MetadataValidator

    out, _, _ = _convert(_nb(SOLVED, CHECKED, ("markdown", f"{BEGIN}\nx\n{END}")))
    MetadataValidator().validate_nb(out)  # raises ValidationError on bad metadata


def test_an_answer_without_a_check_cell_is_reported_and_earns_no_points():
    out, cells, unchecked = _convert(_nb(SOLVED, ("code", "print(f(1))")))
    assert unchecked == ["answer_f"]
    assert [c.kind for c in cells] == ["answer"] and out.cells[1].metadata["nbgrader"]["locked"]


def test_two_answers_before_one_check_share_it_and_ids_stay_unique():
    nb = _nb(SOLVED, SOLVED, CHECKED, SOLVED, CHECKED)
    out, cells, unchecked = _convert(nb)
    ids = [c.grade_id for c in cells]
    assert ids == ["answer_f", "answer_f_2", "check_f", "answer_f_3", "check_f_2"] and unchecked == []


@pytest.mark.parametrize("cells, fragment", [
    ([("code", "x = 1")], "no '### BEGIN SOLUTION' block"),
    ([("code", f"{BEGIN}\nx = 1")], "solutions/01_demo.ipynb, cell 0: '### BEGIN SOLUTION' without a matching"),
    ([SOLVED, ("markdown", f"Write between `{BEGIN}` and `{END}`.")],
     "cell 1: '### BEGIN SOLUTION' inside line 1; nbgrader would take that line for a solution marker"),
])
def test_bad_markers_name_the_notebook_and_cell(cells, fragment):
    with pytest.raises(MarkerError, match=re.escape(fragment)):
        _convert(_nb(*cells))


def test_a_solution_block_in_a_raw_cell_is_an_error():
    nb = _nb(SOLVED)
    nb.cells.append(v4.new_raw_cell(f"{BEGIN}\nx\n{END}"))
    with pytest.raises(MarkerError, match=r"cell 1: a solution block in a raw cell"):
        _convert(nb)


def _mini_repo(tmp_path):
    (tmp_path / "solutions").mkdir(parents=True)
    nbformat.write(_nb(SOLVED, CHECKED), tmp_path / "solutions" / "01_demo.ipynb")
    nbformat.write(_nb(SOLVED, CHECKED, SOLVED, CHECKED), tmp_path / "solutions" / "02_more.ipynb")
    return tmp_path


def test_make_nbgrader_lays_out_source_and_keeps_an_edited_config(tmp_path):
    root = _mini_repo(tmp_path / "repo")
    out = tmp_path / "grading"
    written = make_nbgrader(out, root)
    assert [a.source.relative_to(out).as_posix() for a in written] == [
        "source/01_demo/01_demo.ipynb", "source/02_more/02_more.ipynb"]
    assert [a.auto_points for a in written] == [POINTS_PER_CHECK, 2 * POINTS_PER_CHECK]
    config = out / "nbgrader_config.py"
    assert "c.Execute.timeout" in config.read_text()
    config.write_text("# my own\n")
    only = make_nbgrader(out, root, chapter="2")
    assert [a.source.name for a in only] == ["02_more.ipynb"] and config.read_text() == "# my own\n"


@pytest.mark.parametrize("where", [".", "solutions", "exercises", "notebooks", "course", "exercises/sub"])
def test_make_nbgrader_refuses_the_course_folders(tmp_path, where):
    root = _mini_repo(tmp_path)
    with pytest.raises(ValueError, match=r"make_nbgrader\(outdir=.*\): that is the repository"):
        make_nbgrader(root / where, root)
    assert not (root / "solutions" / "source").exists() and not (root / "source").exists()


def test_make_nbgrader_rejects_a_file_an_empty_outdir_and_an_unknown_chapter(tmp_path):
    root = _mini_repo(tmp_path / "repo")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(ValueError, match=r"outdir=.*a_file.*expected a folder"):
        make_nbgrader(tmp_path / "a_file", root)
    with pytest.raises(ValueError, match=r"outdir=\.\.\.\): expected a folder"):
        make_nbgrader("", root)
    with pytest.raises(ValueError, match=r"--chapter '07'.*available: 01_demo, 02_more"):
        make_nbgrader(tmp_path / "out", root, chapter="07")
    assert select_solutions(root, "01_demo")[0].name == "01_demo.ipynb"
    with pytest.raises(FileNotFoundError, match="no solutions/ folder"):
        make_nbgrader(tmp_path / "out", tmp_path / "no_course")


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "course", "make-exercises", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_cli_refuses_solutions_with_a_message_naming_the_argument():
    result = _cli("--nbgrader", "solutions/grading")
    assert result.returncode == 2 and "outdir='solutions/grading'" in result.stderr
    assert "repository's solutions/ folder" in result.stderr and not (ROOT / "solutions" / "grading").exists()
    result = _cli("--chapter", "01")
    assert result.returncode == 2 and "--chapter selects a chapter for --nbgrader" in result.stderr
    result = _cli("--check", "--nbgrader", "/tmp/anywhere")
    assert result.returncode == 2 and "does not combine with --nbgrader" in result.stderr


def test_graded_table_lists_every_chapter_with_its_checks():
    table = graded_exercises_table(ROOT)
    for sol in select_solutions(ROOT):
        assert f"| {sol.stem} |" in table
    assert "`output_size`" in table  # chapter 01's first exercise


# ---------------------------------------------------------------------------------------------------------------
# The round trip through nbgrader itself
# ---------------------------------------------------------------------------------------------------------------

CHAPTER = "01_convolution"


def _nbgrader_env(tmp_path):
    env = dict(os.environ)
    home = tmp_path / "home"
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_DATA_DIR=str(home / "data"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), IPYTHONDIR=str(home / "ipython"), COURSE_QUICK="1",
               # nbgrader runs the `alembic` command of its own environment
               PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]))
    env.pop("COURSE_STRICT_CHECKS", None)  # strict mode must come from the hidden test block, not from the suite
    return env


def _nbgrader(course, env, *args):
    result = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, (f"nbgrader {' '.join(args)} failed:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-5000:]}")
    return result


def _without_markers(source):
    return "\n".join(line for line in source.split("\n") if line.strip() not in (BEGIN, END))


def _wrong(source):
    """The solution with the body of its first solution block replaced by `return None`."""
    lines, out, inside = source.split("\n"), [], False
    for line in lines:
        if line.strip() == BEGIN:
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}return None")
        elif line.strip() == END:
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def _submit(course, student, released, answers):
    nb = nbformat.read(released, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    target = course / "submitted" / student / CHAPTER / released.name
    target.parent.mkdir(parents=True)
    nbformat.write(nb, target)


def test_nbgrader_round_trip_blank_wrong_right(tmp_path):
    course = tmp_path / "grading"
    made = _cli("--nbgrader", str(course), "--chapter", "01")
    assert made.returncode == 0, made.stderr
    source = nbformat.read(course / "source" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    env = _nbgrader_env(tmp_path)
    _nbgrader(course, env, "generate_assignment", CHAPTER)
    released = course / "release" / CHAPTER / f"{CHAPTER}.ipynb"

    # the learner's notebook is the course's exercise notebook, cell for cell (no hidden test, no solution)
    exercise = nbformat.read(ROOT / "exercises" / f"{CHAPTER}.ipynb", as_version=4)
    assert [c.source for c in nbformat.read(released, as_version=4).cells] == [c.source for c in exercise.cells]

    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
               if c.metadata["nbgrader"]["solution"]}
    first = next(g for g in answers if g.startswith("answer_"))
    right = {g: _without_markers(s) for g, s in answers.items()}
    _submit(course, "blank", released, {})
    # the wrong submission also "passes" its own check by editing the locked check cell: autograde restores it
    test_id = f"check_{first.removeprefix('answer_')}"
    _submit(course, "wrong", released, {**right, first: _wrong(answers[first]), test_id: "print('all good')"})
    _submit(course, "right", released, right)
    _nbgrader(course, env, "autograde", CHAPTER)

    from nbgrader.api import Gradebook

    max_points = sum(c.metadata["nbgrader"].get("points", 0) for c in source.cells
                     if c.metadata["nbgrader"]["grade"] and c.cell_type == "code")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        points = {}
        for student in ("blank", "wrong", "right"):
            sub = gb.find_submission_notebook(CHAPTER, CHAPTER, student)
            checks = [g for g in sub.grades if g.name.startswith("check_")]
            assert sum(g.max_score for g in checks) == max_points
            points[student] = sum(g.auto_score or 0 for g in checks)
    print(f"\nnbgrader autograde, chapter {CHAPTER} (autograded points of {max_points}): {points}")
    assert max_points >= 2 * POINTS_PER_CHECK
    assert points["blank"] == 0
    assert points["wrong"] == max_points - POINTS_PER_CHECK  # only the first exercise is wrong (its check edited)
    assert points["wrong"] < points["right"] == max_points

    # the hidden block was put back for grading: the wrong answer's check raised CheckFailed after its report
    graded = nbformat.read(course / "autograded" / "wrong" / CHAPTER / f"{CHAPTER}.ipynb", as_version=4)
    test_cell = next(c for c in graded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == test_id)
    assert "COURSE_STRICT_CHECKS" in test_cell.source and "all good" not in test_cell.source
    assert any(o.output_type == "error" and o.ename == "CheckFailed" for o in test_cell.outputs)

    _nbgrader(course, env, "export")
    grades_csv = (course / "grades.csv").read_text()
    assert "wrong" in grades_csv and "right" in grades_csv


def _course_nbgrader_config():
    from traitlets.config import Config

    config = Config()
    exec(NBGRADER_CONFIG, {"get_config": lambda: config})
    return config


@pytest.mark.parametrize("solution", select_solutions(ROOT), ids=lambda p: p.stem)
def test_nbgraders_release_of_every_chapter_is_the_course_exercise(solution):
    """nbgrader's own preprocessors, configured by the course's nbgrader_config.py, turn each source notebook into
    the cells `make-exercises` writes to exercises/ (same gaps, check cells without their hidden block)."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    from course.authoring import exercise_notebook

    sol = nbformat.read(solution, as_version=4)
    paths = dict(solution_path=f"solutions/{solution.name}", exercise_path=f"exercises/{solution.name}")
    source, _, _ = nbgrader_notebook(sol, **paths)
    config = _course_nbgrader_config()
    released, resources = ClearSolutions(config=config).preprocess(source, {})
    released, _ = ClearHiddenTests(config=config).preprocess(released, resources)
    assert [c.source for c in released.cells] == [c.source for c in exercise_notebook(sol, **paths).cells]
