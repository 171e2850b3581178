"""The install story: ranges in pyproject, pins in constraints.txt, conda mirror, README commands and links."""
import re
import tomllib
from pathlib import Path

import yaml

from course.authoring import binder_url, colab_url

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
README = (ROOT / "README.md").read_text()


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;@]", requirement.strip(), maxsplit=1)[0].lower()


def test_runtime_dependencies_are_ranges_not_pins():
    deps = PYPROJECT["project"]["dependencies"]
    assert {"torch", "torchvision", "av", "numpy", "matplotlib", "ipywidgets", "jupyterlab", "scikit-learn",
            "tqdm"} <= {_name(d) for d in deps}
    assert not [d for d in deps if "==" in d], "pin versions in constraints.txt, keep ranges in pyproject.toml"


def test_constraints_pin_torch_and_a_matching_torchvision():
    pins = dict(line.split("==") for line in (ROOT / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"


def test_environment_yml_mirrors_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = set()
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        listed |= {_name(d) for d in items}
    wanted = {_name(d) for d in PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert wanted <= listed, f"missing from environment.yml: {sorted(wanted - listed)}"


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    assert "make lab" in README and "make test" in README
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M), ".ci/run must run exactly the README's test command"


def test_readme_links_every_lecture_to_colab_and_binder_and_links_exist():
    for lecture in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        rel = f"notebooks/{lecture.name}"
        assert colab_url(rel) in README and binder_url(rel) in README, f"README has no Colab/Binder links for {rel}"
    for target in re.findall(r"\]\(((?:notebooks|exercises|solutions)/[^)]+)\)", README):
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


def test_make_lab_serves_the_whole_course_not_only_notebooks():
    # Given only a file, JupyterLab serves that file's folder: learners would not see exercises/ or solutions/.
    lab = re.search(r"^lab:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert lab and "notebooks/00_welcome.ipynb" in lab.group(1)
    assert '--ServerApp.root_dir="$(CURDIR)"' in lab.group(1)


# import name -> distribution name, where they differ
_DISTRIBUTION = {"sklearn": "scikit-learn", "PIL": "pillow", "IPython": "ipython", "yaml": "pyyaml"}


def _imported_modules(source: str) -> set[str]:
    import ast

    # notebook magics (`%pip ...`) are not Python: keep the line count and indentation, drop the magic
    lines = [re.sub(r"^(\s*)[%!].*$", r"\1pass", line) for line in source.splitlines()]
    found = set()
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_everything_the_course_and_its_notebooks_import_is_a_declared_dependency():
    import sys

    import nbformat

    sources = {p: p.read_text() for p in (ROOT / "course").rglob("*.py")}
    for folder in ("notebooks", "solutions"):
        for path in (ROOT / folder).glob("*.ipynb"):
            cells = nbformat.read(path, as_version=4).cells
            sources[path] = "\n".join(c.source for c in cells if c.cell_type == "code")
    declared = {_name(d) for d in PYPROJECT["project"]["dependencies"]}
    undeclared = {}
    for path, source in sources.items():
        for module in _imported_modules(source) - set(sys.stdlib_module_names) - {"course"}:
            if _DISTRIBUTION.get(module, module).lower() not in declared:
                undeclared.setdefault(module, path.relative_to(ROOT).as_posix())
    assert not undeclared, f"imported but not in pyproject's dependencies (module: first file): {undeclared}"


def test_welcome_chapter_map_marks_exactly_the_chapters_the_readme_has_not_linked():
    """notebooks/00_welcome's map stars a chapter as 'in preparation' iff README's syllabus row has no lecture yet."""
    import nbformat

    welcome = nbformat.read(ROOT / "notebooks" / "00_welcome.ipynb", as_version=4)
    chapter_map = next(c.source for c in welcome.cells if c.cell_type == "markdown" and "| part | chapters |" in c.source)
    rows = dict(re.findall(r"^\| (\d\d) \| (.*)$", README, re.M))
    assert sorted(rows) == [f"{n:02d}" for n in range(20)], "README's syllabus should list chapters 00-19"
    for number, row in rows.items():
        if number == "00":
            continue
        ready = f"(notebooks/{number}_" in row
        mentioned = re.search(rf"(?:^|· |\| ){number} [^·|]*?(\\\*)?(?= ·| \|)", chapter_map, re.M)
        assert mentioned, f"00_welcome's chapter map does not mention chapter {number}"
        starred = bool(mentioned.group(1))
        assert starred != ready, (f"chapter {number} is {'linked' if ready else 'not linked'} in README but "
                                  f"{'starred' if starred else 'not starred'} as in preparation in 00_welcome's map")


def test_readme_full_mode_times_match_what_each_lecture_states():
    """README's "full mode" column repeats the time each lecture's introduction states (``**Time:** ... took N s``),
    so the two cannot drift apart; a linked chapter must have a measured time."""
    import nbformat

    header = re.search(r"^\| # \|(.*)\|$", README, re.M).group(1)
    column = [c.strip() for c in header.split("|")].index("full mode") + 1
    rows = {m.group(1): [c.strip() for c in m.group(0).split("|")[1:-1]]
            for m in re.finditer(r"^\| (\d\d) \| .*$", README, re.M)}
    checked = 0
    for number, cells in rows.items():
        stated_in_readme = cells[column]
        lecture = sorted((ROOT / "notebooks").glob(f"{number}_*.ipynb"))
        if f"(notebooks/{number}_" not in cells[1]:
            assert stated_in_readme == "—", f"chapter {number} is not linked yet but README gives it a time"
            continue
        assert re.fullmatch(r"\d+ s", stated_in_readme), f"chapter {number}: README's full-mode time {stated_in_readme!r}"
        text = "\n".join(c.source for c in nbformat.read(lecture[0], as_version=4).cells if c.cell_type == "markdown")
        stated = (re.search(r"\*\*Time:\*\* in full mode[^.]*? took (\d+) s", text)
                  or re.search(r"\*\*Time:\*\* (\d+) s in full mode", text))
        if stated:
            assert stated_in_readme == f"{stated.group(1)} s", (
                f"chapter {number}: README says {stated_in_readme}, the lecture says {stated.group(1)} s")
            checked += 1
    assert checked >= 10, f"only {checked} lectures state their full-mode time as '**Time:** in full mode ... took N s'"


def test_every_dataset_card_states_what_licence_and_citation():
    """Chapter 19's provenance table (``course.capstone.project.dataset_provenance``) reads these three fields."""
    from course.capstone.project import dataset_provenance

    rows = dataset_provenance(ROOT / "datasets")
    assert len(rows) == len([p for p in (ROOT / "datasets").glob("*.md") if p.name != "README.md"])
    missing = [(r["dataset"], k) for r in rows for k in ("what", "licence", "citation")
               if r[k] == "(not stated in the card)"]
    assert not missing, f"dataset cards without a **What:** / **Licence:** / **Citation:** field: {missing}"
