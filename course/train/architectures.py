"""Chapters 10–11: every small video model of chapters 08–11 trained the same way on the same MovingShapes clips.

:data:`SMALL_MODELS` names the models (and the single-pathway parts of the two-pathway models);
:func:`train_and_measure` trains one from scratch and measures it (parameters, FLOPs per clip, train seconds — wall
and CPU — test accuracy and within-pair accuracy); :func:`measure_architectures` does it for a list and returns a
record in the format of :mod:`course.train.recorded`, which ``benchmarks/video_architectures.py`` saves to
``course/results/video_architectures.json`` and :func:`format_architecture_table` prints.
"""
from __future__ import annotations

import datetime
import os
import platform
import time
from typing import Callable, Sequence

import torch
from torch.utils.data import DataLoader, TensorDataset

#: Columns of the architecture table, in :data:`course.train.recorded.RUN_COLUMNS` format.
ARCHITECTURE_COLUMNS = (
    ("model", "model", "{}"), ("chapter", "ch", "{}"), ("parameters", "params", "{:,}"),
    ("mflops_per_clip", "MFLOPs/clip", "{:.0f}"), ("epochs", "epochs", "{}"),
    ("train_seconds", "train s (wall)", "{:.1f}"), ("train_cpu_seconds", "train s (CPU)", "{:.1f}"),
    ("test_acc", "test acc", "{:.1%}"), ("within_pair_acc", "within-pair", "{:.1%}"),
)


def _r3d_nonlocal(num_classes: int):
    from course.models import add_nonlocal
    from course.models.video_resnet import r3d_small

    return add_nonlocal(r3d_small(num_classes), ["layer2", "layer3"])


def _r3d_multilevel(num_classes: int):
    from course.models import MultiLevelFusion, video_resnet_trunk
    from course.models.video_resnet import r3d_small

    return MultiLevelFusion(video_resnet_trunk(r3d_small(num_classes)), num_classes,
                            fuse=("layer2", "layer3", "layer4"))


def _i3d_small(num_classes: int):
    from course.models.inflate import inflate_resnet, resnet2d_small

    return inflate_resnet(resnet2d_small(num_classes))


def _builder(module: str, name: str, **kwargs) -> Callable[[int], torch.nn.Module]:
    def build(num_classes: int):
        import importlib

        return getattr(importlib.import_module(module), name)(num_classes, **kwargs)
    return build


#: name -> (chapter, builder(num_classes), temporal?). ``temporal=False``: an order-blind part (chance within pair).
SMALL_MODELS: dict[str, tuple[str, Callable[[int], torch.nn.Module], bool]] = {
    "c3d_small": ("08", _builder("course.models", "c3d_small"), True),
    "r3d_small": ("10", _builder("course.models.video_resnet", "r3d_small"), True),
    "mc3_small": ("10", _builder("course.models.video_resnet", "mc3_small"), True),
    "r2plus1d_small": ("10", _builder("course.models.video_resnet", "r2plus1d_small"), True),
    "i3d_small": ("10", _i3d_small, True),
    "r3d_small+nonlocal": ("11", _r3d_nonlocal, True),
    "r3d_small+multilevel": ("11", _r3d_multilevel, True),
    "two_stream": ("11", _builder("course.models", "TwoStream"), True),
    "two_stream/appearance": ("11", _builder("course.models", "TwoStream", streams=("appearance",)), False),
    "two_stream/motion": ("11", _builder("course.models", "TwoStream", streams=("motion",)), True),
    "slowfast": ("11", _builder("course.models", "SlowFast"), True),
    "slowfast/slow": ("11", _builder("course.models", "SlowFast", pathways="slow"), True),
    "slowfast/fast": ("11", _builder("course.models", "SlowFast", pathways="fast"), True),
}


def moving_shapes_split(split: str, num_clips: int, *, seed: int = 0) -> TensorDataset:
    """A MovingShapes split rendered once: clips (N, 3, 16, 32, 32) float in [0, 1], labels (N,) int64."""
    from course.data import MovingShapes, tensor_dataset

    return tensor_dataset(MovingShapes(split, num_clips=num_clips, seed=seed))


def _check_dataset(ds, name: str) -> None:
    if not isinstance(ds, TensorDataset) or len(ds.tensors) != 2 or ds.tensors[0].ndim != 5:
        raise TypeError(f"train_and_measure({name}): expected a TensorDataset of clips (N, C, T, H, W) and labels "
                        f"(N,), see moving_shapes_split")


def train_and_measure(name: str, train: TensorDataset, test: TensorDataset, *, epochs: int = 6, lr: float = 3e-3,
                      batch_size: int = 32, seed: int = 0, progress: bool = False) -> dict:
    """Train :data:`SMALL_MODELS` ``[name]`` from scratch (AdamW, one-cycle LR, CPU) and measure it; returns a run dict.

    ``train``/``test``: TensorDatasets of MovingShapes clips (N, 3, T, H, W) and labels (N,). Wall seconds depend on
    the load of the machine; CPU seconds (``time.process_time``, all threads) much less so.
    """
    from course.config import seed_everything
    from course.data import MovingShapes
    from course.models import count_flops, count_parameters

    from .loop import fit
    from .metrics import evaluate, within_pair_accuracy

    if name not in SMALL_MODELS:
        raise ValueError(f"train_and_measure(name={name!r}): expected one of {list(SMALL_MODELS)}")
    _check_dataset(train, "train")
    _check_dataset(test, "test")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"train_and_measure(epochs={epochs!r}): expected a positive int")
    chapter, builder, temporal = SMALL_MODELS[name]
    seed_everything(seed)
    num_classes = len(MovingShapes.classes)
    model = builder(num_classes)
    loader = DataLoader(train, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=epochs * len(loader))
    wall, cpu = time.perf_counter(), time.process_time()
    history = fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch",
                  device="cpu", progress=progress)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    preds, labels = evaluate(model, DataLoader(test, batch_size=100))
    clip_shape = tuple(train.tensors[0].shape[1:])
    return {
        "model": name, "chapter": chapter, "temporal": temporal, "input": "x".join(map(str, clip_shape)),
        "precision": "float32", "parameters": count_parameters(model),
        "mflops_per_clip": count_flops(model, (1, *clip_shape)) / 1e6, "epochs": epochs,
        "train_clips": len(train), "test_clips": len(test), "train_seconds": wall, "train_cpu_seconds": cpu,
        "first_loss": history["train_loss"][0], "last_loss": history["train_loss"][-1],
        "test_acc": float((preds == labels).mean()),
        "within_pair_acc": within_pair_accuracy(preds, labels, MovingShapes.pairs),
    }


def measure_architectures(names: Sequence[str] | None = None, *, train_clips: int = 1200, test_clips: int = 400,
                          epochs: int = 6, threads: int = 2, command: str = "", progress: bool = True,
                          seed: int = 0) -> dict:
    """Train and measure each model of ``names`` (default: all of :data:`SMALL_MODELS`) on the same clips; ``seed``
    sets every model's initialisation and batch order (the clips do not change).

    Returns a record ``{"command", "device", "date", "torch", "threads", "load_average", "runs": [...]}`` (one run dict
    per model, see :func:`train_and_measure`), ready for :func:`course.train.recorded.save_record`.
    """
    from tqdm.auto import tqdm

    from course.timing import limited_threads

    names = list(SMALL_MODELS) if names is None else list(names)
    unknown = [n for n in names if n not in SMALL_MODELS]
    if unknown or not names:
        raise ValueError(f"measure_architectures(names): unknown {unknown}; expected names from {list(SMALL_MODELS)}")
    for arg, value in (("train_clips", train_clips), ("test_clips", test_clips), ("threads", threads)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"measure_architectures({arg}={value!r}): expected a positive int")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"measure_architectures(seed={seed!r}): expected a non-negative int")
    start = time.perf_counter()
    with limited_threads(threads):
        train, test = moving_shapes_split("train", train_clips), moving_shapes_split("test", test_clips)
        runs = []
        for name in tqdm(names, desc="models", disable=not progress):
            runs.append(train_and_measure(name, train, test, epochs=epochs, progress=progress, seed=seed))
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"command": command, "device": f"CPU ({platform.machine()}, {os.cpu_count()} logical cores)",
            "threads": threads, "seed": seed, "torch": torch.__version__, "date": datetime.date.today().isoformat(),
            "total_seconds": time.perf_counter() - start, "load_average": [round(v, 2) for v in load], "runs": runs}


def format_architecture_table(record: dict) -> str:
    """The record of :func:`measure_architectures` as a text table, with the command, threads and machine load."""
    from .recorded import format_runs_table

    text = format_runs_table(record, columns=ARCHITECTURE_COLUMNS)
    load = record.get("load_average")
    extra = (f"{record.get('threads', '?')} torch threads; whole run {record.get('total_seconds', float('nan')):.0f} s"
             + (f"; load average (1 min) at the end: {load[0]:.1f}" if load else ""))
    return text + "\n" + extra
