"""Benchmark: does self-supervised pretraining pay when labels are few? (chapter 18)

Pretrains the chapter's small 3D CNN encoder on unlabelled MovingShapes clips (a different random stream from the
labelled clips) with each pretext task — clip order, arrow of time — and, when ``course.selfsup.masked`` is there,
VideoMAE in miniature; then trains the 10-class MovingShapes classifier (chapter 06's task) from scratch or from each
pretrained encoder, as a linear probe and fine-tuned, on 1%, 10% and 100% of the training labels, same epochs, over
several seeds. Learning rates are chosen per (encoder, mode) on the validation clips at 10% of the labels (seed 0);
the best pretext is the one with the best mean *validation* accuracy fine-tuned at 10%. Test accuracy is reported,
never used to choose. Saves the runs atomically, with this command, to ``course/results/self_supervised.json``.

Target (issue 21): at 10% labels, the best pretrained encoder fine-tuned >= 5 points above scratch (mean over seeds);
the whole run <= 10 min on 2 cores.

    python benchmarks/self_supervised.py
    python benchmarks/self_supervised.py --report val --no-save                  # choose settings on validation
    python benchmarks/self_supervised.py --pretexts order --fractions 0.1 --seeds 0 --no-save   # a quick look
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

import numpy as np
import torch

from course.data import MovingShapes
from course.selfsup.fewlabel import (MODES, FewLabelData, choose_lr, few_label_runs, format_few_label_table,
                                     summarize_few_label)
from course.selfsup.pretext import (ArrowOfTime, ClipOrder, pretext_accuracy, pretext_encoder, pretrain,
                                    unlabelled_clips)
from course.timing import limited_threads
from course.train.recorded import save_record

PRETEXTS = ("order", "arrow", "mae")
_TASKS = {"order": ClipOrder, "arrow": ArrowOfTime}


def pretrain_encoders(pool: torch.Tensor, val_clips: torch.Tensor, pretexts, *, epochs: int, mae_epochs: int,
                      widths) -> tuple[dict, dict]:
    """Pretrain one encoder per pretext on the unlabelled ``pool`` (N, C, T, H, W).

    Returns ``({name: encoder}, {name: {"pretext_val_acc" or "mae_val_loss", "seconds"}})``."""
    encoders, info = {}, {}
    for name in pretexts:
        started = time.perf_counter()
        if name == "mae":
            try:
                from course.selfsup.masked import pretrain_mae
            except ImportError:
                print("course.selfsup.masked is not there: no MAE encoder")
                continue
            encoders[name] = pretrain_mae(pool, epochs=mae_epochs, seed=0)
            info[name] = {"seconds": time.perf_counter() - started}
        else:
            torch.manual_seed(0)
            encoder = pretext_encoder(widths)
            model, loss = pretrain(encoder, _TASKS[name](pool, seed=0), epochs=epochs)
            acc = pretext_accuracy(model, _TASKS[name](val_clips, seed=1))
            encoders[name] = encoder
            info[name] = {"pretext_val_acc": acc, "train_loss": [round(v, 4) for v in loss],
                          "seconds": time.perf_counter() - started}
            print(f"pretext {name}: accuracy on the validation clips {acc:.1%} "
                  f"({info[name]['seconds']:.0f} s)")
    return encoders, info


def _mean(rows, encoder, mode, fraction, key="mean"):
    for r in rows:
        if r["encoder"] == encoder and r["mode"] == mode and abs(r["fraction"] - fraction) < 1e-9:
            return r[key]
    return None


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-clips", type=int, default=500, help="labelled MovingShapes training clips (= 100%%)")
    parser.add_argument("--val-clips", type=int, default=300)
    parser.add_argument("--test-clips", type=int, default=300)
    parser.add_argument("--pool-clips", type=int, default=1000, help="unlabelled clips for pretraining")
    parser.add_argument("--frames", type=int, default=12)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32], help="the 3D CNN encoder's widths")
    parser.add_argument("--pretexts", nargs="+", choices=PRETEXTS, default=list(PRETEXTS))
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--mae-epochs", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=15, help="epochs of every few-label run")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.01, 0.1, 1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lrs-finetune", type=float, nargs="+", default=[1e-3, 3e-3])
    parser.add_argument("--lrs-probe", type=float, nargs="+", default=[1e-2, 3e-2, 1e-1])
    parser.add_argument("--report", choices=("test", "val"), default="test",
                        help="the accuracies to print: 'val' while choosing settings (then nothing is saved), "
                             "'test' for the recorded table")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--results-dir", default=None)
    parser.add_argument("--name", default="self_supervised")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    widths = tuple(args.widths)
    with limited_threads(args.threads):
        shapes = {split: MovingShapes(split, num_clips=n, num_frames=args.frames, size=args.size)
                  for split, n in (("train", args.train_clips), ("val", args.val_clips), ("test", args.test_clips))}
        data = FewLabelData.from_datasets(shapes["train"], shapes["val"], shapes["test"])
        pool = unlabelled_clips(args.pool_clips, num_frames=args.frames, size=args.size, seed=1)
        encoders, pretext_info = pretrain_encoders(pool, data.x_val, args.pretexts, epochs=args.pretrain_epochs,
                                                   mae_epochs=args.mae_epochs, widths=widths)
        encoders = {"scratch": lambda: pretext_encoder(widths), **encoders}
        lrs, lr_scores = {}, {}
        for name, encoder in encoders.items():
            for mode in MODES:
                grid = args.lrs_finetune if mode == "finetune" else args.lrs_probe
                lrs[(name, mode)], scores = choose_lr(encoder, data, mode=mode, lrs=grid, fraction=0.1,
                                                      epochs=args.epochs)
                lr_scores[f"{name}/{mode}"] = scores
        print("learning rates chosen on validation:", {f"{n}/{m}": lr for (n, m), lr in lrs.items()})
        runs = few_label_runs(encoders, data, fractions=args.fractions, seeds=args.seeds, epochs=args.epochs,
                              lrs=lrs)
    test_rows = summarize_few_label(runs, "test_acc" if args.report == "test" else "val_acc")
    val_rows = summarize_few_label(runs, "val_acc")
    pretrained = [n for n in encoders if n != "scratch"]
    best = max(pretrained, key=lambda n: _mean(val_rows, n, "finetune", 0.1) or -1.0) if pretrained else None
    scratch_acc = _mean(test_rows, "scratch", "finetune", 0.1)
    best_acc = _mean(test_rows, best, "finetune", 0.1) if best else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    seconds = time.perf_counter() - start
    record = {"runs": runs, "summary_test": test_rows, "summary_val": val_rows,
              "pretext": pretext_info, "learning_rates": {f"{n}/{m}": lr for (n, m), lr in lrs.items()},
              "learning_rate_val_acc": lr_scores, "best_pretext": best,
              "settings": {k: v for k, v in vars(args).items() if k not in ("no_save", "results_dir", "name")},
              "command": "python benchmarks/self_supervised.py " + " ".join(map(shlex.quote, argv)),
              "device": f"CPU ({platform.machine()}, {os.cpu_count()} logical cores)", "threads": args.threads,
              "torch": torch.__version__, "date": datetime.date.today().isoformat(),
              "total_seconds": seconds, "load_average": [round(v, 2) for v in load]}
    print(f"{args.report} accuracy, mean +- std over seeds", args.seeds)
    print(format_few_label_table(test_rows))
    if scratch_acc is not None and best_acc is not None:
        gain = 100 * (best_acc - scratch_acc)
        print(f"at 10% of the labels, fine-tuned: scratch {scratch_acc:.1%}, best pretext ({best}, chosen on "
              f"validation) {best_acc:.1%}: {gain:+.1f} points, target (>= +5) {'met' if gain >= 5 else 'MISSED'}")
    print(f"whole run {seconds:.0f} s on {args.threads} threads; load average at the end {load[0]:.1f}")
    if not args.no_save and args.report == "test":
        print(f"saved {save_record(record, args.name, directory=args.results_dir)}")
    result = {"labels_fraction": 0.1, "scratch_acc": scratch_acc, "pretrained_acc": best_acc, "pretext": best,
              "mode": "finetune", "seeds": list(args.seeds), "seconds": round(seconds, 1),
              "scratch_std": _mean(test_rows, "scratch", "finetune", 0.1, "std"),
              "pretrained_std": _mean(test_rows, best, "finetune", 0.1, "std") if best else None}
    print("RESULT " + json.dumps(result))
    return record


if __name__ == "__main__":
    main()
