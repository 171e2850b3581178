"""The chapter 15 experiments, shared by ``benchmarks/efficient_inference.py`` and the notebook.

Every variant of the trained model is measured the same way (:func:`measure`): parameters, bytes on disk, latency at
batch 1 (p50, p90) and clips per second at batch 8 on a fixed number of threads (:func:`course.timing.latency`), and
accuracy on the same test clips. Training helpers (:func:`fine_tune`, :func:`train_student`) use
:func:`course.train.fit`.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from ..timing import latency

__all__ = ["Task", "moving_shapes_task", "torch_predict", "ort_predict", "accuracy", "measure", "fine_tune",
           "student_c3d", "train_student", "format_table", "TABLE_COLUMNS", "drift_clips", "DRIFTS", "copy_model",
           "gpu_latency_rows"]


@dataclass
class Task:
    """Clips (N, 3, T, H, W) float and labels (N,) int64 of a train, a validation and a test split."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor


def moving_shapes_task(train: int, val: int, test: int, *, num_frames: int = 16, seed: int = 0) -> Task:
    """Chapter 06's task (:class:`course.data.MovingShapes`, 10 classes, 16 x 32 x 32 clips) rendered into memory."""
    from ..data import MovingShapes, tensor_dataset

    parts = [tensor_dataset(MovingShapes(split, num_clips=n, num_frames=num_frames, seed=seed)).tensors
             for split, n in (("train", train), ("val", val), ("test", test))]
    return Task(*parts[0], *parts[1], *parts[2])


def torch_predict(model: nn.Module) -> Callable[[torch.Tensor], np.ndarray]:
    """clips (N, C, T, H, W) -> logits (N, K) as NumPy, the model in eval mode under ``torch.inference_mode``."""
    model.eval()

    def run(x: torch.Tensor) -> np.ndarray:
        with torch.inference_mode():
            return model(x).float().numpy()
    return run


def ort_predict(session) -> Callable[[torch.Tensor], np.ndarray]:
    """clips (N, C, T, H, W) -> logits (N, K) from an onnxruntime session."""
    name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> np.ndarray:
        return session.run(None, {name: x.numpy() if isinstance(x, torch.Tensor) else x})[0]
    return run


def accuracy(predict: Callable, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 50) -> float:
    """Fraction of clips whose argmax logit is the label; ``predict`` from :func:`torch_predict`/:func:`ort_predict`."""
    hits = sum(int((predict(xb).argmax(1) == yb.numpy()).sum())
               for xb, yb in zip(x.split(batch_size), y.split(batch_size)))
    return hits / len(y)


def measure(name: str, predict: Callable, task: Task, *, params: int, nbytes: int, threads: int = 1,
            runs: int = 30, warmup: int = 3, batch: int = 8) -> dict:
    """One table row: ``variant``, ``params``, ``mb`` on disk, ``p50_ms``/``p90_ms`` at batch 1 on ``threads``,
    ``clips_per_s`` at batch ``batch``, and test ``acc``."""
    x1, xb = task.test_x[:1].contiguous(), task.test_x[:batch].contiguous()
    one = latency(lambda: predict(x1), warmup=warmup, runs=runs, threads=threads)
    many = latency(lambda: predict(xb), warmup=1, runs=max(3, runs // 4), threads=threads)
    return {"variant": name, "params": int(params), "mb": nbytes / 1e6, "p50_ms": one.p50 * 1e3,
            "p90_ms": one.p90 * 1e3, "clips_per_s": batch / many.p50, "acc": accuracy(predict, task.test_x, task.test_y),
            "threads": threads}


#: Columns of :func:`format_table`: (key, header, format).
TABLE_COLUMNS = (("variant", "variant", "{}"), ("params", "params", "{:,}"), ("mb", "MB", "{:.2f}"),
                 ("p50_ms", "p50 ms (b=1)", "{:.2f}"), ("p90_ms", "p90 ms (b=1)", "{:.2f}"),
                 ("clips_per_s", "clips/s (b=8)", "{:.0f}"), ("acc", "test acc", "{:.1%}"))


def format_table(rows: list[dict], columns=TABLE_COLUMNS) -> str:
    """A plain-text table of rows (dicts); a missing value prints as '-'."""
    cells = [[h for _, h, _ in columns]] + [[fmt.format(r[k]) if r.get(k) is not None else "-"
                                             for k, _, fmt in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def fine_tune(model: nn.Module, x: torch.Tensor, targets: torch.Tensor, *, epochs: int, lr: float = 1e-3,
              batch_size: int = 32, seed: int = 0, loss_fn: nn.Module | None = None, progress: bool = False
              ) -> nn.Module:
    """Train ``model`` in place on clips ``x`` with ``targets`` (labels, or :func:`teacher_targets` with a
    :class:`DistillationLoss`) for ``epochs`` epochs: AdamW, cosine schedule, :func:`course.train.fit`, CPU.
    Returns the model in eval mode."""
    from torch.utils.data import DataLoader, TensorDataset

    from ..config import seed_everything
    from ..train.loop import fit

    seed_everything(seed)
    loader = DataLoader(TensorDataset(x, targets), batch_size=batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(seed))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, scheduler_step="batch",
        loss_fn=loss_fn, device="cpu", progress=progress)
    return model.eval()


def student_c3d(num_classes: int = 10, *, input_size=(16, 32, 32)) -> nn.Module:
    """The distillation student: the small C3D's structure at half its widths (4-8-16-16-32-32-32-32) and fc 128 —
    about a quarter of its parameters."""
    from ..models.c3d import C3D

    return C3D(num_classes, widths=(4, 8, 16, 16, 32, 32, 32, 32), fc_features=128, input_size=input_size,
               batch_norm=True, dropout=0.3)


def train_student(task: Task, *, teacher: nn.Module | None, epochs: int, seed: int, temperature: float = 4.0,
                  alpha: float = 0.7, lr: float = 3e-3, progress: bool = False) -> tuple[nn.Module, float]:
    """Train :func:`student_c3d` on ``task.train_x`` from the labels only (``teacher=None``) or with the distillation
    loss; same data, epochs and seed either way. Returns (student, test accuracy)."""
    from .distill import DistillationLoss, teacher_targets

    torch.manual_seed(seed)
    student = student_c3d(int(task.train_y.max()) + 1, input_size=tuple(task.train_x.shape[2:]))
    if teacher is None:
        fine_tune(student, task.train_x, task.train_y, epochs=epochs, lr=lr, seed=seed, progress=progress)
    else:
        targets = teacher_targets(teacher, task.train_x, task.train_y)
        fine_tune(student, task.train_x, targets, epochs=epochs, lr=lr, seed=seed, progress=progress,
                  loss_fn=DistillationLoss(temperature, alpha))
    return student, accuracy(torch_predict(student), task.test_x, task.test_y)


# ---- drift -----------------------------------------------------------------------------------------------------------
#: The drifts of the monitoring section: name -> what changes.
DRIFTS = {
    "brightness": "lower contrast (x 0.7 around the mean) and brighter (+ 0.15 on the 0-1 scale)",
    "noise": "Gaussian noise, standard deviation 0.15, on every pixel",
    "frame rate": "a camera at twice the frame rate: the middle half of the clip stretched to 16 frames (half the "
                  "motion per frame)",
    "camera": "a new camera position: closer and off-centre (the top-left 24 x 24 pixels scaled to 32 x 32)",
}


def drift_clips(kind: str, x: torch.Tensor, *, seed: int = 0) -> torch.Tensor:
    """Clips (N, C, T, H, W) in [0, 1] under drift ``kind`` (see :data:`DRIFTS`) -> the same shape."""
    import torch.nn.functional as F

    if kind not in DRIFTS:
        raise ValueError(f"drift_clips(kind): expected one of {list(DRIFTS)}, got {kind!r}")
    if kind == "brightness":
        mean = x.mean(dim=(1, 2, 3, 4), keepdim=True)
        return ((x - mean) * 0.7 + mean + 0.15).clamp(0, 1)
    if kind == "noise":
        g = torch.Generator().manual_seed(seed)
        return (x + 0.15 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    n, c, t, h, w = x.shape
    if kind == "frame rate":
        middle = x[:, :, t // 4: t // 4 + max(2, t // 2)]
        return F.interpolate(middle, size=(t, h, w), mode="trilinear", align_corners=True).contiguous()
    crop = x[..., : h - h // 4, : w - w // 4]
    frames = crop.permute(0, 2, 1, 3, 4).reshape(n * t, c, crop.shape[-2], crop.shape[-1])
    zoomed = F.interpolate(frames, size=(h, w), mode="bilinear", align_corners=False)
    return zoomed.reshape(n, t, c, h, w).permute(0, 2, 1, 3, 4).contiguous()


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy in eval mode (variants never change the teacher)."""
    return copy.deepcopy(model).eval()


def gpu_latency_rows(model: nn.Module, clips: torch.Tensor, *, runs: int = 50) -> list[dict]:
    """On CUDA: p50/p90 at batch 1 and clips/s at batch ``len(clips)`` for float32, float16 and bfloat16 autocast,
    and float32 in ``channels_last_3d`` memory format. Returns [] when no GPU is present (nothing is measured)."""
    if not torch.cuda.is_available():
        return []
    device = torch.device("cuda")
    rows = []
    for name, dtype, channels_last in (("float32", None, False), ("float16 autocast", torch.float16, False),
                                       ("bfloat16 autocast", torch.bfloat16, False),
                                       ("float32 channels_last_3d", None, True)):
        net = copy.deepcopy(model).eval().to(device)
        x = clips.to(device)
        if channels_last:
            net = net.to(memory_format=torch.channels_last_3d)
            x = x.contiguous(memory_format=torch.channels_last_3d)

        def run(batch):
            with torch.inference_mode(), torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                net(batch)
            torch.cuda.synchronize()

        one = latency(lambda: run(x[:1]), warmup=10, runs=runs, threads=1)
        many = latency(lambda: run(x), warmup=3, runs=max(5, runs // 5), threads=1)
        rows.append({"variant": f"CUDA {name}", "p50_ms": one.p50 * 1e3, "p90_ms": one.p90 * 1e3,
                     "clips_per_s": len(x) / many.p50, "device": torch.cuda.get_device_name(0)})
    return rows
