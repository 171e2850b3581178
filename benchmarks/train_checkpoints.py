"""Regenerate the shipped checkpoints in course/models/pretrained/ and their SHA-256 manifest.

Trains, from scratch on CPU, every model that chapters 06, 08 and 09 load with ``course.models.load_pretrained`` —
the small C3D, the CNN-LSTM and the chapter-06 frame baselines — on ``MovingShapes`` (seed 0), with the recipes
(model, optimizer, schedule) of ``benchmarks/temporal_task.py`` run for longer on more clips. Writes ``<name>.pt``
(a state dict) for each and ``manifest.json`` (file, SHA-256, builder, arguments, training recipe, test accuracy
measured here).

    python benchmarks/train_checkpoints.py                 # all of them (30-60 min on 2 busy CPU cores)
    python benchmarks/train_checkpoints.py --only c3d_small
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from temporal_task import RECIPES, render_split, train_recipe  # noqa: E402

from course.models.pretrained import MANIFEST, PRETRAINED_DIR, sha256_of  # noqa: E402

#: checkpoint name -> (recipe of temporal_task.py, builder name in course.models.pretrained.BUILDERS, builder kwargs,
#: epochs, training clips): long enough for each model to converge (its test accuracy stops improving).
CHECKPOINTS = {
    "c3d_small_moving_shapes": ("c3d_small", "c3d_small", {"num_classes": 10}, 12, 3000),
    "cnn_lstm_moving_shapes": ("cnn_lstm", "CNNLSTM", {"num_classes": 10}, 12, 3000),
    "single_frame_moving_shapes": ("single_frame", "SingleFrameCNN", {"num_classes": 10, "frame": "random"}, 6, 1500),
    "late_fusion_moving_shapes": ("late_fusion", "LateFusion", {"num_classes": 10}, 6, 1500),
    "early_fusion_moving_shapes": ("early_fusion", "EarlyFusion", {"num_classes": 10, "num_frames": 16}, 8, 1500),
    "slow_fusion_moving_shapes": ("slow_fusion", "SlowFusion", {"num_classes": 10}, 8, 1500),
}
MAX_BYTES = 10 * 1024 * 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=sorted(CHECKPOINTS), default=None)
    parser.add_argument("--train-clips", type=int, default=None, help="override the training clips of every model")
    parser.add_argument("--test-clips", type=int, default=400)
    parser.add_argument("--epoch-scale", type=float, default=1.0, help="multiply every model's epochs by this")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    test = render_split("test", args.test_clips)
    train_sets: dict = {}
    manifest_path = PRETRAINED_DIR / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    PRETRAINED_DIR.mkdir(parents=True, exist_ok=True)
    for name in args.only or list(CHECKPOINTS):
        recipe, builder, kwargs, epochs, train_clips = CHECKPOINTS[name]
        epochs = max(1, round(epochs * args.epoch_scale))
        train_clips = args.train_clips or train_clips
        if train_clips not in train_sets:
            train_sets[train_clips] = render_split("train", train_clips)
        train = train_sets[train_clips]
        start = time.perf_counter()
        model, result = train_recipe(recipe, train, test, epochs=epochs)
        path = PRETRAINED_DIR / f"{name}.pt"
        tmp = path.with_suffix(".pt.tmp")
        torch.save(model.state_dict(), tmp)
        if tmp.stat().st_size > MAX_BYTES:
            tmp.unlink()
            raise SystemExit(f"{name}: checkpoint is {tmp.stat().st_size} bytes, over the 10 MB limit")
        tmp.replace(path)
        manifest[name] = {
            "file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size,
            "builder": builder, "kwargs": kwargs,
            "dataset": {"name": "MovingShapes", "num_frames": 16, "size": 32, "seed": 0,
                        "train_clips": train_clips, "test_clips": args.test_clips},
            "training": {"recipe": recipe, "epochs": epochs, "optimizer": "AdamW", "peak_lr": RECIPES[recipe][2],
                         "schedule": "OneCycleLR per batch", "batch_size": 32, "device": "cpu",
                         "command": "python benchmarks/train_checkpoints.py"},
            "test_acc": round(result["test_acc"], 4), "within_pair_acc": round(result["within_pair_acc"], 4),
        }
        manifest_path.write_text(json.dumps(dict(sorted(manifest.items())), indent=2) + "\n")
        print(f"{name}: test acc {result['test_acc']:.1%}, within-pair {result['within_pair_acc']:.1%}, "
              f"{epochs} epochs, {time.perf_counter() - start:.0f} s, {path.stat().st_size / 1e6:.2f} MB", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
