"""Benchmark: does a model need time? Frame baseline vs small C3D vs CNN-LSTM on MovingShapes, from scratch, on CPU.

Trains each model with ``course.train.fit`` on the same MovingShapes clips (2 CPU threads) and prints test accuracy,
within-pair accuracy (telling a class from its time-reversed twin) and training wall time. Targets (issue 5):
frame-only <= 60%, small C3D >= 95% within 60 s of training, CNN-LSTM >= 90%.

    python benchmarks/temporal_task.py                 # the three models of the issue
    python benchmarks/temporal_task.py --all           # also late, early and slow fusion
    python benchmarks/temporal_task.py --models c3d_small
    python benchmarks/temporal_task.py --train-clips 3000 --threads 2

Wall times depend on the machine and on what else runs on it: the script prints the load average next to them.
"""
from __future__ import annotations

import argparse
import os
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from course.config import seed_everything
from course.data import MovingShapes, tensor_dataset
from course.models import CNNLSTM, EarlyFusion, LateFusion, SingleFrameCNN, SlowFusion, c3d_small, count_parameters
from course.train import evaluate, fit
from course.viz.frames_vs_time import within_pair_accuracy

#: name -> (builder, epochs, peak learning rate). The recipes train_checkpoints.py also uses.
RECIPES = {
    "single_frame": (lambda: SingleFrameCNN(10, frame="random"), 8, 3e-3),
    "late_fusion": (lambda: LateFusion(10), 8, 3e-3),
    "early_fusion": (lambda: EarlyFusion(10, num_frames=16), 10, 3e-3),
    "slow_fusion": (lambda: SlowFusion(10), 10, 3e-3),
    "c3d_small": (lambda: c3d_small(10), 7, 3e-3),
    "cnn_lstm": (lambda: CNNLSTM(10), 8, 3e-3),
}
TARGETS = {"single_frame": "<= 60%", "c3d_small": ">= 95% in <= 60 s", "cnn_lstm": ">= 90%"}


def render_split(split: str, num_clips: int, seed: int = 0) -> TensorDataset:
    """All clips of a MovingShapes split as one TensorDataset: clips (N, 3, 16, 32, 32), labels (N,)."""
    return tensor_dataset(MovingShapes(split, num_clips=num_clips, seed=seed))


def train_recipe(name: str, train: TensorDataset, test: TensorDataset, *, batch_size: int = 32, seed: int = 0,
                 epochs: int | None = None, progress: bool = False):
    """Train recipe ``name`` from scratch; returns (model, result dict with accuracies and timings)."""
    builder, default_epochs, lr = RECIPES[name]
    epochs = default_epochs if epochs is None else epochs
    seed_everything(seed)
    model = builder()
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    start = time.perf_counter()
    history = fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch",
                  device="cpu", progress=progress)
    train_seconds = time.perf_counter() - start
    preds, labels = evaluate(model, DataLoader(test, batch_size=100))
    return model, {
        "model": name, "parameters": count_parameters(model), "epochs": epochs,
        "first_loss": history["train_loss"][0], "last_loss": history["train_loss"][-1],
        "test_acc": float((preds == labels).mean()),
        "within_pair_acc": within_pair_accuracy(preds, labels, MovingShapes.pairs),
        "train_seconds": train_seconds,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train-clips", type=int, default=1500)
    parser.add_argument("--test-clips", type=int, default=400)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--all", action="store_true", help="also late, early and slow fusion")
    parser.add_argument("--models", nargs="*", choices=sorted(RECIPES), default=None, help="only these recipes")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    train, test = render_split("train", args.train_clips), render_split("test", args.test_clips)
    print(f"MovingShapes: {args.train_clips} train / {args.test_clips} test clips of 3x16x32x32, 10 classes in 5 "
          f"time-reversed pairs; generated in {time.perf_counter() - start:.1f} s; torch threads: {args.threads}")
    names = args.models or (list(RECIPES) if args.all else ["single_frame", "c3d_small", "cnn_lstm"])
    header = f"{'model':<14} {'params':>9} {'epochs':>6} {'test acc':>9} {'within-pair':>11} {'train s':>8}  target"
    print(header + "\n" + "-" * len(header))
    for name in names:
        _, r = train_recipe(name, train, test)
        print(f"{name:<14} {r['parameters']:>9,} {r['epochs']:>6} {r['test_acc']:>9.1%} {r['within_pair_acc']:>11.1%} "
              f"{r['train_seconds']:>8.1f}  {TARGETS.get(name, '')}", flush=True)
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"load average (1, 5, 15 min) at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} CPUs — wall times grow when other processes share the CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
