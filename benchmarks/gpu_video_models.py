"""GPU run: the paper-size C3D and a ResNet-18 CNN-LSTM on MovingShapes at 16 x 112 x 112, in float32 and with AMP.

For each model and precision it trains from scratch with ``course.train.fit`` and measures training throughput
(clips/s over the whole run), inference throughput, wall time, peak GPU memory, test accuracy and within-pair accuracy
(telling a class from its time-reversed twin), then saves them, with the device and this command, to
``course/results/gpu_video_models.json`` — the record chapters 08 and 09 display (``course.train.recorded_runs``).

The clips are rendered once, stored on the device as uint8 and turned into float per batch, so the numbers measure
the models, not the data loader (chapter 13 is about loaders).

Then (chapter 16) it measures training *speed* variants of the same two models for a fixed number of steps:
float32, AMP, AMP + ``channels_last_3d`` and AMP + ``channels_last_3d`` + ``torch.compile`` — clips per second, peak
memory, compile time — with the clips fed by a real ``DataLoader`` from host memory (``--workers`` processes,
pinned memory, non-blocking copies). The device is synchronised after every step, so the time spent waiting for the
next batch is the time the GPU sat idle for lack of data (``data_wait_fraction``: a utilisation proxy). These rows go
to the same record under ``"variants"`` (chapter 16 displays them).

    python benchmarks/gpu_video_models.py                       # the full run (needs a GPU): training + variants
    python benchmarks/gpu_video_models.py --variants-only       # only the chapter-16 variants (keeps the training rows)
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
from course.train.recorded import format_runs_table, recorded_runs, save_record
from course.viz.frames_vs_time import within_pair_accuracy

#: name -> (builder(size), epochs, peak learning rate, gradient-norm clip). Full size: the paper's C3D (no batch norm)
#: and a CNN-LSTM on torchvision's ResNet-18 trunk. --smoke swaps in the CPU models at 32 x 32.
RECIPES = {
    "c3d": (lambda smoke: c3d_small(10) if smoke else C3D(num_classes=10, dropout=0.5), 8, 1e-4, None),
    "cnn_lstm": (lambda smoke: CNNLSTM(10) if smoke else CNNLSTM(10, encoder="resnet18", hidden_size=256),
                 8, 1e-3, 1.0),
}


#: Columns of the variants table (chapter 16).
VARIANT_COLUMNS = (
    ("model", "model", "{}"), ("variant", "variant", "{}"), ("input", "input (C,T,H,W)", "{}"),
    ("train_clips_per_s", "train clips/s", "{:.0f}"), ("peak_memory_gib", "peak GiB", "{:.2f}"),
    ("data_wait_fraction", "waiting for data", "{:.0%}"), ("compile_seconds", "compile s", "{:.0f}"),
    ("error", "error", "{}"),
)


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


#: The chapter-16 speed variants: name -> (autocast, channels last, torch.compile).
VARIANTS = {
    "fp32": (False, False, False),
    "amp": (True, False, False),
    "amp+channels_last_3d": (True, True, False),
    "amp+channels_last_3d+compile": (True, True, True),
}


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Store every 5-D weight (Conv3d) as ``channels_last_3d`` and every 4-D weight (Conv2d, e.g. the CNN-LSTM's frame
    encoder) as ``channels_last``, in place; returns the model."""
    for param in model.parameters():
        if param.dim() == 5:
            param.data = param.data.contiguous(memory_format=torch.channels_last_3d)
        elif param.dim() == 4:
            param.data = param.data.contiguous(memory_format=torch.channels_last)
    return model


def wait_fraction(wait_seconds: float, total_seconds: float) -> float:
    """The share of the timed steps spent waiting for the next batch (0 = never waited, 1 = only waited)."""
    if not (0 <= wait_seconds <= total_seconds and total_seconds > 0):
        raise ValueError(f"wait_fraction: expected 0 <= wait ({wait_seconds}) <= total ({total_seconds}), total > 0")
    return wait_seconds / total_seconds


def measure_variant(name: str, variant: str, clips: torch.Tensor, labels: torch.Tensor, *, device: torch.device,
                    smoke: bool, steps: int, warmup: int, batch_size: int, workers: int) -> dict:
    """Train ``name`` for ``warmup`` + ``steps`` steps in ``variant`` on host uint8 clips (N, 3, T, H, W) fed by a
    DataLoader; time the last ``steps``. Returns one row of the record's ``"variants"``."""
    from course.train.precision import choose_precision

    amp, channels_last, compiled = VARIANTS[variant]
    seed_everything(0)
    model = RECIPES[name][0](smoke).to(device)
    if channels_last:
        to_channels_last(model)
    precision = choose_precision(device, amp)
    scaler = precision.make_scaler()
    optimizer = torch.optim.AdamW(model.parameters(), lr=RECIPES[name][2])
    runner = torch.compile(model) if compiled else model
    loader = DataLoader(torch.utils.data.TensorDataset(clips, labels), batch_size=batch_size, shuffle=True,
                        drop_last=True, num_workers=workers, pin_memory=device.type == "cuda",
                        persistent_workers=workers > 0, generator=torch.Generator().manual_seed(0))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    def batches():
        while True:
            yield from loader

    source = batches()
    step_times, waits = [], []
    for _ in range(warmup + steps):
        started = time.perf_counter()
        x, y = next(source)
        got_batch = time.perf_counter()
        x = x.to(device, non_blocking=True).float().div_(255)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        y = y.to(device, non_blocking=True)
        with precision.autocast():
            loss = torch.nn.functional.cross_entropy(runner(x), y)
        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()
        synchronize(device)  # so that waiting for data below is GPU idle time, not overlap
        step_times.append(time.perf_counter() - started)
        waits.append(got_batch - started)
    timed = sum(step_times[warmup:])
    steady = sorted(step_times[warmup:])[len(step_times[warmup:]) // 2]
    del loader, source
    return {
        "model": name if not smoke else f"{name} (smoke)", "variant": variant,
        "precision": precision.describe(), "input": "x".join(str(s) for s in clips.shape[1:]),
        "batch_size": batch_size, "steps": steps, "workers": workers,
        "train_clips_per_s": steps * batch_size / timed,
        "first_step_s": step_times[0], "compile_seconds": step_times[0] - steady if compiled else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "data_wait_fraction": wait_fraction(sum(waits[warmup:]), timed),
        "last_loss": float(loss.detach()),
    }


def host_clips(num_clips: int, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """MovingShapes training clips rendered on the host as uint8 (N, 3, 16, size, size) and their labels (N,)."""
    data = render("train", num_clips, size, torch.device("cpu"))
    return data.clips, data.labels


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
    parser.add_argument("--no-variants", action="store_true", help="skip the chapter-16 speed variants")
    parser.add_argument("--variants-only", action="store_true",
                        help="only the speed variants; the record's training rows are kept")
    parser.add_argument("--variant-names", nargs="+", choices=list(VARIANTS), default=None,
                        help="default: all four on a GPU; without torch.compile on a CPU (it compiles for minutes)")
    parser.add_argument("--variant-steps", type=int, default=30, help="timed steps per variant (default 30)")
    parser.add_argument("--variant-clips", type=int, default=512, help="host clips the loader draws from")
    parser.add_argument("--workers", type=int, default=4, help="DataLoader workers for the variants (default 4)")
    args = parser.parse_args(argv)
    if args.no_variants and args.variants_only:
        parser.error("--no-variants and --variants-only exclude each other")
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type != "cuda" and not args.smoke:
        parser.error("the full-size run needs a GPU (pass --smoke to check the script on a CPU)")
    if args.smoke:
        args.train_clips, args.test_clips = min(args.train_clips, 40), min(args.test_clips, 20)
        args.epochs = args.epochs or 1
    size = 32 if args.smoke else 112
    args.precisions = args.precisions or (["fp32", "amp"] if device.type == "cuda" else ["fp32"])

    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({platform.machine()})"
    record = {
        "command": "python benchmarks/gpu_video_models.py " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "device": device_name, "torch": torch.__version__,
        "date": datetime.date.today().isoformat(), "runs": [],
    }
    if args.variants_only:
        previous = recorded_runs("gpu_video_models", directory=args.results_dir) or {}
        record["runs"] = previous.get("runs", [])
        for key in ("command", "device", "torch", "date"):
            if key in previous:
                record[f"training_{key}"] = previous[key]
    else:
        start = time.perf_counter()
        train, test = (render(split, n, size, device) for split, n in (("train", args.train_clips),
                                                                       ("test", args.test_clips)))
        print(f"MovingShapes at 3x16x{size}x{size}: {len(train)} train / {len(test)} test clips rendered in "
              f"{time.perf_counter() - start:.1f} s, stored on {device} as uint8", flush=True)
        for name in args.models:
            for precision in args.precisions:
                run = train_one(name, precision, train, test, device=device, smoke=args.smoke, epochs=args.epochs,
                                batch_size=args.batch_size)
                record["runs"].append(run)
                print(f"{run['model']} {run['precision']}: {run['train_clips_per_s']:.0f} train clips/s, "
                      f"test acc {run['test_acc']:.1%}, within-pair {run['within_pair_acc']:.1%}", flush=True)
        del train, test
        print()
        print(format_runs_table(record))
    if not args.no_variants:
        names = args.variant_names or [v for v in VARIANTS if device.type == "cuda" or "compile" not in v]
        clips, labels = host_clips(min(args.variant_clips, 48) if args.smoke else args.variant_clips, size)
        steps = min(args.variant_steps, 2) if args.smoke else args.variant_steps
        record["variants"] = []
        for name in args.models:
            for variant in names:
                try:
                    row = measure_variant(name, variant, clips, labels, device=device, smoke=args.smoke, steps=steps,
                                          warmup=1 if args.smoke else 5, batch_size=args.batch_size,
                                          workers=0 if args.smoke else args.workers)
                except Exception as err:  # noqa: BLE001 — e.g. torch.compile failing on this setup: recorded, not hidden
                    row = {"model": name, "variant": variant, "error": f"{type(err).__name__}: {str(err)[:300]}"}
                record["variants"].append(row)
                print(f"{name} {variant}: " + (row["error"] if "error" in row else
                      f"{row['train_clips_per_s']:.0f} clips/s, waiting for data {row['data_wait_fraction']:.0%}"),
                      flush=True)
        print()
        print(format_runs_table({**record, "runs": record["variants"]}, columns=VARIANT_COLUMNS))
    if not args.no_save:
        path = save_record(record, "gpu_video_models", directory=args.results_dir)
        print(f"\nsaved {path}")
    return record


if __name__ == "__main__":
    main()
