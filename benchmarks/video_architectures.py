"""Benchmark: every small video model of chapters 08–11 on the same MovingShapes clips with the same budget, on a CPU.

C3D-small, R3D / MC3 / R(2+1)D-small, an inflated I3D-small, R3D-small with non-local blocks and with multi-level
fusion, the two-stream model and SlowFast (and the single-pathway parts of those two), each trained from scratch for
the same epochs on the same clips (AdamW, one-cycle LR, 2 torch threads), then one table: parameters, FLOPs per clip,
train seconds (wall and CPU), test accuracy and within-pair accuracy (telling a class from its time-reversed twin;
chance is 50%). The table is saved atomically, with this command, to ``course/results/video_architectures.json``,
which chapters 10 and 11 display.

Targets (issue 11): every temporal model of the issue's list (not the single-pathway parts, which are ablations)
>= 90% within-pair accuracy; R(2+1)D-small at least as accurate as
R3D-small with no more parameters; the whole script <= 10 min on 2 cores (of an otherwise idle machine: the script
prints the load average, and CPU seconds next to wall seconds).

    python benchmarks/video_architectures.py                # the full table (saved)
    python benchmarks/video_architectures.py --quick --no-save   # a small version in a minute or two
    python benchmarks/video_architectures.py --models r3d_small r2plus1d_small --no-save
    python benchmarks/video_architectures.py --models r3d_small r3d_small+nonlocal r3d_small+multilevel \
        --train-clips 200 --seeds 0 1 2 --name video_architectures_200_clips   # a harder budget, three seeds

``--seeds`` trains every model once per seed (initialisation and batch order; the clips stay the same) and records
every run with its ``"seed"``, so a difference between models can be told from seed noise. ``--name`` saves the
record as ``course/results/NAME.json``, so a side experiment never replaces the main table.

On a shared machine the models can be trained by several runs side by side (each with its own ``--results-dir``) and
their records merged into one table with ``--merge DIR [DIR ...]``; the merged record keeps each run's command.
"""
from __future__ import annotations

import argparse
import re
import shlex
import sys
import time

from course.train.architectures import SMALL_MODELS, format_architecture_table, measure_architectures
from course.train.recorded import save_record

#: The record chapters 10-11 show (course/results/video_architectures.json).
RECORD = "video_architectures"
#: The --quick version: fewer clips, epochs and models (the notebook of chapter 11 runs the same).
QUICK = {"train_clips": 300, "test_clips": 100, "epochs": 3,
         "models": ["c3d_small", "r3d_small", "r2plus1d_small", "slowfast"]}
FULL = {"train_clips": 1200, "test_clips": 400, "epochs": 6, "models": list(SMALL_MODELS)}


def check_targets(record: dict) -> list[str]:
    """One line per target of the issue: met or missed, with the measured numbers."""
    runs = {r["model"]: r for r in record["runs"]}
    lines = []
    # The target is on the models of the list; the single-pathway parts ("two_stream/motion", ...) are
    # ablations of a model, trained alone only to measure what each part contributes, and are reported beside it.
    temporal = [r for r in record["runs"] if r.get("temporal") and "/" not in r["model"]]
    weak = [f"{r['model']} {r['within_pair_acc']:.1%}" for r in temporal if not r["within_pair_acc"] >= 0.9]
    lines.append(f"every temporal model >= 90% within pair: {'met' if not weak else 'MISSED: ' + ', '.join(weak)}")
    parts = [r for r in record["runs"] if r.get("temporal") and "/" in r["model"]]
    if parts:
        weak_parts = [f"{r['model']} {r['within_pair_acc']:.1%}" for r in parts if not r["within_pair_acc"] >= 0.9]
        lines.append("(single-pathway parts, not held to the target: "
                     + (", ".join(weak_parts) + " below 90%)" if weak_parts else "all >= 90%)"))
    if "r3d_small" in runs and "r2plus1d_small" in runs:
        r3d, r21 = runs["r3d_small"], runs["r2plus1d_small"]
        ok = r21["test_acc"] >= r3d["test_acc"] and r21["parameters"] <= r3d["parameters"]
        lines.append(f"R(2+1)D-small ({r21['test_acc']:.1%}, {r21['parameters']:,} params) vs R3D-small "
                     f"({r3d['test_acc']:.1%}, {r3d['parameters']:,} params): {'met' if ok else 'MISSED'}")
    total = record["total_seconds"]
    lines.append(f"whole run {total:.0f} s (target <= 600 s on 2 idle cores; load average at the end "
                 f"{record['load_average'][0]:.1f}): {'met' if total <= 600 else 'MISSED (see the load)'}")
    return lines


def merge_records(directories, *, save: bool = True, directory=None) -> dict:
    """One record from the records of runs that trained different models side by side (same data and budget)."""
    from course.train.recorded import recorded_runs

    parts = [recorded_runs("video_architectures", directory=d) for d in directories]
    missing = [d for d, r in zip(directories, parts) if r is None]
    if missing:
        raise SystemExit(f"--merge: no video_architectures.json in {missing}")
    order = {name: i for i, name in enumerate(SMALL_MODELS)}
    record = dict(parts[0])
    record.update({
        "command": " & ".join(p["command"] for p in parts) + " ; python benchmarks/video_architectures.py --merge "
                   + " ".join(map(str, directories)),
        "runs": sorted((r for p in parts for r in p["runs"]), key=lambda r: order.get(r["model"], len(order))),
        "total_seconds": max(p["total_seconds"] for p in parts),
        "sum_of_run_seconds": sum(p["total_seconds"] for p in parts), "side_by_side_runs": len(parts),
        "load_average": [max(p["load_average"][i] for p in parts) for i in range(3)],
    })
    print(format_architecture_table(record))
    print(f"({len(parts)} runs side by side; their wall times add up to {record['sum_of_run_seconds']:.0f} s)")
    print("\n".join(["", "targets:"] + ["  " + line for line in check_targets(record)]))
    if save:
        print(f"\nsaved {save_record(record, 'video_architectures', directory=directory)}")
    return record


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=list(SMALL_MODELS), default=None, metavar="NAME",
                        help=f"default: all of {list(SMALL_MODELS)}")
    parser.add_argument("--train-clips", type=int, default=None, help="default 1200 (--quick: 300)")
    parser.add_argument("--test-clips", type=int, default=None, help="default 400 (--quick: 100)")
    parser.add_argument("--epochs", type=int, default=None, help="default 6 (--quick: 3)")
    parser.add_argument("--threads", type=int, default=2)
    seeding = parser.add_mutually_exclusive_group()
    seeding.add_argument("--seed", type=int, default=0, help="seed of every model's initialisation and batch order "
                         "(the data stay the same); e.g. --models r3d_small r2plus1d_small --seed 1 --no-save")
    seeding.add_argument("--seeds", type=int, nargs="+", default=None, metavar="SEED",
                         help="train every model once per seed and record all the runs, each with its 'seed' "
                              "(e.g. --seeds 0 1 2, to tell a difference between models from seed noise)")
    parser.add_argument("--name", default=RECORD, help=f"save the record as course/results/NAME.json (default "
                        f"{RECORD}, the table chapters 10-11 show; give side experiments their own name)")
    parser.add_argument("--quick", action="store_true", help=f"a small version: {QUICK}")
    parser.add_argument("--no-save", action="store_true", help="print only; do not write course/results/ (--quick "
                        "saves only with --results-dir, so it never replaces the full record)")
    parser.add_argument("--results-dir", default=None, help="where to save the record (default course/results)")
    parser.add_argument("--merge", nargs="+", default=None, metavar="DIR",
                        help="merge the records saved in these --results-dir folders into one table instead of "
                             "training")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if args.merge:
        if args.name != RECORD:
            parser.error("--merge writes the main record; --name is for training runs")
        return merge_records(args.merge, save=not args.no_save, directory=args.results_dir)
    if not re.fullmatch(r"\w[\w.-]*", args.name):
        parser.error(f"--name: expected a plain file name such as {RECORD}_200_clips, got {args.name!r}")
    if args.seeds is not None and (len(set(args.seeds)) != len(args.seeds) or min(args.seeds) < 0):
        parser.error(f"--seeds: expected distinct non-negative ints, got {args.seeds}")
    defaults = QUICK if args.quick else FULL
    for key in ("train_clips", "test_clips", "epochs", "models"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    command = "python benchmarks/video_architectures.py " + " ".join(map(shlex.quote, argv))
    start = time.perf_counter()
    records = []
    for seed in args.seeds if args.seeds is not None else [args.seed]:
        record = measure_architectures(args.models, train_clips=args.train_clips, test_clips=args.test_clips,
                                       seed=seed, epochs=args.epochs, threads=args.threads, progress=True,
                                       command=command)
        record["total_seconds"] = time.perf_counter() - start
        print(format_architecture_table(record) + (f" (seed {seed})" if args.seeds is not None else ""))
        print("\n".join(["", "targets:"] + ["  " + line for line in check_targets(record)]))
        records.append(record)
    if args.seeds is None:
        record = records[0]
    else:                               # one record: every seed's runs, each tagged with its seed
        record = {key: value for key, value in records[-1].items() if key != "seed"}
        record["seeds"] = list(args.seeds)
        record["runs"] = [run | {"seed": r["seed"]} for r in records for run in r["runs"]]
    if not args.no_save and (not args.quick or args.results_dir):
        print(f"\nsaved {save_record(record, args.name, directory=args.results_dir)}")
    return record


if __name__ == "__main__":
    main()
