"""Benchmark: chapter 17's small video GAN against its floor and ceiling, on a CPU.

Trains the judge (``r3d_small`` telling the four motions of ``course.train.gan.MOTION_CLASSES`` apart on real clips)
and the default ``VideoGenerator`` / ``VideoDiscriminator`` pair on moving-shape clips (3 x 16 x 16 x 16), then
measures three sets of clips against real training clips: the untrained generator (the floor), the trained generator,
and real held-out clips (the ceiling) — the Frechet distance in the judge's feature space, the judge's confidence and
the share of each predicted motion. The Frechet distance is a miniature of FVD (I3D features on Kinetics, Unterthiner
et al., 2018): comparable only with the other numbers of this record.

Target (issue 20): the trained GAN's Frechet distance closer to the ceiling than to the floor; <= 10 min on 2 cores.
The record is saved atomically, with this command, to ``course/results/video_gan.json``; the last line printed is
``RESULT {json}`` with ``fd_generated``, ``fd_untrained``, ``fd_real``, ``seconds`` and more.

    python benchmarks/video_gan.py                     # the recorded run
    python benchmarks/video_gan.py --quick --no-save   # a small version in about a minute
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import sys
import time

import torch

from course.train.gan import video_gan_experiment
from course.train.recorded import save_record

RECORD = "video_gan"
FULL = {"train_clips": 2000, "test_clips": 1000, "steps": 3000, "classifier_epochs": 2}
QUICK = {"train_clips": 400, "test_clips": 200, "steps": 150, "classifier_epochs": 1}


def check_target(record: dict) -> str:
    """The issue's target, met or missed, with the numbers."""
    gen, floor, ceiling = record["fd_generated"], record["fd_untrained"], record["fd_real"]
    met = abs(gen - ceiling) < abs(gen - floor)
    return (f"Frechet distance: trained {gen:.2f}, untrained (floor) {floor:.2f}, real held-out (ceiling) "
            f"{ceiling:.2f}; closer to the ceiling than to the floor: {'met' if met else 'MISSED'}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help=f"GAN training steps (default {FULL['steps']}, "
                        f"--quick {QUICK['steps']})")
    parser.add_argument("--train-clips", type=int, default=None)
    parser.add_argument("--test-clips", type=int, default=None)
    parser.add_argument("--classifier-epochs", type=int, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help=f"a small version: {QUICK}")
    parser.add_argument("--no-save", action="store_true", help="print only; do not write course/results/ (--quick "
                        "saves only with --results-dir, so it never replaces the recorded run)")
    parser.add_argument("--results-dir", default=None, help="where to save the record (default course/results)")
    parser.add_argument("--no-progress", action="store_true")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL
    for key in defaults:
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')}: expected a positive int, got {getattr(args, key)}")
    if args.threads < 1 or args.seed < 0:
        parser.error("--threads must be >= 1 and --seed >= 0")
    if args.test_clips > args.train_clips:
        parser.error("--test-clips: at most --train-clips (the reference set is that many training clips)")
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result = video_gan_experiment(train_clips=args.train_clips, test_clips=args.test_clips, steps=args.steps,
                                  classifier_epochs=args.classifier_epochs, seed=args.seed,
                                  progress=not args.no_progress)
    result.pop("generator")
    result["seconds"] = time.perf_counter() - start
    record = {"command": "python benchmarks/video_gan.py " + " ".join(map(shlex.quote, argv)),
              "device": f"CPU ({platform.processor() or platform.machine()}), {args.threads} threads",
              "date": datetime.date.today().isoformat(), "torch": torch.__version__,
              "load_average": list(os.getloadavg()), **result}
    print(f"the judge's accuracy on held-out real clips: {record['judge_accuracy']:.1%}")
    for run in record["runs"]:
        print(f"  {run['name']:22s} Frechet distance {run['frechet_distance']:9.2f}   confidence "
              f"{run['confidence']:.2f}   predicted share {[round(s, 2) for s in run['predicted_share']]}")
    print(check_target(record))
    print(f"whole run {record['seconds']:.0f} s on {args.threads} threads (target <= 600 s on 2 cores; load average "
          f"at the end {record['load_average'][0]:.1f})")
    if not args.no_save and (not args.quick or args.results_dir):
        print(f"saved {save_record(record, RECORD, directory=args.results_dir)}")
    keys = ("fd_generated", "fd_untrained", "fd_real", "judge_accuracy", "steps", "seconds")
    print("RESULT " + json.dumps({k: record[k] for k in keys}))
    return record


if __name__ == "__main__":
    main()
