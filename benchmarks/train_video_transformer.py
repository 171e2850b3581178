"""Chapter 12: train a small divided-attention VideoTransformer from scratch on MovingShapes (CPU) and compare it
with a small 3D CNN trained the same way on the same clips.

Target (issue 12): >= 90% within-pair accuracy in <= 3 min of training on 2 CPU cores. Prints test accuracy,
within-pair accuracy, parameters, FLOPs per clip and training wall time for each model, with the load average (the
machine may be shared). With ``--save`` it writes the transformer's checkpoint ``course/models/pretrained/
video_transformer_moving_shapes.pt`` and its manifest entry (read-modify-write: other entries are kept), and the
comparison record ``course/results/video_transformer_vs_cnn.json`` that chapter 12 shows.

    python benchmarks/train_video_transformer.py                  # transformer + CNN, print only
    python benchmarks/train_video_transformer.py --save           # also write checkpoint, manifest, record
    python benchmarks/train_video_transformer.py --models transformer --epochs 4
    python benchmarks/train_video_transformer.py --stem-ablation --seeds 0 1 2 --save   # stem vs no stem, same budget

``--stem-ablation`` trains the chapter's transformer with and without its convolutional stem, everything else equal
(clips, tubelets, depth, learning rate, epochs, seeds), and with ``--save`` writes only the record
``course/results/video_transformer_stem_ablation.json`` (the checkpoint is left alone).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

from course.config import seed_everything
from course.data import MovingShapes, tensor_dataset
from course.models import VideoTransformer, count_flops, count_parameters
from course.train import evaluate, fit, recorded_runs, save_record
from course.viz.frames_vs_time import within_pair_accuracy

CHECKPOINT = "video_transformer_moving_shapes"
RECORD = "video_transformer_vs_cnn"
STEM_RECORD = "video_transformer_stem_ablation"
#: the transformer of the chapter: divided attention, 4x8x8 tubelets on 16x32x32 clips = 4 x 16 tokens, after an
#: 8-channel 3x3x3 convolutional stem (without the stem it learns which motion but not its direction in this budget).
TRANSFORMER_KWARGS = {"num_classes": 10, "input_size": [16, 32, 32], "tubelet": [4, 8, 8], "dim": 64, "depth": 3,
                      "heads": 4, "attention": "divided", "pooling": "mean", "stem_channels": 8}


def no_stem_kwargs() -> dict:
    """The chapter's transformer without its stem: raw-pixel 4x8x8 tubelets, nothing else changed."""
    return {k: v for k, v in TRANSFORMER_KWARGS.items() if k != "stem_channels"}


def cnn_builder():
    """R(2+1)D-small of chapter 10 if present, else chapter 08's small C3D (same role: a small 3D CNN)."""
    try:
        from course.models.video_resnet import r2plus1d_small
        return "r2plus1d_small", lambda: r2plus1d_small(num_classes=10)
    except ImportError:
        from course.models import c3d_small
        return "c3d_small", lambda: c3d_small(10)


def recipes() -> dict:
    cnn_name, cnn = cnn_builder()
    return {
        # name -> (builder, epochs, peak lr, weight decay)
        "transformer": (lambda: VideoTransformer(**TRANSFORMER_KWARGS), 8, 3e-3, 0.05),
        cnn_name: (cnn, 7, 3e-3, 1e-4),
    }


def train(builder, train_set: TensorDataset, test_set: TensorDataset, *, epochs: int, lr: float, weight_decay: float,
          batch_size: int = 32, seed: int = 0, progress: bool = True):
    """Train from scratch with AdamW + one-cycle; returns (model, result dict)."""
    seed_everything(seed)
    model = builder()
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    start, cpu_start = time.perf_counter(), time.process_time()
    history = fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch",
                  device="cpu", progress=progress, max_grad_norm=1.0)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    preds, labels = evaluate(model, DataLoader(test_set, batch_size=100))
    flop_model = model
    if isinstance(model, VideoTransformer):
        model.fused_attention = False          # count the attention products too (the fused kernel is invisible)
    flops = count_flops(flop_model, (1, 3, 16, 32, 32))
    if isinstance(model, VideoTransformer):
        model.fused_attention = True
    return model, {
        "parameters": count_parameters(model), "flops": flops, "epochs": epochs, "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "first_loss": history["train_loss"][0], "last_loss": history["train_loss"][-1],
        "test_acc": float((preds == labels).mean()),
        "within_pair_acc": within_pair_accuracy(preds, labels, MovingShapes.pairs),
    }


def save_checkpoint_entry(model, result, args) -> None:
    from course.models.pretrained import MANIFEST, PRETRAINED_DIR, sha256_of

    path = PRETRAINED_DIR / f"{CHECKPOINT}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save(model.state_dict(), tmp)
    if tmp.stat().st_size > 5 * 1024 * 1024:
        tmp.unlink()
        raise SystemExit(f"{CHECKPOINT}: checkpoint over the 5 MB limit")
    tmp.replace(path)
    manifest_path = PRETRAINED_DIR / MANIFEST
    manifest = json.loads(manifest_path.read_text())        # read-modify-write: keep the other entries
    manifest[CHECKPOINT] = {
        "file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
        "builder": "VideoTransformer", "kwargs": TRANSFORMER_KWARGS,
        "dataset": {"name": "MovingShapes", "num_frames": 16, "size": 32, "seed": 0,
                    "train_clips": args.train_clips, "test_clips": args.test_clips},
        "training": {"recipe": "transformer", "epochs": result["epochs"], "optimizer": "AdamW",
                     "peak_lr": recipes()["transformer"][2], "weight_decay": recipes()["transformer"][3],
                     "schedule": "OneCycleLR per batch", "batch_size": 32, "device": "cpu",
                     "train_seconds": result["train_seconds"], "train_cpu_seconds": result["train_cpu_seconds"],
                     "threads": args.threads,
                     "command": COMMAND},
        "test_acc": round(result["test_acc"], 4), "within_pair_acc": round(result["within_pair_acc"], 4),
    }
    tmp_manifest = manifest_path.with_suffix(".json.tmp")
    tmp_manifest.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
    tmp_manifest.replace(manifest_path)


COMMAND = "python benchmarks/train_video_transformer.py " + " ".join(sys.argv[1:])


def main(argv=None) -> int:
    all_recipes = recipes()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="*", choices=sorted(all_recipes), default=None)
    parser.add_argument("--train-clips", type=int, default=2000)
    parser.add_argument("--test-clips", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--save", action="store_true", help="write the checkpoint, manifest entry and record")
    parser.add_argument("--stem-ablation", action="store_true",
                        help="train the transformer with and without its stem (same recipe) for each of --seeds")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of --stem-ablation")
    args = parser.parse_args(argv)
    if args.stem_ablation and args.models:
        parser.error("--stem-ablation trains the transformer with and without its stem; leave out --models")
    if args.epochs is not None and args.epochs < 1:
        parser.error(f"--epochs {args.epochs}: expected a whole number >= 1")
    torch.set_num_threads(args.threads)
    train_set = tensor_dataset(MovingShapes("train", num_clips=args.train_clips, seed=0))
    test_set = tensor_dataset(MovingShapes("test", num_clips=args.test_clips, seed=0))
    if args.stem_ablation:
        return stem_ablation(train_set, test_set, args)
    runs = []
    for name in args.models or list(all_recipes):
        builder, epochs, lr, wd = all_recipes[name]
        load_before = os.getloadavg()[0]
        model, result = train(builder, train_set, test_set, epochs=args.epochs or epochs, lr=lr, weight_decay=wd)
        load = os.getloadavg()
        result.update(model=name, command=COMMAND, threads=args.threads, input="3x16x32x32",
                      train_clips=args.train_clips, load_average=[round(v, 2) for v in load], load_before=round(load_before, 2))
        runs.append(result)
        print(f"{name}: params {result['parameters']:,} | {result['flops'] / 1e6:.0f} MFLOPs/clip | "
              f"{result['epochs']} epochs in {result['train_seconds']:.0f} s wall, {result['train_cpu_seconds']:.0f} s CPU "
              f"({args.threads} threads) | test acc {result['test_acc']:.1%} | "
              f"within-pair {result['within_pair_acc']:.1%} | load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} "
              f"on {os.cpu_count()} CPUs", flush=True)
        if args.save and name == "transformer":
            save_checkpoint_entry(model, result, args)
    if args.save:   # merge by model name: models may be trained by separate runs of this script
        old = recorded_runs(RECORD) or {"runs": []}
        merged = {run["model"]: run for run in old["runs"]} | {run["model"]: run for run in runs}
        save_record(record_of(list(merged.values()), args), RECORD)
    return 0


def record_of(runs: list, args) -> dict:
    """A record for ``save_record``: the runs with the command, device, date, torch version and data sizes."""
    return {"command": COMMAND, "device": f"cpu ({platform.processor() or platform.machine()}), {args.threads} threads",
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "torch": torch.__version__, "train_clips": args.train_clips, "test_clips": args.test_clips, "runs": runs}


def stem_ablation(train_set, test_set, args) -> int:
    """Transformer with vs without the stem, same data, recipe and seeds; prints each run, saves one record."""
    _, epochs, lr, wd = recipes()["transformer"]
    epochs = args.epochs or epochs
    runs = []
    for seed in args.seeds:
        for name, kwargs in (("with stem", TRANSFORMER_KWARGS), ("no stem", no_stem_kwargs())):
            load_before = os.getloadavg()[0]
            _, result = train(lambda kw=kwargs: VideoTransformer(**kw), train_set, test_set, epochs=epochs, lr=lr,
                              weight_decay=wd, seed=seed)
            result.update(model=f"{name}, seed {seed}", seed=seed, stem=name == "with stem", kwargs=kwargs,
                          command=COMMAND, threads=args.threads, input="3x16x32x32", train_clips=args.train_clips,
                          peak_lr=lr, weight_decay=wd, load_average=[round(v, 2) for v in os.getloadavg()],
                          load_before=round(load_before, 2))
            runs.append(result)
            print(f"{result['model']}: {result['epochs']} epochs in {result['train_cpu_seconds']:.0f} s CPU | "
                  f"test acc {result['test_acc']:.1%} | within-pair {result['within_pair_acc']:.1%}", flush=True)
            if args.save:   # after every run, so an interrupted ablation keeps the runs it finished
                save_record(record_of(runs, args), STEM_RECORD)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
