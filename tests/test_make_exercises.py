import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from course.authoring import MarkerError, exercise_notebook, make_exercises

ROOT = Path(__file__).resolve().parent.parent


def _nb(*sources, kinds=None):
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for i, src in enumerate(sources):
        kind = (kinds or ["code"] * len(sources))[i]
        nb.cells.append(v4.new_code_cell(src) if kind == "code" else v4.new_markdown_cell(src))
    return nb


def _repo(tmp_path, nb, name="01_demo.ipynb"):
    (tmp_path / "solutions").mkdir()
    nbformat.write(nb, tmp_path / "solutions" / name)
    return tmp_path


def test_solution_block_is_replaced_keeping_indentation():
    nb = _nb("def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n\nprint('after')")
    out = exercise_notebook(nb, solution_path="solutions/a.ipynb", exercise_path="exercises/a.ipynb")
    assert out.cells[0].source == "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError\n\nprint('after')"
    assert "y = x + 1" in nb.cells[0].source  # input untouched


def test_outputs_are_stripped_and_badges_retargeted():
    nb = _nb("[colab](https://colab.research.google.com/github/o/r/blob/main/solutions/01_demo.ipynb) "
             "[binder](https://mybinder.org/v2/gh/o/r/main?labpath=solutions/01_demo.ipynb)",
             "### BEGIN SOLUTION\nx = 1\n### END SOLUTION", kinds=["markdown", "code"])
    nb.cells[1].outputs = [v4.new_output("stream", text="1")]
    nb.cells[1].execution_count = 3
    out = exercise_notebook(nb, solution_path="solutions/01_demo.ipynb", exercise_path="exercises/01_demo.ipynb")
    assert out.cells[1].outputs == [] and out.cells[1].execution_count is None
    assert "solutions/" not in out.cells[0].source and out.cells[0].source.count("exercises/01_demo.ipynb") == 2


@pytest.mark.parametrize("source, fragment", [
    ("### BEGIN SOLUTION\nx = 1", "without a matching '### END SOLUTION'"),
    ("x = 1\n### END SOLUTION", "without a matching '### BEGIN SOLUTION'"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "nested"),
])
def test_malformed_markers_name_notebook_and_cell(source, fragment):
    nb = _nb("print('fine')", source)
    with pytest.raises(MarkerError) as err:
        exercise_notebook(nb, solution_path="solutions/07_x.ipynb", exercise_path="exercises/07_x.ipynb")
    assert "solutions/07_x.ipynb, cell 1" in str(err.value) and fragment in str(err.value)


def test_a_solutions_notebook_without_exercises_is_an_error():
    with pytest.raises(MarkerError, match="no '### BEGIN SOLUTION' block"):
        exercise_notebook(_nb("x = 1"), solution_path="solutions/a.ipynb", exercise_path="exercises/a.ipynb")


def test_make_exercises_writes_then_checks(tmp_path):
    root = _repo(tmp_path, _nb("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    assert [s.up_to_date for s in make_exercises(root, check=True)] == [False]
    assert not (root / "exercises").exists()  # check mode writes nothing
    make_exercises(root)
    assert (root / "exercises" / "01_demo.ipynb").exists()
    assert all(s.up_to_date for s in make_exercises(root, check=True))


def test_check_flags_hand_edited_and_orphan_exercises(tmp_path):
    root = _repo(tmp_path, _nb("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    make_exercises(root)
    ex = root / "exercises" / "01_demo.ipynb"
    ex.write_text(ex.read_text().replace("YOUR CODE HERE", "edited by hand"))
    (root / "exercises" / "02_orphan.ipynb").write_text(ex.read_text())
    stale = {s.exercise.name for s in make_exercises(root, check=True) if not s.up_to_date}
    assert stale == {"01_demo.ipynb", "02_orphan.ipynb"}


def test_cli_check_exit_codes_and_messages(tmp_path):
    root = _repo(tmp_path, _nb("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    cmd = [sys.executable, "-m", "course", "make-exercises", "--root", str(root)]
    stale = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and "exercises/01_demo.ipynb" in stale.stdout
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    assert subprocess.run(cmd + ["--check"], capture_output=True, text=True).returncode == 0
    bad = _nb("### BEGIN SOLUTION\nx = 1")
    nbformat.write(bad, root / "solutions" / "02_bad.ipynb")
    broken = subprocess.run(cmd + ["--check"], capture_output=True, text=True)
    assert broken.returncode == 2 and "solutions/02_bad.ipynb, cell 0" in broken.stderr


def test_deleting_a_solution_line_fails_the_solutions_run(tmp_path):
    """A solution that no longer passes its check must fail the suite, naming the notebook (strict checks)."""
    src = nbformat.read(ROOT / "solutions" / "00_welcome.ipynb", as_version=4)
    for cell in src.cells:
        if "### BEGIN SOLUTION" in cell.source:
            cell.source = cell.source.replace("    return (r1 - r0, c1 - c0)\n", "")
            break
    else:
        pytest.fail("solutions/00_welcome.ipynb has no solution block")
    (tmp_path / "solutions").mkdir()
    broken = tmp_path / "solutions" / "00_welcome.ipynb"
    nbformat.write(src, broken)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", str(ROOT / "pyproject.toml"),
                             "--rootdir", str(tmp_path), "solutions/00_welcome.ipynb"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600,
                            env={**__import__("os").environ, "COURSE_STRICT_CHECKS": "1"})
    assert result.returncode != 0, result.stdout[-2000:]
    assert "FAILED solutions/00_welcome.ipynb::Cell" in result.stdout
    assert "CheckFailed" in result.stdout and "ball_displacement" in result.stdout
