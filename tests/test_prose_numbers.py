"""Numbers with units in the prose of the notebooks must be accounted for.

"Every number in prose comes from a cell" (CONTRIBUTING.md). A test cannot know whether a sentence's number is what a
cell printed, but it can make sure nobody types one in unnoticed: every number-with-a-unit found in a markdown cell of
``notebooks/`` and ``solutions/`` must be listed in ``tests/prose_numbers_allowed.txt`` with a reason, one per line:

    notebooks/05_video_as_data.ipynb | 10-second | definition: the example video of the next cell (num_frames=250)

The reason starts with one of

- ``computed:`` the sentence describes a value a cell prints or asserts (say which);
- ``measured:`` a run time measured outside the notebook (name the command, the date and the machine's load);
- ``definition:`` a setting the reader is told to use, or a parameter the next cell sets (the number is chosen, not
  measured);
- ``citation:`` a published number, with its source named in the sentence;
- ``example:`` a quoted claim that a cell then checks (e.g. a mistake the chapter refutes).

A new number-with-unit in prose fails this test until it is listed, and a listed number that no longer occurs fails
too, so the list stays exact. Patterns caught (see ``PATTERNS``): data sizes (``300 MB``, ``12 KiB``, ``4 bytes``), large
counts (``78 million``, ``2 billion``, ``parameters``/``weights``), durations (``8 minutes``, ``25 s``, ``3 ms``,
``an hour``), rates (``29.97 fps``, ``30 Hz``), percentages (``95 %``), speed-ups (``12x``, ``3 times faster``) and
powers of ten (``1e-16``, ``$10^{-15}$``, ``6\\cdot10^{-8}``). Numbers inside inline code or code blocks are code, not
claims, and are skipped. ``python tests/test_prose_numbers.py`` prints every hit not yet listed, ready to paste.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED_FILE = Path(__file__).with_name("prose_numbers_allowed.txt")
KINDS = ("computed:", "measured:", "definition:", "citation:", "example:")

_NUM = r"(?<![\w.])\d+(?:,\d{3})*(?:\.\d+)?"
PATTERNS = {
    "data size": _NUM + r"[\s-]?(?:[kKMGT]i?B|bytes?)\b",
    "large count": _NUM + r"[\s-]?(?:million|billion|thousand)\b",
    "parameter count": _NUM + r"[\s-]?(?:parameters|params|weights)\b",
    "duration": _NUM + r"[\s-]?(?:ms|µs|seconds?|secs?|s|minutes?|mins?|hours?|days?)\b",
    "duration in words": r"\b(?:an?|one|two|three|few)\s(?:minutes?|hours?|days?)\b|"
                         r"\b(?:under|about|than|within|in|takes?|lasts?)\s(?:a|one)\ssecond\b",
    "rate": _NUM + r"[\s-]?(?:fps|Hz|frames per second)\b",
    "percentage": _NUM + r"\s?(?:%|percent\b)",
    "speed-up": _NUM + r"\s?(?:x|×)(?![\w\d])(?!\s?[\d$(])|" + _NUM + r"\s(?:times)\s(?:faster|slower|fewer|more|less|smaller|larger|bigger)",
    "power of ten": r"(?<![\w.])\d+(?:\.\d+)?e[-+]?\d+\b|10\^\{?[-−]?\d+\}?",
}
_CODE_BLOCK = re.compile(r"```.*?```", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LINK_TARGET = re.compile(r"\]\([^)]*\)")
_TEMPLATE = re.compile("|".join(f"(?:{p})" for p in PATTERNS.values()))


# The chapters held to this test: all of them (00-14). A new chapter is added here and its numbers listed.
CHAPTERS = range(0, 15)
CHAPTERS = sorted({*CHAPTERS, 15})  # chapter 15 (efficient inference) is held to it too
CHAPTERS = sorted({*CHAPTERS, 16})  # chapter 16 (scaling up) is held to it too
CHAPTERS = sorted({*CHAPTERS, 17})  # chapter 17 (prediction and generation) is held to it too
CHAPTERS = sorted({*CHAPTERS, 18})  # chapter 18 (self-supervised learning) is held to it too
CHAPTERS = sorted({*CHAPTERS, 19})


def notebooks() -> list[Path]:
    return sorted(p for folder in ("notebooks", "solutions") for p in (ROOT / folder).glob("[0-9][0-9]_*.ipynb")
                  if int(p.name[:2]) in CHAPTERS)


def prose_numbers(path: Path) -> list[str]:
    """Every number-with-unit in the markdown cells of ``path``, as written (whitespace normalised), in order."""
    import nbformat

    hits = []
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        text = _LINK_TARGET.sub("]", _INLINE_CODE.sub(" ", _CODE_BLOCK.sub(" ", cell.source)))
        hits += [" ".join(m.group(0).split()) for m in _TEMPLATE.finditer(text)]
    return hits


def load_allowed(path: Path = ALLOWED_FILE) -> dict[tuple[str, str], str]:
    allowed = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|", 2)]
        if len(parts) != 3 or not parts[2].startswith(KINDS) or len(parts[2]) < 15:
            raise ValueError(f"{path.name}:{lineno}: expected 'notebook | number | reason' with a reason starting "
                             f"with one of {KINDS}, got {line!r}")
        allowed[(parts[0], parts[1])] = parts[2]
    return allowed


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


@pytest.mark.parametrize("path", notebooks(), ids=_relative)
def test_every_number_in_prose_is_accounted_for(path):
    allowed = load_allowed()
    name = _relative(path)
    found = set(prose_numbers(path))
    unexplained = sorted(n for n in found if (name, n) not in allowed)
    stale = sorted(n for (nb, n) in allowed if nb == name and n not in found)
    assert not unexplained, (f"{name}: numbers with units in the prose that {ALLOWED_FILE.name} does not explain "
                             f"(compute them in a cell, or list them with a reason): {unexplained}")
    assert not stale, f"{ALLOWED_FILE.name} lists numbers that {name} no longer contains: {stale}"


def test_allow_list_names_existing_notebooks():
    names = {_relative(p) for p in notebooks()}
    assert {nb for nb, _ in load_allowed()} <= names


@pytest.mark.parametrize("text, expected", [
    ("The weights take 300 MB on disk.", ["300 MB"]),
    ("C3D has 78 million weights; training runs about 8 minutes.", ["78 million", "8 minutes"]),
    ("rounding errors of about 1e-16, i.e. $10^{-16}$", ["1e-16", "10^{-16}"]),
    ("UCF101 has 25 and 29.97 fps videos", ["29.97 fps"]),
    ("a 12x speed-up, 95 % accuracy, a 3x3 kernel, `300 MB` in code", ["12x", "95 %"]),
    ("It takes a minute. Reading 1,797 images; 16 frames of 112x112, 3 x 16 x 112 x 112.", ["a minute"]),
    ("Add a second layer; it covers well under a second.", ["under a second"]),
])
def test_patterns_catch_the_issue_examples(text, expected, tmp_path):
    import nbformat
    from nbformat import v4

    nb = v4.new_notebook()
    nb.cells.append(v4.new_markdown_cell(text))
    nb.cells.append(v4.new_code_cell("size = '300 MB'"))        # code is not prose
    path = tmp_path / "00_x.ipynb"
    nbformat.write(nb, path)
    assert prose_numbers(path) == expected


def test_bad_allow_list_lines_are_rejected(tmp_path):
    bad = tmp_path / "allowed.txt"
    bad.write_text("notebooks/00_welcome.ipynb | 300 MB | because\n")
    with pytest.raises(ValueError, match="reason starting with one of"):
        load_allowed(bad)


if __name__ == "__main__":  # print the hits that are not listed yet
    known = load_allowed()
    for p in notebooks():
        for n in dict.fromkeys(prose_numbers(p)):
            if (_relative(p), n) not in known:
                print(f"{_relative(p)} | {n} | ")
    sys.exit(0)
