"""Benchmark: adapting a pretrained video model to new classes — full fine-tuning vs linear probe vs adapters (ch. 11).

Pretrains ``r3d_small`` on MovingShapes classes 0-5 (move right/left, down/up, grow/shrink), then adapts it to the
held-out classes 6-9 (rotate cw/ccw, fade in/out) from a few labelled clips, three ways: fine-tune everything, train
only a new linear head (linear probe), or freeze the backbone and train adapters + head. Prints the trainable share
of the parameters and the test accuracy of each, and saves the table atomically, with this command, to
``course/results/adapter_transfer.json`` (chapter 11 shows it).

Target (issue 11): adapters with <= 5% trainable parameters within 3 points of full fine-tuning and above the probe.

    python benchmarks/adapter_transfer.py
    python benchmarks/adapter_transfer.py --eval-split val --reduction 8 --no-save   # choose settings on validation
    python benchmarks/adapter_transfer.py --train-clips 400 --pretrain-epochs 2 --epochs 2 --no-save   # a quick look
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import time

import torch

from course.timing import limited_threads
from course.train.architectures import moving_shapes_split
from course.train.recorded import save_record
from course.train.transfer import ADAPTER_REDUCTION, format_transfer_table, run_transfer_study


def check_target(record: dict) -> str:
    runs = {r["method"]: r for r in record["runs"]}
    if not {"full", "linear", "adapters"} <= set(runs):
        return "target not checked (needs all three methods)"
    a, f, p = runs["adapters"], runs["full"], runs["linear"]
    ok = a["share"] <= 0.05 and a["test_acc"] >= f["test_acc"] - 0.03 and a["test_acc"] > p["test_acc"]
    return (f"adapters {a['test_acc']:.1%} with {a['share']:.2%} of the parameters trainable; full fine-tuning "
            f"{f['test_acc']:.1%}; linear probe {p['test_acc']:.1%}: target {'met' if ok else 'MISSED'}")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-clips", type=int, default=1200, help="MovingShapes train clips (all 10 classes)")
    parser.add_argument("--test-clips", type=int, default=400)
    parser.add_argument("--pretrain-epochs", type=int, default=6)
    parser.add_argument("--target-clips", type=int, default=200, help="labelled clips of the new classes")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of adaptation")
    parser.add_argument("--reduction", type=int, default=ADAPTER_REDUCTION,
                        help="adapter bottleneck: channels // reduction (default chosen on --eval-split val)")
    parser.add_argument("--eval-split", choices=("test", "val"), default="test",
                        help="measure on MovingShapes' test clips (the recorded table) or its validation clips "
                             "(to choose settings; never choose on test)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--results-dir", default=None)
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    with limited_threads(args.threads):
        train = moving_shapes_split("train", args.train_clips)
        test = moving_shapes_split(args.eval_split, args.test_clips)
        record = run_transfer_study(train, test, pretrain_epochs=args.pretrain_epochs, target_clips=args.target_clips,
                                    epochs=args.epochs, reduction=args.reduction)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    record.update({"command": "python benchmarks/adapter_transfer.py " + " ".join(map(shlex.quote, argv)),
                   "eval_split": args.eval_split, "reduction": args.reduction,
                   "device": f"CPU ({platform.machine()}, {os.cpu_count()} logical cores)", "threads": args.threads,
                   "torch": torch.__version__, "date": datetime.date.today().isoformat(),
                   "total_seconds": time.perf_counter() - start, "load_average": [round(v, 2) for v in load]})
    print(format_transfer_table(record))
    print(f"(accuracies on MovingShapes' {args.eval_split} clips of the target classes; adapter reduction "
          f"{args.reduction})")
    print(check_target(record))
    print(f"whole run {record['total_seconds']:.0f} s on {args.threads} threads; load average at the end {load[0]:.1f}")
    if not args.no_save:
        print(f"saved {save_record(record, 'adapter_transfer', directory=args.results_dir)}")
    return record


if __name__ == "__main__":
    main()
