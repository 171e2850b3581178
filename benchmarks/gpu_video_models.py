"""GPU run: the paper-size C3D and a ResNet-18 CNN-LSTM on MovingShapes at 16 x 112 x 112, in float32 and with AMP.

For each model and precision it trains from scratch with ``course.train.fit`` and measures training throughput
(clips/s over the whole run), inference throughput, wall time, peak GPU memory, test accuracy and within-pair accuracy
(telling a class from its time-reversed twin), then saves them, with the device and this command, to
``course/results/gpu_video_models.json`` — the record chapters 08 and 09 display (``course.train.recorded_runs``).

The clips are rendered once, stored on the device as uint8 and turned into float per batch, so the numbers measure
the models, not the data loader (chapter 13 is about loaders).

    python benchmarks/gpu_video_models.py                       # the full run (needs a GPU)
    python benchmarks/gpu_video_models.py --smoke --no-save     # a seconds-long check of the script itself on a CPU

Run it from the repository root with the course installed (``pip install -e .``), or with ``PYTHONPATH=.`` where it
is not; it needs torch, torchvision, numpy and tqdm, not PyAV or the notebook packages.
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
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from course.config import seed_everything
from course.data import MovingShapes
from course.models import C3D, CNNLSTM, c3d_small, count_parameters
from course.train import evaluate, fit
from course.train.recorded import format_runs_table, save_record
from course.viz.frames_vs_time import within_pair_accuracy

#: name -> (builder(size), epochs, peak learning rate, gradient-norm clip). Full size: the paper's C3D (no batch norm)
#: and a CNN-LSTM on torchvision's ResNet-18 trunk. --smoke swaps in the CPU models at 32 x 32.
RECIPES = {
    "c3d": (lambda smoke: c3d_small(10) if smoke else C3D(num_classes=10, dropout=0.5), 8, 1e-4, None),
    "cnn_lstm": (lambda smoke: CNNLSTM(10) if smoke else CNNLSTM(10, encoder="resnet18", hidden_size=256),
                 8, 1e-3, 1.0),
}


class DeviceClips(Dataset):
    """Rendered clips kept on one device as uint8; indexed by a *list* of indices it returns a whole float batch.

    clips (N, 3, T, H, W) uint8, labels (N,) int64 -> ``dataset[[i, j, ...]]`` = (float (B, 3, T, H, W) in [0, 1], (B,)).
    """

    def __init__(self, clips: torch.Tensor, labels: torch.Tensor):
        self.clips, self.labels = clips, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, indices):
        index = torch.as_tensor(indices, device=self.clips.device)
        return self.clips[index].float().div_(255), self.labels[index]


def render(split: str, num_clips: int, size: int, device: torch.device) -> DeviceClips:
    """A MovingShapes split rendered in parallel worker processes, stored on ``device`` as uint8."""
    ds = MovingShapes(split, num_clips=num_clips, size=size, seed=0)
    workers = min(16, os.cpu_count() or 1) if num_clips >= 64 else 0
    chunks, labels = [], []
    for clips, y in DataLoader(ds, batch_size=32, num_workers=workers):
        chunks.append(clips.mul(255).round_().to(torch.uint8))
        labels.append(y)
    return DeviceClips(torch.cat(chunks).to(device), torch.cat(labels).to(device))


def batches(data: DeviceClips, batch_size: int, *, shuffle: bool, seed: int = 0) -> DataLoader:
    """Whole batches gathered on the device in one indexing call each (no per-clip collation)."""
    sampler = (RandomSampler(data, generator=torch.Generator().manual_seed(seed)) if shuffle
               else SequentialSampler(data))
    return DataLoader(data, sampler=BatchSampler(sampler, batch_size, drop_last=False), batch_size=None)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_one(name: str, precision: str, train: DeviceClips, test: DeviceClips, *, device: torch.device,
              smoke: bool, epochs: int | None, batch_size: int) -> dict:
    builder, default_epochs, lr, clip = RECIPES[name]
    epochs = default_epochs if epochs is None else epochs
    seed_everything(0)
    model = builder(smoke)
    loader = batches(train, batch_size, shuffle=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    synchronize(device)
    start = time.perf_counter()
    history = fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch",
                  device=device, amp=(precision == "amp"), max_grad_norm=clip, progress=False)
    synchronize(device)
    train_seconds = time.perf_counter() - start
    test_loader = batches(test, 2 * batch_size, shuffle=False)
    evaluate(model, test_loader)                                   # warm-up (cuDNN autotuning, allocations)
    synchronize(device)
    start = time.perf_counter()
    preds, labels = evaluate(model, test_loader)
    synchronize(device)
    infer_seconds = time.perf_counter() - start
    return {
        "model": name if not smoke else f"{name} (smoke)",
        "input": "x".join(str(s) for s in train.clips.shape[1:]),
        "precision": "float32" if precision == "fp32" else "AMP (" + ("bfloat16" if device.type != "cuda" or
                                                                    torch.cuda.is_bf16_supported() else "float16") + ")",
        "parameters": count_parameters(model), "epochs": epochs, "batch_size": batch_size,
        "train_clips": len(train), "test_clips": len(test),
        "first_loss": history["train_loss"][0], "last_loss": history["train_loss"][-1],
        "train_seconds": train_seconds, "train_clips_per_s": epochs * len(train) / train_seconds,
        "infer_clips_per_s": len(test) / infer_seconds,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "test_acc": float((preds == labels).mean()),
        "within_pair_acc": within_pair_accuracy(preds, labels, MovingShapes.pairs),
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=sorted(RECIPES), default=list(RECIPES))
    parser.add_argument("--precisions", nargs="+", choices=("fp32", "amp"), default=None,
                        help="default: fp32 and amp on a GPU, fp32 on a CPU (bfloat16 autocast on the CPU is not what "
                             "this script measures, and with torch 2.14.1 it gave NaN gradients in about one "
                             "c3d --smoke run in three)")
    parser.add_argument("--train-clips", type=int, default=3000)
    parser.add_argument("--test-clips", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=None, help="override every recipe's epochs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    parser.add_argument("--smoke", action="store_true", help="CPU models at 32 x 32, a few clips: checks the script")
    parser.add_argument("--no-save", action="store_true", help="print only; do not write course/results/")
    parser.add_argument("--results-dir", default=None, help="where to save the record (default course/results)")
    args = parser.parse_args(argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type != "cuda" and not args.smoke:
        parser.error("the full-size run needs a GPU (pass --smoke to check the script on a CPU)")
    if args.smoke:
        args.train_clips, args.test_clips = min(args.train_clips, 40), min(args.test_clips, 20)
        args.epochs = args.epochs or 1
    size = 32 if args.smoke else 112
    args.precisions = args.precisions or (["fp32", "amp"] if device.type == "cuda" else ["fp32"])

    start = time.perf_counter()
    train, test = (render(split, n, size, device) for split, n in (("train", args.train_clips),
                                                                   ("test", args.test_clips)))
    print(f"MovingShapes at 3x16x{size}x{size}: {len(train)} train / {len(test)} test clips rendered in "
          f"{time.perf_counter() - start:.1f} s, stored on {device} as uint8", flush=True)
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.machine()})"
    record = {
        "command": "python benchmarks/gpu_video_models.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "device": device_name, "torch": torch.__version__,
        "date": datetime.date.today().isoformat(), "runs": [],
    }
    for name in args.models:
        for precision in args.precisions:
            run = train_one(name, precision, train, test, device=device, smoke=args.smoke, epochs=args.epochs,
                            batch_size=args.batch_size)
            record["runs"].append(run)
            print(f"{run['model']} {run['precision']}: {run['train_clips_per_s']:.0f} train clips/s, "
                  f"test acc {run['test_acc']:.1%}, within-pair {run['within_pair_acc']:.1%}", flush=True)
    print()
    print(format_runs_table(record))
    if not args.no_save:
        path = save_record(record, "gpu_video_models", directory=args.results_dir)
        print(f"\nsaved {path}")
    return record


if __name__ == "__main__":
    main()
