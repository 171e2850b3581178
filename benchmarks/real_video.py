"""The real-video recipe as a command: KTH actions, person-disjoint, with an honest report (chapter 14).

Finds KTH videos (``person<PP>_<action>_d<S>_uncomp.avi``, any of the six actions, any folder depth) under ROOT,
trains ``course.train.real_video``'s model on the official training persons present (11-18), chooses the epoch by video
accuracy on the validation persons present (1, 4, 19-21, 23-25), and reports on the official test persons present
(2, 3, 5-10, 22) — or, when there are none, says so and reports on the validation persons. The report: video-level
accuracy with a 95% Wilson interval, scikit-learn's classification report, the confusion matrix, the training time and
this command. It is saved atomically to ``course/results/<name>.json`` (chapter 14 shows it) and the last line printed
is ``RESULT {json}``.

    python benchmarks/real_video.py --kth ~/data/kth                  # the recipe (target: walking vs running,
                                                                      # >= 95% on test persons, <= 10 min on 2 cores)
    python benchmarks/real_video.py --kth ~/data/kth --compare        # + the sampling / leakage table on val persons
    python benchmarks/real_video.py --kth ROOT --epochs 2 --no-save   # a quick check of the command itself

Decoded videos are cached in the course's data cache (``COURSE_DATA``), so a second run skips decoding.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch  # noqa: E402

from course.train.real_video import (RecipeConfig, SAMPLINGS, compare_samplings, decode_videos, find_kth_videos,  # noqa: E402
                                 format_report, format_sampling_table, record_result, run_recipe)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kth", required=True, type=Path, help="folder holding KTH .avi files (any depth)")
    defaults = RecipeConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--sampling", choices=SAMPLINGS, default=defaults.sampling)
    parser.add_argument("--train-clips", type=int, default=defaults.train_clips, help="clips per video per epoch")
    parser.add_argument("--eval-clips", type=int, default=defaults.eval_clips, help="clips averaged per video")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch (the target is 2 cores)")
    parser.add_argument("--compare", nargs="?", const="random,segments,motion,leaky", default=None,
                        metavar="LIST", help="also train one model per sampler (and one on a leaky clip-level split) and "
                        "measure them on the validation persons; LIST picks rows, default random,segments,motion,leaky; "
                        "recorded as course/results/<name>_samplings_<LIST>.json")
    parser.add_argument("--skip-recipe", action="store_true", help="with --compare: only the comparison")
    parser.add_argument("--name", default="real_video_kth", help="record name in course/results/")
    parser.add_argument("--no-save", action="store_true", help="print only; write nothing to course/results/")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    command = "python benchmarks/real_video.py " + " ".join(shlex.quote(a) for a in argv)
    if args.threads < 1:
        raise SystemExit("--threads: expected a positive number of CPU threads")
    torch.set_num_threads(args.threads)
    try:
        split = find_kth_videos(args.kth)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f"real_video.py: {err}") from None
    config = RecipeConfig(epochs=args.epochs, sampling=args.sampling, train_clips=args.train_clips,
                          eval_clips=args.eval_clips, seed=args.seed)
    rows_wanted = [] if args.compare is None else [r.strip() for r in args.compare.split(",") if r.strip()]
    bad = [r for r in rows_wanted if r not in SAMPLINGS + ("leaky",)]
    if bad or (args.compare is not None and not rows_wanted):
        raise SystemExit(f"--compare: expected names from {SAMPLINGS + ('leaky',)}, got {args.compare!r}")
    if args.skip_recipe and not rows_wanted:
        raise SystemExit("--skip-recipe: only makes sense with --compare")
    progress = not args.no_progress
    counts = split.counts()
    print(f"found under {args.kth}: classes {split.classes}; " + "; ".join(
        f"{name} {sum(c.values())} videos" for name, c in counts.items()))
    if not split.test:
        print("no videos of the official test persons (2, 3, 5-10, 22) here: reporting on the VALIDATION persons, "
              "which also choose the epoch (an optimistic number)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"torch threads: {torch.get_num_threads()}; load average before: {load}")
    started = time.perf_counter()
    report_on = "test" if split.test else "val"
    needed = ("train", "val") if args.skip_recipe else ("train", "val", report_on)
    videos = {name: decode_videos([p for p, _ in getattr(split, name)], size=config.decode_size, progress=progress)
              for name in dict.fromkeys(needed)}
    decode_seconds = time.perf_counter() - started
    print(f"decoding: {decode_seconds:.0f} s (cached in the data cache for the next run)")
    summary = None
    if not args.skip_recipe:
        try:
            result = run_recipe(split, config, progress=progress, videos=videos)
        except ValueError as err:
            raise SystemExit(f"real_video.py: {err}") from None
        print()
        print(format_report(result))
        print(f"\ntotal (decoding + training + evaluation): {time.perf_counter() - started:.0f} s")
        extra = {"decode_seconds": decode_seconds, "total_seconds": time.perf_counter() - started,
                 "threads": torch.get_num_threads(), "load_before": load, "load_after": _load()}
        print(f"\ncommand: {command}")
        if not args.no_save:
            print(f"recorded in {record_result(result, command=command, name=args.name, extra=extra)}")
        summary = {k: result[k] for k in ("split", "classes", "n_videos", "accuracy", "ci_low", "ci_high",
                                          "train_seconds", "best_epoch", "clip_accuracy")}
    if rows_wanted:
        samplings = [r for r in rows_wanted if r != "leaky"]
        rows = compare_samplings(split, config, samplings=samplings, leaky="leaky" in rows_wanted, progress=progress,
                                 videos=videos)
        print("\nsampling comparison (trained on the training persons, measured on the validation persons):")
        print(format_sampling_table(rows))
        if not args.no_save:
            name = f"{args.name}_samplings_{'_'.join(rows_wanted)}"
            path = record_result({"rows": rows}, command=command, name=name,
                                 extra={"threads": torch.get_num_threads(), "load_before": load, "load_after": _load()})
            print(f"recorded in {path}")
        if summary is None:
            best = max(rows, key=lambda r: r["accuracy"])
            summary = {"split": "val", "classes": split.classes, "n_videos": best["n"], "accuracy": best["accuracy"],
                       "ci_low": best["ci_low"], "ci_high": best["ci_high"], "train_seconds": best["train_seconds"],
                       "rows": len(rows)}
    print("RESULT " + json.dumps(summary))
    return summary


def _load():
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


if __name__ == "__main__":
    main()
