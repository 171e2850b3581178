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
import re
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch  # noqa: E402

from course.train.real_video import (SAMPLINGS, RecipeConfig, VideoSplit, check_split, compare_samplings,  # noqa: E402
                                     decode_videos, find_kth_videos, format_report, format_sampling_table,
                                     record_result, run_recipe)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kth", required=True, type=Path, help="folder holding KTH .avi files (any depth)")
    defaults = RecipeConfig()
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--sampling", choices=SAMPLINGS, default=defaults.sampling)
    parser.add_argument("--train-clips", type=int, default=defaults.train_clips, help="clips per video per epoch")
    parser.add_argument("--eval-clips", type=int, default=defaults.eval_clips, help="clips averaged per video")
    parser.add_argument("--no-flip", dest="eval_flip", action="store_false", default=defaults.eval_flip,
                        help="do not also score each clip mirrored at test time")
    parser.add_argument("--no-retrain", dest="retrain", action="store_false", default=defaults.retrain,
                        help="ship the model trained on the training persons only (no retraining on train + val)")
    parser.add_argument("--choose-epoch", action="store_true", default=defaults.choose_epoch,
                        help="budget = the best epoch on the validation persons (default: the whole schedule)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for torch (the target is 2 cores)")
    parser.add_argument("--compare", nargs="?", const="random,segments,motion,leaky", default=None,
                        metavar="LIST", help="also train one model per sampler (and one on a leaky clip-level split) and "
                        "measure them on the validation persons; LIST picks rows, default random,segments,motion,leaky; "
                        "recorded as course/results/<name>_samplings_<LIST>.json")
    parser.add_argument("--skip-recipe", action="store_true", help="with --compare: only the comparison")
    parser.add_argument("--skip-unreadable", action="store_true",
                        help="leave out videos that cannot be decoded (listed in the report) instead of stopping")
    parser.add_argument("--save-model", type=Path, default=None, metavar="PATH",
                        help="save the shipped model as torch.save({'state_dict', 'config', 'classes'}, PATH)")
    parser.add_argument("--name", default="real_video_kth", help="record name in course/results/")
    parser.add_argument("--no-save", action="store_true", help="print only; write nothing to course/results/")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _fail(message: str):
    raise SystemExit(f"real_video.py: {message}")


def decode_split(split, subsets, size, *, skip_unreadable: bool, progress: bool):
    """Decode the videos of ``subsets`` -> ({subset: [uint8 (T, H, W, C)]}, the split without the unreadable videos,
    [(path, reason), ...] of the videos left out). Without ``skip_unreadable`` the first unreadable video stops the
    command with its name and the option to use."""
    from tqdm.auto import tqdm

    videos, skipped, kept = {}, [], {}
    for name in subsets:
        videos[name], kept[name] = [], []
        for path, label in tqdm(getattr(split, name), desc=f"decoding {name}", unit="video", disable=not progress):
            try:
                video = decode_videos([path], size=size, progress=False)[0]
                if video.shape[0] < 2:
                    raise ValueError(f"{video.shape[0]} frame(s); a clip needs at least 2")
            except (ValueError, OSError, RuntimeError) as err:
                if not skip_unreadable:
                    _fail(f"cannot use {path}: {err}\n(rerun with --skip-unreadable to leave such files out and "
                          "list them in the report)")
                skipped.append((str(path), str(err).splitlines()[0]))
                continue
            videos[name].append(video)
            kept[name].append((path, label))
    split = VideoSplit(split.classes, **{name: kept.get(name, getattr(split, name)) for name in ("train", "val", "test")})
    return videos, split, skipped


def save_model(model, config, classes, path: Path) -> Path:
    """``torch.save({"state_dict", "config": asdict(config), "classes"}, path)`` atomically; rebuild with
    ``build_model(len(classes), RecipeConfig(**config))``."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({"state_dict": model.state_dict(), "config": asdict(config), "classes": list(classes)}, tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def main(argv=None) -> dict:
    args = _parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else list(argv)
    command = "python benchmarks/real_video.py " + " ".join(shlex.quote(a) for a in argv)
    # every argument is checked before anything is decoded or trained
    if args.threads < 1:
        _fail("--threads: expected a positive number of CPU threads")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", args.name):
        _fail(f"--name: expected a plain record name (letters, digits, _ . -), got {args.name!r}")
    try:
        config = RecipeConfig(epochs=args.epochs, sampling=args.sampling, train_clips=args.train_clips,
                              eval_clips=args.eval_clips, seed=args.seed, eval_flip=args.eval_flip,
                              retrain=args.retrain, choose_epoch=args.choose_epoch)
    except ValueError as err:
        _fail(re.sub(r"RecipeConfig\((\w+)\): ", lambda m: f"--{m[1].replace('_', '-')}: ", str(err)))
    rows_wanted = [] if args.compare is None else [r.strip() for r in args.compare.split(",") if r.strip()]
    bad = [r for r in rows_wanted if r not in SAMPLINGS + ("leaky",)]
    if bad or (args.compare is not None and not rows_wanted):
        _fail(f"--compare: expected names from {SAMPLINGS + ('leaky',)}, got {args.compare!r}")
    if args.skip_recipe and not rows_wanted:
        _fail("--skip-recipe: only makes sense with --compare")
    if args.save_model is not None and (args.skip_recipe or args.save_model.is_dir()):
        _fail(f"--save-model: expected a file path and a recipe run, got {str(args.save_model)!r}"
              + (" with --skip-recipe" if args.skip_recipe else " (a folder)"))
    torch.set_num_threads(args.threads)
    try:
        split = find_kth_videos(args.kth)
        check_split(split, "real_video.py")
    except (FileNotFoundError, ValueError) as err:
        _fail(str(err))
    progress = not args.no_progress
    counts = split.counts()
    print(f"found under {args.kth}: classes {split.classes}; " + "; ".join(
        f"{name} {sum(c.values())} videos" for name, c in counts.items()))
    if not split.test:
        print("no videos of the official test persons (2, 3, 5-10, 22) here: reporting on the VALIDATION persons "
              "with the model that chose the epoch (an optimistic number)")
    load = _load()
    print(f"torch threads: {torch.get_num_threads()}; load average before: {load}")
    started = time.perf_counter()
    report_on = "test" if split.test else "val"
    needed = ("train", "val") if args.skip_recipe else ("train", "val", report_on)
    videos, split, skipped = decode_split(split, dict.fromkeys(needed), config.decode_size,
                                          skip_unreadable=args.skip_unreadable, progress=progress)
    decode_seconds = time.perf_counter() - started
    for path, reason in skipped:
        print(f"SKIPPED (unreadable): {path}: {reason}")
    try:
        check_split(split, "real_video.py")
    except ValueError as err:
        _fail(f"after leaving out {len(skipped)} unreadable video(s): {err}")
    print(f"decoding: {decode_seconds:.0f} s (cached in the data cache for the next run)")
    summary = None
    if not args.skip_recipe:
        result = run_recipe(split, config, progress=progress, videos=videos)
        total = time.perf_counter() - started
        print()
        print(format_report(result))
        if skipped:
            print(f"left out as unreadable ({len(skipped)}): " + ", ".join(Path(p).name for p, _ in skipped))
        print(f"\ntime: decoding {decode_seconds:.0f} s (0 when cached) + training {result['train_seconds']:.0f} s "
              f"(choosing the epoch {result['select_seconds']:.0f} s, incl. validation after each epoch; retraining "
              f"{result['retrain_seconds']:.0f} s) + final evaluation {result['eval_seconds']:.0f} s; "
              f"whole command {total:.0f} s")
        extra = {"decode_seconds": decode_seconds, "total_seconds": total, "threads": torch.get_num_threads(),
                 "load_before": load, "load_after": _load(), "skipped": skipped}
        print(f"\ncommand: {command}")
        if not args.no_save:
            print(f"recorded in {record_result(result, command=command, name=args.name, extra=extra)}")
        if args.save_model is not None:
            print(f"model saved to {save_model(result['model'], config, split.classes, args.save_model)} "
                  f"({result['final_fit']})")
        summary = {k: result[k] for k in ("split", "classes", "n_videos", "accuracy", "ci_low", "ci_high",
                                          "train_seconds", "best_epoch", "clip_accuracy")}
    if rows_wanted:
        samplings = [r for r in rows_wanted if r != "leaky"]
        rows = compare_samplings(split, config, samplings=samplings, leaky="leaky" in rows_wanted, progress=progress,
                                 videos=videos)
        print("\nsampling comparison (trained on the training persons, measured on the validation persons):")
        print(format_sampling_table(rows))
        for r in rows:
            print(f"  {r['training']:9s} {r['clips_per_video']} clip(s), {r['split']}: videos predicted per class "
                  f"{r['predicted']}; training loss per epoch {[round(x, 3) for x in r['train_loss']]}")
        if not args.no_save:
            name = f"{args.name}_samplings_{'_'.join(rows_wanted)}"
            path = record_result({"rows": rows}, command=command, name=name,
                                 extra={"threads": torch.get_num_threads(), "load_before": load, "load_after": _load(),
                                        "skipped": skipped})
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
