"""Benchmark: ConvLSTM next-frame prediction on moving digits against the copy-last-frame and mean-frame baselines.

The encoder-forecaster of chapter 17 (:class:`course.models.ConvLSTMForecaster`, Shi et al. 2015) sees 10 frames of
2 digits bouncing in 32x32 frames (:class:`course.data.MovingDigits`, made offline from scikit-learn's digits) and
predicts the next 10, fed back its own predictions. It is trained with MSE (Adam) on the train split and measured on
the test split, whose digit images it has never seen. The baselines learn nothing: copy the last frame seen, and
the mean of the frames seen.

Target (issue 20): the model's mean MSE over the 10 predicted frames <= 0.7 x the copy-last-frame baseline's; the
script <= 10 min on 2 cores (it uses one torch thread by default: on a shared 2-core machine two threads were several
times slower per batch than one). The record goes to ``course/results/video_prediction.json`` (chapter 17 shows it); the
last line of the output is ``RESULT {json}``.

    python benchmarks/video_prediction.py                         # the recorded run (1 thread)
    python benchmarks/video_prediction.py --quick --no-save       # a small version in well under a minute
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

from course.data import MovingDigits
from course.models import ConvLSTMForecaster, count_parameters
from course.train.prediction import horizon_curves, predict_frames, prediction_tensors, train_forecaster
from course.train.recorded import save_record

RECORD = "video_prediction"
FULL = {"train_clips": 800, "test_clips": 300, "epochs": 5, "hidden": [32, 32]}
QUICK = {"train_clips": 64, "test_clips": 32, "epochs": 1, "hidden": [8]}
TARGET_RATIO = 0.7


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run (not the recorded one)")
    parser.add_argument("--train-clips", type=int)
    parser.add_argument("--test-clips", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--hidden", type=int, nargs="+", help="hidden channels of each ConvLSTM layer")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: these small convolutions gain little from more threads "
                             "and lose much on a busy machine)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-save", action="store_true", help="do not write course/results/video_prediction.json")
    parser.add_argument("--results-dir", help="write the record here instead of course/results/")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for key in ("train_clips", "test_clips", "epochs", "hidden"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    for key in ("train_clips", "test_clips", "epochs", "threads"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')}: expected a positive int, got {getattr(args, key)}")
    if any(h < 1 for h in args.hidden):
        parser.error(f"--hidden: expected positive ints, got {args.hidden}")
    if args.seed < 0:
        parser.error(f"--seed: expected a non-negative int, got {args.seed}")
    return args


def main(argv=None) -> dict:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    started = time.perf_counter()
    cpu_started = time.process_time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data = {split: prediction_tensors(MovingDigits(split, num_clips=n, num_frames=20, num_input=10, size=32,
                                                   num_digits=2, mode="predict"))
            for split, n in (("train", args.train_clips), ("test", args.test_clips))}
    model = ConvLSTMForecaster(1, tuple(args.hidden))
    history = train_forecaster(model, *data["train"], epochs=args.epochs, loss="mse", seed=args.seed,
                               progress=not args.no_progress, desc="ConvLSTM")
    past, future = data["test"]
    horizon = future.shape[2]
    curves = horizon_curves(past, future, {"ConvLSTM": predict_frames(model, past, horizon)})
    seconds = time.perf_counter() - started
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    run = {"model": "ConvLSTMForecaster", "hidden": list(args.hidden), "parameters": count_parameters(model),
           "train_clips": args.train_clips, "test_clips": args.test_clips, "epochs": args.epochs,
           "input": "1x10x32x32 -> 1x10x32x32 (2 digits)", "train_loss": [round(v, 5) for v in history],
           "per_step_mse": {name: [round(float(v), 5) for v in curve] for name, curve in curves.items()}}
    result = {"model_mse": round(float(curves["ConvLSTM"].mean()), 5),
              "copy_last_mse": round(float(curves["copy last frame"].mean()), 5),
              "mean_frame_mse": round(float(curves["mean frame"].mean()), 5),
              "horizon": int(horizon), "seconds": round(seconds, 1)}
    result["ratio_to_copy_last"] = round(result["model_mse"] / result["copy_last_mse"], 3)
    result["target_met"] = bool(result["ratio_to_copy_last"] <= TARGET_RATIO)
    record = {"command": "python benchmarks/video_prediction.py " + " ".join(map(shlex.quote, argv)),
              "device": f"CPU ({platform.machine()}, {os.cpu_count()} logical cores)", "threads": args.threads,
              "torch": torch.__version__, "date": datetime.date.today().isoformat(),
              "load_average_at_end": [round(v, 2) for v in load], "seconds": round(seconds, 1),
              "cpu_seconds": round(time.process_time() - cpu_started, 1), "result": result, "runs": [run]}
    print(f"{'predicted step':>16} " + " ".join(f"{k:>6}" for k in range(1, horizon + 1)))
    for name, curve in curves.items():
        print(f"{name:>16} " + " ".join(f"{v:6.4f}" for v in curve))
    print(f"\nmean MSE over {horizon} steps: ConvLSTM {result['model_mse']:.4f}, copy last frame "
          f"{result['copy_last_mse']:.4f}, mean frame {result['mean_frame_mse']:.4f}; ratio to copy-last "
          f"{result['ratio_to_copy_last']:.3f} "
          f"(target <= {TARGET_RATIO}: {'met' if result['target_met'] else 'MISSED'})")
    print(f"{seconds:.0f} s wall, {record['cpu_seconds']:.0f} s CPU, {args.threads} threads, load average at the end "
          f"{load[0]:.2f}")
    if not args.no_save and (not args.quick or args.results_dir):
        print(f"saved {save_record(record, RECORD, directory=args.results_dir)}")
    print("RESULT " + json.dumps(result))
    return record


if __name__ == "__main__":
    main()
