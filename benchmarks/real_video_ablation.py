"""Which changes make the real-video recipe generalise to new people? Leave-persons-out on the development persons.

Every KTH video under ROOT of the official training and validation persons (the test persons are never read, even
when present) is held out once by person fold; each variant of the recipe is trained once per fold and seed, and
the table gives the pooled video accuracy's mean, standard deviation and per-seed values for each test-time setting
(``3`` = 3 motion-guided clips averaged, ``8f`` = 8 clips and their mirror images). Chapter 14's closing note and
``datasets/kth.md`` quote these tables. Decoded videos come from the course's data cache (decoded once).

    python benchmarks/real_video_ablation.py --kth ROOT --folds 2 --seeds 0,1,2 --evals 1,3,8,8f \\
        --variant "recipe before issue 24:" --variant "scale+position:crop_scale=(0.4,1.0)"

A variant is ``NAME:key=value;key=value`` with keys of ``RecipeConfig`` (values as Python literals). The record goes
to ``course/results/real_video_kth_ablation_<name>.json``; the last line printed is ``RESULT {json}``.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import shlex
import sys
import time
from dataclasses import asdict, fields, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

import torch  # noqa: E402

from course.train.person_folds import cross_validate, format_cv_table, parse_eval_setting  # noqa: E402
from course.train.real_video import RecipeConfig, decode_videos, find_kth_videos, record_result  # noqa: E402


def parse_variant(text: str, base: RecipeConfig) -> tuple[str, RecipeConfig]:
    """``"NAME:key=value;key=value"`` -> (NAME, ``base`` with those fields replaced)."""
    name, sep, settings = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"--variant: expected NAME:key=value;..., got {text!r}")
    known = {f.name for f in fields(RecipeConfig)}
    changes = {}
    for part in filter(None, (p.strip() for p in settings.split(";"))):
        key, eq, value = part.partition("=")
        if not eq or key.strip() not in known:
            raise ValueError(f"--variant {name!r}: expected key=value with a RecipeConfig key ({sorted(known)}), "
                             f"got {part!r}")
        try:
            changes[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            raise ValueError(f"--variant {name!r}: {key.strip()}={value.strip()!r} is not a Python literal") from None
    return name.strip(), replace(base, **changes)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kth", required=True, type=Path, help="folder holding KTH .avi files (any depth)")
    parser.add_argument("--folds", type=int, default=2, help="person folds (each development person held out once)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--evals", default="3", help="test-time settings, e.g. 1,3,8,8f (f: also mirrored)")
    parser.add_argument("--variant", action="append", default=None,
                        help="NAME:key=value;... (repeatable); default: the recipe's defaults")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default=None, help="record course/results/real_video_kth_ablation_<name>.json")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    command = "python benchmarks/real_video_ablation.py " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
        evals = [e.strip() for e in args.evals.split(",") if e.strip()]
        for e in evals:
            parse_eval_setting(e)
        variants = [parse_variant(v, RecipeConfig()) for v in (args.variant or ["recipe defaults:"])]
        split = find_kth_videos(args.kth)
    except (ValueError, TypeError, FileNotFoundError) as err:
        raise SystemExit(f"real_video_ablation.py: {err}") from None
    if args.threads < 1 or not seeds or not evals:
        raise SystemExit("real_video_ablation.py: expected --threads >= 1, at least one seed and one --evals setting")
    torch.set_num_threads(args.threads)
    items = split.train + split.val  # development persons only; split.test is never decoded
    load = os.getloadavg()[0]
    print(f"{len(items)} development videos ({len(split.train)} training + {len(split.val)} validation persons' "
          f"videos; {len(split.test)} test videos left unread); torch threads {torch.get_num_threads()}, "
          f"load average {load:.1f}")
    started = time.perf_counter()
    videos = decode_videos([p for p, _ in items], size=variants[0][1].decode_size, progress=not args.no_progress)
    print(f"decoding: {time.perf_counter() - started:.0f} s")
    rows = []
    for name, config in variants:
        if config.decode_size != variants[0][1].decode_size:
            raise SystemExit("real_video_ablation.py: all variants must share decode_size")
        result = cross_validate(items, videos, len(split.classes), config, folds=args.folds, seeds=seeds,
                                evals=evals, progress=not args.no_progress)
        rows.append({"variant": name, "config": asdict(config), **result})
        curve = [sum(c[e] for c in result["curve"]) / len(seeds) for e in range(config.epochs)]
        print(f"{name}: {sum(result['train_seconds']):.0f} s of training for {len(result['train_seconds'])} models; "
              f"mean held-out accuracy per epoch ({config.eval_clips} clips): "
              + " ".join(f"{a:.1%}" for a in curve))
    print()
    print(format_cv_table(rows))
    if args.name:
        path = record_result({"rows": rows}, command=command, name=f"real_video_kth_ablation_{args.name}",
                             extra={"threads": torch.get_num_threads(), "load_before": load,
                                    "load_after": os.getloadavg()[0]})
        print(f"recorded in {path}")
    summary = {r["variant"]: {e: sum(a) / len(a) for e, a in r["accuracy"].items()} for r in rows}
    print("RESULT " + json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
