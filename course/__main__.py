"""Command line: ``python -m course doctor`` | ``make-exercises [--check]`` | ``strip-outputs [FILES]`` |
``make-exercises --nbgrader OUTDIR [--chapter NN]`` (nbgrader source assignments: the classroom kit) |
``predict VIDEO [VIDEO ...] [--model MODEL.onnx] [--json]`` (onnxruntime, no PyTorch: chapter 15) |
``capstone check DIR`` (the capstone rubric: chapter 19)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _make_nbgrader(args) -> int:
    from .authoring import MarkerError
    from .classroom import graded_exercises_table, make_nbgrader

    try:
        if args.graded_table:
            print(graded_exercises_table(args.root))
            return 0
        assignments = make_nbgrader(args.nbgrader, args.root, chapter=args.chapter)
    except (MarkerError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for a in assignments:
        print(f"wrote {a.source}: {a.auto_points} autograded point(s), {a.manual_points} graded by hand")
        for grade_id in a.unchecked:
            print(f"  note: {grade_id} has no check cell after it, so it earns no automatic points")
    print(f"{len(assignments)} nbgrader source notebook(s) in {args.nbgrader / 'source'}; next, in {args.nbgrader}: "
          f"nbgrader generate_assignment {assignments[0].source.parent.name if assignments else 'NN_name'}")
    return 0


def _make_exercises(args) -> int:
    from .authoring import MarkerError, make_exercises

    if args.nbgrader is not None or args.graded_table:
        if args.check:
            print("error: make-exercises --check checks exercises/; it does not combine with --nbgrader or "
                  "--graded-table", file=sys.stderr)
            return 2
        return _make_nbgrader(args)
    if args.chapter is not None:
        print("error: make-exercises --chapter selects a chapter for --nbgrader OUTDIR; exercises/ is always "
              "generated whole", file=sys.stderr)
        return 2
    try:
        statuses = make_exercises(args.root, check=args.check)
    except MarkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    stale = [s for s in statuses if not s.up_to_date]
    if args.check:
        for s in stale:
            if s.solution.exists():
                print(f"out of date: {s.exercise} (regenerate it from {s.solution} with `python -m course make-exercises`)")
            else:
                print(f"out of date: {s.exercise} has no {s.solution}; delete it or add the solution")
        if not stale:
            print(f"exercises/ is up to date ({len(statuses)} notebooks)")
        return 1 if stale else 0
    for s in stale:
        print(f"wrote {s.exercise}" if s.solution.exists() else f"removed {s.exercise}")
    print(f"{len(statuses)} exercise notebooks, {len(stale)} changed")
    return 0


def _strip_outputs(args) -> int:
    import nbformat

    paths = [Path(p) for p in args.files] or sorted(
        p for d in ("notebooks", "solutions", "exercises") for p in Path(d).glob("*.ipynb"))
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        print(f"stripped {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course", description="Tools for the video deep-learning course.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check that this machine can run the course")
    mk = sub.add_parser("make-exercises", help="generate exercises/ from solutions/")
    mk.add_argument("--check", action="store_true", help="write nothing; exit 1 if exercises/ is out of date")
    mk.add_argument("--root", type=Path, default=None, help="repository root (default: this checkout)")
    mk.add_argument("--nbgrader", type=Path, default=None, metavar="OUTDIR",
                    help="instead, write nbgrader source assignments to OUTDIR/source/NN_name/ (classroom kit)")
    mk.add_argument("--chapter", default=None, metavar="NN", help="with --nbgrader: only this chapter (e.g. 01)")
    mk.add_argument("--graded-table", action="store_true",
                    help="print the markdown table of graded exercises per chapter (TEACHING.md) and exit")
    st = sub.add_parser("strip-outputs", help="remove outputs from notebooks before committing")
    st.add_argument("files", nargs="*")
    from .deploy.predict import add_arguments

    add_arguments(sub.add_parser("predict", help="classify video files with an exported ONNX model (no PyTorch)"))
    from .capstone.check import add_arguments as add_capstone_arguments

    add_capstone_arguments(sub.add_parser("capstone", help="chapter 19: score a capstone report"))
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from .doctor import doctor

        return 0 if doctor().ok else 1
    if args.command == "make-exercises":
        return _make_exercises(args)
    if args.command == "capstone":
        from .capstone.check import run as run_capstone

        return run_capstone(args)
    if args.command == "predict":
        from .deploy.predict import run

        return run(args)
    return _strip_outputs(args)


if __name__ == "__main__":
    sys.exit(main())
