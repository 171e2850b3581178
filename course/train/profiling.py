"""Where a training step's time goes (chapter 16): torch.profiler over whole steps, data-loader throughput, and
step timings for the compiler and memory-layout comparisons.

- :func:`profile_training_step` runs a few training steps under ``torch.profiler`` with each phase — decode,
  transform, the rest of the data loading, forward, backward, optimizer — marked by ``record_function``, and returns
  the milliseconds per step of each phase (a :class:`StepProfile`) plus PyTorch's own table of the costliest ops;
- :func:`loader_throughput` measures clips per second of a ``DataLoader`` setting (``num_workers``,
  ``pin_memory``, ``persistent_workers``, ``prefetch_factor``) over a few epochs;
- :func:`training_step_time` times steady-state training steps (after a warm-up that also pays for
  ``torch.compile``) and :func:`compare_step_variants` lines up eager, ``channels_last_3d`` and compiled models.
"""
from __future__ import annotations

import contextlib
import numbers
import time
from dataclasses import dataclass, field

#: The phases of a training step, in the order they happen.
PHASES = ("decode", "transform", "data (other)", "forward", "backward", "optimizer")


def _check_int(fn: str, name: str, value, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{fn}({name}={value!r}): expected an int >= {minimum}")
    return int(value)


def _check_dataset(fn: str, dataset) -> None:
    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"{fn}(dataset): expected a map-style dataset of (clip, label) items, "
                        f"got {type(dataset).__name__}")
    if len(dataset) == 0:
        raise ValueError(f"{fn}(dataset): the dataset is empty")


@contextlib.contextmanager
def _labelled(obj, attr: str, label: str):
    """Within the block, calls of ``obj.<attr>`` (an instance attribute or method) run inside
    ``record_function(label)``; nothing happens when ``obj`` has no such callable."""
    from torch.profiler import record_function

    original = getattr(obj, attr, None)
    if not callable(original):
        yield
        return
    had_own = attr in vars(obj)

    def wrapped(*args, **kwargs):
        with record_function(label):
            return original(*args, **kwargs)

    setattr(obj, attr, wrapped)
    try:
        yield
    finally:
        if had_own:
            setattr(obj, attr, original)
        else:
            delattr(obj, attr)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 (where C++ libraries write) to /dev/null within the block."""
    import os

    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@dataclass
class StepProfile:
    """Milliseconds per training step of each phase in :data:`PHASES` (``ms``), the ``steps`` profiled, the whole
    step's wall-clock milliseconds (``step_ms``), and ``table``: torch.profiler's table of the costliest ops."""

    ms: dict
    steps: int
    step_ms: float
    batch_size: int
    table: str = field(repr=False, default="")

    def fractions(self) -> dict:
        """Each phase's share of the sum of the phases."""
        total = sum(self.ms.values())
        return {k: v / total if total else float("nan") for k, v in self.ms.items()}

    def __str__(self) -> str:
        parts = ", ".join(f"{k} {v:.1f} ms" for k, v in self.ms.items())
        return f"per step of {self.batch_size} clips ({self.steps} steps profiled): {parts}; whole step {self.step_ms:.1f} ms"


def profile_training_step(model, dataset, *, batch_size: int, steps: int = 3, warmup: int = 1, optimizer=None,
                          loss_fn=None, row_limit: int = 12) -> StepProfile:
    """Profile ``steps`` training steps of ``model`` on batches of ``dataset`` (after ``warmup`` unprofiled ones).

    ``dataset`` yields (clip (C, T, H, W), label); a :class:`course.data.VideoFolder` has its decoding
    (``load_frames``) and its ``transform`` marked separately, any other dataset's item loading counts as
    "data (other)". Loading runs in this process (``num_workers=0``) so that the profiler sees it. The model maps
    (N, C, T, H, W) to logits; ``optimizer`` defaults to SGD(lr=0.01), ``loss_fn`` to cross-entropy. The model is
    trained in place (its weights change).
    """
    import torch
    from torch.profiler import ProfilerActivity, profile, record_function

    fn = "profile_training_step"
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{fn}(model): expected a torch.nn.Module, got {type(model).__name__}")
    _check_dataset(fn, dataset)
    batch_size = _check_int(fn, "batch_size", batch_size, 1)
    steps = _check_int(fn, "steps", steps, 1)
    warmup = _check_int(fn, "warmup", warmup, 0)
    if len(dataset) < batch_size:
        raise ValueError(f"{fn}(batch_size={batch_size}): the dataset has only {len(dataset)} items")
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    device = next(model.parameters()).device
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(0))
    model.train()

    def batches():
        while True:
            yield from loader

    source = batches()

    def one_step():
        with record_function("data"):
            clips, labels = next(source)
            clips, labels = clips.to(device), labels.to(device)
        with record_function("forward"):
            loss = loss_fn(model(clips), labels)
        with record_function("backward"):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        with record_function("optimizer"):
            optimizer.step()

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with _labelled(dataset, "load_frames", "decode"), _labelled(dataset, "transform", "transform"):
        for _ in range(warmup):
            one_step()
        prof = profile(activities=activities)
        with _native_stderr_silenced():  # the profiler's C++ start/stop messages ("USDT: profiler_start", ...)
            prof.start()
        try:
            started = time.perf_counter()
            for _ in range(steps):
                one_step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            wall = time.perf_counter() - started
        finally:
            with _native_stderr_silenced():
                prof.stop()
    totals = {e.key: e.cpu_time_total / 1e3 for e in prof.key_averages()
              if e.key in ("data", "decode", "transform", "forward", "backward", "optimizer")}
    ms = {"decode": totals.get("decode", 0.0), "transform": totals.get("transform", 0.0)}
    ms["data (other)"] = max(totals.get("data", 0.0) - ms["decode"] - ms["transform"], 0.0)
    for phase in ("forward", "backward", "optimizer"):
        ms[phase] = totals.get(phase, 0.0)
    ms = {k: v / steps for k, v in ms.items()}
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=row_limit)
    return StepProfile(ms, steps, wall * 1e3 / steps, batch_size, table)


def loader_throughput(dataset, *, batch_size: int, epochs: int = 2, max_batches: int | None = None,
                      **loader_kwargs) -> dict:
    """Clips per second a ``DataLoader(dataset, batch_size, **loader_kwargs)`` delivers, epoch by epoch.

    Only loading is timed (no model), from asking for the first batch to the last. Returns ``{"clips_per_s": [one
    per epoch], "first_batch_s": [seconds to the first batch of each epoch], "seconds": [...], "clips": clips per
    epoch}`` — the first batch shows the start-up of worker processes, which ``persistent_workers=True`` pays only in
    the first epoch. ``max_batches`` measures on the first ``max_batches * batch_size`` items only (a quick measurement on
    a large dataset; whole epochs of a smaller dataset, so that no prefetched batch is still in flight when the next
    epoch starts).
    """
    import torch

    fn = "loader_throughput"
    _check_dataset(fn, dataset)
    batch_size = _check_int(fn, "batch_size", batch_size, 1)
    epochs = _check_int(fn, "epochs", epochs, 1)
    if max_batches is not None:
        max_batches = _check_int(fn, "max_batches", max_batches, 1)
    if loader_kwargs.get("persistent_workers") and not loader_kwargs.get("num_workers"):
        raise ValueError(f"{fn}(persistent_workers=True): needs num_workers >= 1 (there are no workers to keep)")
    if max_batches is not None and max_batches * batch_size < len(dataset):
        dataset = torch.utils.data.Subset(dataset, range(max_batches * batch_size))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, **loader_kwargs)
    result = {"clips_per_s": [], "first_batch_s": [], "seconds": [], "clips": 0}
    for _ in range(epochs):
        clips, first = 0, None
        started = time.perf_counter()
        for batch, _labels in loader:
            if first is None:
                first = time.perf_counter() - started
            clips += len(batch)
        seconds = time.perf_counter() - started
        result["clips_per_s"].append(clips / seconds)
        result["first_batch_s"].append(first)
        result["seconds"].append(seconds)
        result["clips"] = clips
    del loader  # ends persistent workers now rather than at garbage collection
    return result


def training_step_time(model, clips, labels, *, steps: int = 5, warmup: int = 2, optimizer=None, loss_fn=None,
                       amp=None) -> dict:
    """Seconds of ``model``'s training steps on one batch: ``{"first_s", "warmup_s", "step_s"}``.

    ``clips`` (N, C, T, H, W) and ``labels`` (N,) on the model's device. ``first_s`` is the first call (for a
    ``torch.compile``'d model: the compilation), ``warmup_s`` all ``warmup`` calls, ``step_s`` the median of the
    next ``steps`` calls (steady state). ``amp``: None / False for float32, or a dtype for autocast (bfloat16 on
    CPU). The model is trained in place.
    """
    import statistics

    import torch

    fn = "training_step_time"
    if not callable(model):
        raise TypeError(f"{fn}(model): expected a model (a torch.nn.Module or a compiled one), got "
                        f"{type(model).__name__}")
    if not (torch.is_tensor(clips) and clips.ndim == 5):
        raise ValueError(f"{fn}(clips): expected a tensor (N, C, T, H, W), got "
                         f"{tuple(clips.shape) if torch.is_tensor(clips) else type(clips).__name__}")
    if not (torch.is_tensor(labels) and labels.shape == clips.shape[:1]):
        raise ValueError(f"{fn}(labels): expected a tensor of shape ({clips.shape[0]},)")
    steps = _check_int(fn, "steps", steps, 1)
    warmup = _check_int(fn, "warmup", warmup, 1)
    if amp not in (None, False, torch.bfloat16, torch.float16):
        raise ValueError(f"{fn}(amp={amp!r}): expected None, False, torch.bfloat16 or torch.float16")
    optimizer = optimizer or torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    sync = torch.cuda.synchronize if clips.is_cuda else (lambda: None)

    def step():
        with (torch.autocast(clips.device.type, dtype=amp) if amp else contextlib.nullcontext()):
            loss = loss_fn(model(clips), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync()

    times = []
    for _ in range(warmup + steps):
        started = time.perf_counter()
        step()
        times.append(time.perf_counter() - started)
    return {"first_s": times[0], "warmup_s": sum(times[:warmup]), "step_s": statistics.median(times[warmup:])}


def compare_step_variants(build_model, clips, labels, *, variants=("eager", "channels_last_3d", "compile"),
                          steps: int = 5, warmup: int = 2, progress: bool = True) -> list[dict]:
    """Time training steps of fresh models from ``build_model()`` in each variant, on the same batch.

    - ``"eager"``: as built; ``"channels_last_3d"``: model and input in ``torch.channels_last_3d`` memory format
      (channels stored last: what GPU tensor cores like); ``"compile"``: ``torch.compile(model)`` (TorchInductor
      generates fused kernels; the first steps pay for the compilation).

    Returns one dict per variant: ``{"variant", "first_s", "warmup_s", "step_s", "speedup"}`` with ``speedup`` the
    eager step time over this variant's (> 1: faster). ``clips`` (N, C, T, H, W), ``labels`` (N,). ``progress``:
    a progress bar over the variants (compiling alone can take tens of seconds).
    """
    import torch
    from tqdm.auto import tqdm

    known = ("eager", "channels_last_3d", "compile")
    if isinstance(variants, str) or not variants or any(v not in known for v in variants):
        raise ValueError(f"compare_step_variants(variants={variants!r}): expected a list drawn from {known}")
    if not callable(build_model):
        raise TypeError("compare_step_variants(build_model): expected a function that returns a new model")
    rows = []
    bar = tqdm(variants, desc="step variants", unit="variant", disable=not progress)
    for variant in bar:
        bar.set_postfix_str(variant)
        torch.manual_seed(0)
        model = build_model()
        x = clips
        if variant == "channels_last_3d":
            model = model.to(memory_format=torch.channels_last_3d)
            x = clips.contiguous(memory_format=torch.channels_last_3d)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        runner = torch.compile(model) if variant == "compile" else model
        timing = training_step_time(runner, x, labels, steps=steps, warmup=warmup, optimizer=optimizer)
        rows.append({"variant": variant, **timing})
    eager = next((r["step_s"] for r in rows if r["variant"] == "eager"), None)
    for row in rows:
        row["speedup"] = eager / row["step_s"] if eager else None
    return rows
