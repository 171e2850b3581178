"""Checks for chapter 16 (scaling up).

References: ``torch.utils.data.DistributedSampler`` (a process's share of an epoch), :mod:`course.train.memory`
(gradient accumulation), and plain arithmetic checked on hand-computed cases (resuming, float16's range, the batch
and learning-rate bookkeeping of data parallelism).
"""
from __future__ import annotations

import numpy as np

from .core import Case, CheckResult, check_function, compare


def _sampler_share(indices, rank, world_size):
    """What DistributedSampler(drop_last=True, shuffle=False) gives ``rank`` of the given order of indices."""
    usable = len(indices) - len(indices) % world_size
    return list(indices[:usable][rank::world_size])


def process_share(fn) -> CheckResult:
    """Check ``fn(indices, rank, world_size) -> list``: the indices process ``rank`` trains on in one epoch."""
    from torch.utils.data import DistributedSampler

    def sampler(n, rank, world):
        return list(DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=False, drop_last=True))

    cases = [
        Case((list(range(8)), 0, 2), name="8 clips, rank 0 of 2", expected=sampler(8, 0, 2),
             hint="rank r takes every world_size-th index starting at r"),
        Case((list(range(8)), 1, 2), name="8 clips, rank 1 of 2", expected=sampler(8, 1, 2)),
        Case((list(range(10)), 1, 4), name="10 clips, rank 1 of 4: the last 2 are dropped", expected=sampler(10, 1, 4),
             hint="drop the tail first so every process gets the same number: 10 - 10 % 4 = 8 usable indices"),
        Case(([7, 3, 9, 1, 4, 0], 1, 3), name="a shuffled order, rank 1 of 3"),
        Case((list(range(5)), 0, 1), name="one process gets everything"),
    ]
    return check_function(fn, cases, title="process_share", reference=_sampler_share, compare_fn=_same_list,
                          hint="usable = len(indices) - len(indices) % world_size; indices[:usable][rank::world_size]")


def _same_list(got, expected):
    try:
        got = [int(v) for v in got]
    except (TypeError, ValueError):
        return f"expected a list of ints, got {type(got).__name__}"
    return None if got == [int(v) for v in expected] else f"expected {list(expected)}, got {got}"


def _reference_average(grads):
    return {name: sum(g[name] for g in grads) / len(grads) for name in grads[0]}


def average_gradients(fn) -> CheckResult:
    """Check ``fn(per_process) -> dict``: the all-reduce of DDP by hand — the mean of each parameter's gradient over
    the processes (``per_process`` a list of ``{name: gradient array}``)."""
    rng = np.random.default_rng(0)
    two = [{"w": rng.normal(size=(3, 2)), "b": rng.normal(size=3)} for _ in range(2)]
    four = [{"w": rng.normal(size=(2, 2))} for _ in range(4)]
    cases = [
        Case(([{"w": np.array([1.0, 2.0])}, {"w": np.array([3.0, 6.0])}],), name="two processes, one parameter",
             expected={"w": np.array([2.0, 4.0])}, hint="the mean, not the sum: DDP divides by world_size"),
        Case((two,), name="two processes, two parameters"),
        Case((four,), name="four processes"),
        Case(([{"w": np.ones(2)}],), name="one process: its own gradient"),
    ]
    return check_function(fn, cases, title="average_gradients", reference=_reference_average, compare_fn=_same_dict,
                          hint="{name: sum(g[name] for g in per_process) / len(per_process) for name in per_process[0]}")


def _same_dict(got, expected):
    if not isinstance(got, dict):
        return f"expected a dict {{parameter name: gradient}}, got {type(got).__name__}"
    if set(got) != set(expected):
        return f"expected the parameter names {sorted(expected)}, got {sorted(got)}"
    for name in expected:
        problem = compare(got[name], expected[name], rtol=1e-6, atol=1e-9)
        if problem:
            return f"{name!r}: {problem}"
    return None


def _reference_resume(step, steps_per_epoch):
    return divmod(step, steps_per_epoch)


def resume_position(fn) -> CheckResult:
    """Check ``fn(step, steps_per_epoch) -> (epoch, batches_to_skip)``: where a resumed run continues."""
    cases = [
        Case((0, 16), name="a fresh run", expected=(0, 0)),
        Case((12, 16), name="checkpoint at step 12 of 16 per epoch", expected=(0, 12),
             hint="still in epoch 0; skip the 12 batches already trained on"),
        Case((16, 16), name="exactly one epoch done", expected=(1, 0)),
        Case((37, 16), name="step 37"),
        Case((5, 1), name="one step per epoch"),
    ]
    return check_function(fn, cases, title="resume_position", reference=_reference_resume, compare_fn=_same_pair,
                          hint="divmod(step, steps_per_epoch)")


def _same_pair(got, expected):
    try:
        got = tuple(int(v) for v in got)
    except (TypeError, ValueError):
        return f"expected a pair (epoch, batches_to_skip), got {got!r}"
    return None if got == tuple(expected) else f"expected {tuple(expected)}, got {got}"


def _reference_lost(values, scale):
    import torch

    v = torch.as_tensor(np.asarray(values, dtype=np.float64))
    return ((v != 0) & ((v * scale).to(torch.float16) == 0)).numpy()


def float16_lost(fn) -> CheckResult:
    """Check ``fn(values, scale) -> bool array``: which nonzero values become 0 when multiplied by ``scale`` and
    stored in float16."""
    grads = np.array([1e-2, 1e-5, 1e-7, 2e-8, 1e-9, 0.0])
    cases = [
        Case((grads, 1.0), name="no scaling", expected=np.array([False, False, False, True, True, False]),
             hint="float16's smallest subnormal is 2**-24 ≈ 6e-8; half of it and less rounds to 0"),
        Case((grads, 2.0 ** 16), name="scaled by 2**16 (a GradScaler's starting scale)",
             expected=np.array([False] * 6), hint="1e-9 * 65536 ≈ 6.6e-5 is representable"),
        Case((grads, 2.0 ** -4), name="scaled down: more is lost"),
        Case((np.array([0.0, 0.0]), 1.0), name="zeros are not 'lost' (they were zero already)",
             expected=np.array([False, False])),
    ]
    return check_function(fn, cases, title="float16_lost", reference=_reference_lost, compare_fn=_same_mask,
                          hint="(values != 0) & ((values * scale).astype(np.float16) == 0)")


def _same_mask(got, expected):
    got = np.asarray(got)
    if got.shape != np.shape(expected):
        return f"expected shape {np.shape(expected)}, got {got.shape}"
    if got.dtype != bool:
        return f"expected a boolean array, got dtype {got.dtype}"
    wrong = np.flatnonzero(got != expected)
    return None if wrong.size == 0 else f"wrong at positions {wrong.tolist()}: expected {np.asarray(expected).tolist()}"


def _reference_scaling(per_process, world_size, accumulation, base_lr, base_batch):
    batch = per_process * world_size * accumulation
    return batch, base_lr * batch / base_batch


def effective_batch_and_lr(fn) -> CheckResult:
    """Check ``fn(per_process, world_size, accumulation, base_lr, base_batch) -> (batch, lr)``: the global batch of
    a data-parallel run with gradient accumulation, and the learning rate by the linear scaling rule."""
    cases = [
        Case((8, 1, 1, 0.1, 8), name="one process: nothing changes", expected=(8, 0.1)),
        Case((8, 2, 1, 0.1, 8), name="two processes", expected=(16, 0.2),
             hint="every process adds its batch: 8 x 2 = 16 clips per optimizer step"),
        Case((8, 4, 2, 0.1, 8), name="four processes, accumulating 2 micro-batches", expected=(64, 0.8)),
        Case((32, 8, 1, 0.1, 256), name="Goyal et al.: lr 0.1 per 256 images"),
    ]
    return check_function(fn, cases, title="effective_batch_and_lr", reference=_reference_scaling, rtol=1e-9,
                          hint="batch = per_process * world_size * accumulation; lr = base_lr * batch / base_batch")


def accumulate(fn) -> CheckResult:
    """Check ``fn(model, clips, labels, micro_batches) -> None``: leaves in ``.grad`` the gradient of the whole
    batch's mean cross-entropy, computed in ``micro_batches`` slices."""
    import torch
    from torch import nn

    from ..train.memory import full_batch_gradients

    def make_case(seed, n, micro):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                              nn.Linear(4, 3))
        clips = torch.rand(n, 3, 4, 8, 8)
        labels = torch.randint(0, 3, (n,))
        return model, clips, labels, micro

    def run(model, clips, labels, micro):
        model.zero_grad(set_to_none=True)
        fn(model, clips, labels, micro)
        return {name: p.grad.detach().clone() if p.grad is not None else None for name, p in model.named_parameters()}

    def reference(model, clips, labels, micro):
        return full_batch_gradients(model, clips, labels)

    def compare(got, expected):
        missing = [k for k, v in got.items() if v is None]
        if missing:
            return f"no gradient in .grad for {missing}: call backward() on each micro-batch's loss"
        worst = max(float((got[k] - expected[k]).abs().max()) for k in expected)
        if worst < 1e-5:
            return None
        ratio = float(got["4.bias"].norm() / expected["4.bias"].norm()) if expected["4.bias"].norm() > 0 else 0
        return f"max |difference| to the whole batch's gradient: {worst:.3g} (size ratio {ratio:.2f})"

    cases = [
        Case(make_case(0, 8, 4), name="8 clips in 4 micro-batches",
             hint="divide each micro-batch's mean loss by micro_batches before backward(), or the sum is 4x too big"),
        Case(make_case(1, 6, 3), name="6 clips in 3 micro-batches"),
        Case(make_case(2, 4, 1), name="one micro-batch: an ordinary backward"),
    ]
    return check_function((lambda *a: run(*a)) if callable(fn) else fn, cases, title="accumulate", reference=reference, compare_fn=compare,
                          hint="for x, y in zip(clips.chunk(m), labels.chunk(m)): "
                               "(F.cross_entropy(model(x), y) / m).backward()")
