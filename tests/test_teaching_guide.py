"""TEACHING.md says only what is true: every chapter is in the schedule with README's measured time, the graded
exercises table is the one generated from solutions/, every command it shows exists, and the capstone rubric tables
match course.capstone."""
import argparse
import ast
import re
import shlex
from pathlib import Path

import pytest

from course.classroom import NBGRADER_CONFIG, graded_exercises_table

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "TEACHING.md").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _schedule_rows():
    """chapter number -> the schedule table's row."""
    rows = re.findall(r"^\| [\d–]+ \| (\d\d) · (.*)$", GUIDE, re.M)
    return {number: row for number, row in rows}


def _readme_full_mode_times():
    """chapter number -> the *full mode* cell of README's syllabus ("7 s", or "—" while not measured)."""
    header = re.search(r"^\| # \|.*$", README, re.M).group(0)
    column = [c.strip() for c in header.split("|")].index("full mode")
    rows = re.findall(r"^\| \d\d \|.*$", README, re.M)
    return {row[2:4]: [c.strip() for c in row.split("|")][column] for row in rows}


def test_every_chapter_of_readme_and_every_lecture_is_in_the_schedule():
    rows = _schedule_rows()
    readme_chapters = re.findall(r"^\| (\d\d) \| ", README, re.M)
    assert readme_chapters and sorted(rows) == sorted(readme_chapters)
    for lecture in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        row = rows.get(lecture.name[:2], "")
        assert f"(notebooks/{lecture.name})" in row, f"TEACHING.md's schedule does not link notebooks/{lecture.name}"
    for target in re.findall(r"\]\(((?:notebooks|exercises|solutions)/[^)]+)\)", GUIDE):
        assert (ROOT / target).exists(), f"TEACHING.md links to {target}, which does not exist"


def test_schedule_times_are_readmes_measured_full_mode_times():
    times, rows = _readme_full_mode_times(), _schedule_rows()
    assert sum(bool(re.fullmatch(r"\d+ s", t)) for t in times.values()) >= 17
    for number, row in rows.items():
        shown = [c.strip() for c in row.split("|")][1]
        if re.fullmatch(r"\d+ s", times[number]):
            assert shown == times[number], f"chapter {number}: TEACHING.md says {shown!r}, README {times[number]!r}"
        else:
            assert shown == "(time: see README)", f"chapter {number} has no measured time in README yet"


def test_graded_exercises_table_is_the_generated_one():
    block = re.search(r"<!-- graded-exercises:begin -->\n(.*?)\n<!-- graded-exercises:end -->", GUIDE, re.S)
    assert block, "TEACHING.md lost its graded-exercises markers"
    assert block.group(1) == graded_exercises_table(ROOT), (
        "TEACHING.md's graded exercises are out of date: paste `python -m course make-exercises --graded-table`")


def _code_lines():
    for block in re.findall(r"```bash\n(.*?)```", GUIDE, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                yield line


class _Parsed(Exception):
    pass


def test_every_course_command_shown_parses(monkeypatch):
    from course.__main__ import main

    original = argparse.ArgumentParser.parse_args

    def parse_only(self, args=None, namespace=None):
        raise _Parsed(original(self, args, namespace))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_only)
    commands = [line for line in _code_lines() if line.startswith("python -m course ")]
    commands += re.findall(r"`(python -m course [^`]+)`", GUIDE)
    assert any("--nbgrader" in c for c in commands) and any("capstone check" in c for c in commands)
    for command in commands:
        with pytest.raises(_Parsed):
            main(shlex.split(command)[3:])


def test_every_nbgrader_command_shown_exists():
    from nbgrader.apps.nbgraderapp import NbGraderApp

    shown = [line.removeprefix("COURSE_QUICK=1 ") for line in _code_lines()] + re.findall(r"`([^`]+)`", GUIDE)
    used = {m.group(1) for line in shown if (m := re.match(r"nbgrader ([a-z_]+)\b", line))}
    assert {"generate_assignment", "autograde", "generate_feedback", "export"} <= used
    assert used <= set(NbGraderApp.subcommands), f"not nbgrader commands: {sorted(used - set(NbGraderApp.subcommands))}"


def test_files_and_settings_the_guide_names_exist():
    for path in ("benchmarks/gpu_video_models.py", "environment.yml", "constraints.txt",
                 "tests/test_classroom_nbgrader.py"):
        assert path in GUIDE and (ROOT / path).exists()
    timeout = re.search(r"c\.Execute\.timeout = (\d+)", NBGRADER_CONFIG).group(1)
    assert f"allows {timeout} s per cell" in GUIDE


def test_checks_do_not_read_quick_mode_as_the_guide_says():
    assert "no module in `course/checks` does" in GUIDE
    for module in (ROOT / "course" / "checks").glob("*.py"):
        assert not re.search(r"QUICK|quick_or_full|is_quick", module.read_text()), module.name


def _automatic_rubric_lines():
    tree = ast.parse((ROOT / "course" / "capstone" / "check.py").read_text())
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RubricLine":
            name, points = (ast.literal_eval(a) for a in node.args[:2])
            hard = any(k.arg == "hard" and ast.literal_eval(k.value) for k in node.keywords)
            lines.append((name, points, hard))
    return lines


def test_capstone_rubric_tables_match_the_checker():
    from course.capstone import HUMAN_LINES

    automatic = _automatic_rubric_lines()
    assert automatic, "no RubricLine(...) found in course/capstone/check.py"
    shown = re.findall(r"^\| ([^|]+?) \| (\d+) \| (yes)? ?\|$", GUIDE, re.M)
    assert sorted((n, int(p), bool(h)) for n, p, h in shown) == sorted(automatic)
    human = re.findall(r"^\| ([A-Z][^|]+?) \| (\d+) \|$", GUIDE, re.M)
    assert sorted((n, int(p)) for n, p in human) == sorted((n, p) for n, p, _ in HUMAN_LINES)
