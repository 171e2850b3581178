"""Data-parallel training with DistributedDataParallel: one script for 1 process, N CPU processes or N GPUs (chapter 16).

Start it with torchrun, which runs N copies and tells each its rank:

    torchrun --nproc-per-node 2 benchmarks/ddp_train.py                     # 2 CPU processes (gloo) or 2 GPUs (nccl)
    python -m torch.distributed.run --nproc-per-node 2 benchmarks/ddp_train.py --steps 60 --resume
    python benchmarks/ddp_train.py                                            # one process, no torchrun needed

Each process builds the same small 3D CNN, DDP averages the gradients of all processes after every backward pass,
and a ``DistributedSampler`` gives each process its own share of every epoch. Rank 0 logs and writes the checkpoint
(atomically, every ``--checkpoint-every`` steps, inside the course data cache unless ``--checkpoint`` says where);
``--resume`` continues from it — after a crash, a kill -9 of any worker or a preempted job — to the very weights an
uninterrupted run reaches.

The equivalence check: after training, rank 0 trains the same model in a single process with the global batch
(``world_size x --batch-size``) on the same clips for the same steps and prints the largest weight difference
(``max_weight_diff``: float rounding only when data parallelism is exact) and, as a control that shows the check can
fail, the difference to a single process with the per-process batch (``max_weight_diff_control``). The model has no
BatchNorm by default; ``--norm bn`` shows why BatchNorm breaks the equivalence (each process normalises with its own
batch's statistics) and ``--norm syncbn`` fixes it with SyncBatchNorm (GPUs only in PyTorch).

The last line is ``RESULT {json}`` with world_size, backend, steps, max_weight_diff, seconds and more.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

from course.config import data_dir, seed_everything
from course.train.checkpoint import atomic_torch_save
from course.train.distributed import (DistContext, barrier, checkpoint_path, distributed_loader, init_distributed, log,
                                      mean_over_processes, resume, save_on_main, set_epoch, shutdown, unwrap,
                                      wrap_model)


def build_model(norm: str = "none", num_classes: int = 10) -> nn.Module:
    """Two 3x3x3 conv stages (8, 16 channels; BatchNorm after each conv unless ``norm == "none"``), global pooling,
    a linear head: (N, 3, T, H, W) -> (N, num_classes)."""
    layers: list[nn.Module] = []
    for c_in, c_out in ((3, 8), (8, 16)):
        layers.append(nn.Conv3d(c_in, c_out, 3, padding=1, bias=norm == "none"))
        if norm != "none":
            layers.append(nn.BatchNorm3d(c_out))
        layers += [nn.ReLU(inplace=True), nn.AvgPool3d((1, 2, 2))]
    return nn.Sequential(*layers, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(16, num_classes))


def data_path(args) -> str:
    """The clips file: ``--data`` or one per setting in the data cache (every process reads the same file)."""
    if args.data:
        return args.data
    name = f"moving_shapes_{args.clips}x{args.frames}x{args.size}_seed{args.seed}.pt"
    return str(data_dir("ddp_runs") / name)


def prepare_data(path, *, clips: int, frames: int, size: int, seed: int) -> None:
    """Render ``clips`` MovingShapes training clips (3 x frames x size x size) once and save them, atomically, as
    ``{"clips": uint8 (N, 3, T, H, W), "labels": int64 (N,)}``. Only rank 0 calls this; the others wait, then read."""
    from course.data import MovingShapes, tensor_dataset  # imported only when the file has to be made

    data = tensor_dataset(MovingShapes("train", num_clips=clips, num_frames=frames, size=size, seed=seed))
    atomic_torch_save({"clips": data.tensors[0].mul(255).round().to(torch.uint8), "labels": data.tensors[1]}, path)


def load_data(path) -> torch.utils.data.TensorDataset:
    """The clips of :func:`prepare_data` as a TensorDataset of (float clip (3, T, H, W) in [0, 1], label)."""
    saved = torch.load(path, weights_only=True)
    return torch.utils.data.TensorDataset(saved["clips"].float().div(255), saved["labels"])


def make_optimizer(model: nn.Module, lr: float) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def train_steps(model, loader, optimizer, *, steps: int, start_step: int = 0, on_step=None, sleep: float = 0.0):
    """Optimizer steps ``start_step + 1 .. steps`` over ``loader`` (a :func:`distributed_loader`); returns this
    process's losses. The epoch and the position inside it follow from the step count, so a resumed run sees exactly
    the batches an uninterrupted one would."""
    model.train()
    steps_per_epoch = len(loader)
    losses, step = [], start_step
    while step < steps:
        epoch, offset = divmod(step, steps_per_epoch)
        set_epoch(loader, epoch)
        for i, (clips, labels) in enumerate(loader):
            if i < offset:  # already done before the interruption
                continue
            device = next(model.parameters()).device
            loss = F.cross_entropy(model(clips.to(device)), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # under DDP: the gradients are averaged over all processes here
            optimizer.step()
            step += 1
            losses.append(float(loss.detach()))
            if sleep:
                time.sleep(sleep)
            if on_step is not None:
                on_step(step, epoch, losses[-1])
            if step >= steps:
                break
    return losses


def max_weight_difference(a: nn.Module, b: nn.Module) -> float:
    """The largest |difference| between corresponding parameters of two models of the same architecture."""
    return max(float((p.detach().cpu() - q.detach().cpu()).abs().max())
               for p, q in zip(unwrap(a).parameters(), unwrap(b).parameters()))


def single_process_run(data, args, batch_size: int) -> nn.Module:
    """The same training in this process alone (no DDP), with ``batch_size`` clips per step."""
    seed_everything(args.seed)
    model = build_model("bn" if args.norm != "none" else "none")
    alone = DistContext(rank=0, world_size=1, local_rank=0, backend=None, device=torch.device("cpu"))
    loader = distributed_loader(data, batch_size, alone, seed=args.seed)
    train_steps(model, loader, make_optimizer(model, args.lr), steps=args.steps)
    return model


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40, help="optimizer steps in total (default 40)")
    parser.add_argument("--batch-size", type=int, default=8, help="clips per step per process (default 8)")
    parser.add_argument("--clips", type=int, default=256, help="MovingShapes training clips (default 256)")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--data", default=None, help="clips file (default: rendered once into the data cache)")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--norm", choices=("none", "bn", "syncbn"), default="none",
                        help="none: no BatchNorm (exact equivalence); bn: per-process statistics; syncbn: GPUs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    parser.add_argument("--run-name", default="ddp_train", help="checkpoint folder in the data cache")
    parser.add_argument("--checkpoint", default=None, help="checkpoint file (default: <data cache>/ddp_runs/<run>/)")
    parser.add_argument("--checkpoint-every", type=int, default=10, help="steps between checkpoints (default 10)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint if there is one")
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the single-process comparison (max_weight_diff is then null)")
    parser.add_argument("--sleep", type=float, default=0.0,
                        help="seconds to wait after each step: makes a tiny run slow enough to interrupt by hand")
    args = parser.parse_args(argv)
    for name in ("steps", "batch_size", "clips", "threads", "checkpoint_every", "log_every"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    return args


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    ctx = init_distributed()
    torch.set_num_threads(args.threads)
    log(ctx, f"world_size {ctx.world_size} | backend {ctx.backend or 'none (one process)'} | device {ctx.device} | "
        f"{args.batch_size} clips per process per step = {args.batch_size * ctx.world_size} per step | "
        f"{args.threads} thread(s) per process")
    clips_file = data_path(args)
    if ctx.is_main and not os.path.exists(clips_file):
        log(ctx, f"rendering {args.clips} clips into {clips_file} (once)")
        prepare_data(clips_file, clips=args.clips, frames=args.frames, size=args.size, seed=args.seed)
    barrier(ctx)  # the others wait for the file: on a cluster it would be on storage all nodes share
    data = load_data(clips_file)
    seed_everything(args.seed)
    model = wrap_model(build_model(args.norm), ctx, sync_batchnorm=args.norm == "syncbn")
    optimizer = make_optimizer(model, args.lr)
    path = checkpoint_path(args.run_name, args.checkpoint)
    start_step = resume(ctx, path, model=model, optimizer=optimizer) if args.resume else 0
    if start_step:
        log(ctx, f"resumed from {path} at step {start_step}")
    loader = distributed_loader(data, args.batch_size, ctx, seed=args.seed)
    log(ctx, f"{len(data)} clips, {len(loader)} steps per epoch, checkpoint {path}")

    window: list[float] = []

    def on_step(step: int, epoch: int, loss: float) -> None:
        window.append(loss)
        if step % args.log_every == 0 or step == args.steps:
            log(ctx, f"step {step:4d}/{args.steps}  epoch {epoch}  loss {mean_over_processes(sum(window) / len(window), ctx):.4f}"
                " (mean over processes)")
            window.clear()
        if step % args.checkpoint_every == 0 or step == args.steps:
            save_on_main(ctx, path, model=model, optimizer=optimizer, step=step, epoch=epoch)

    started = time.perf_counter()
    losses = train_steps(model, loader, optimizer, steps=args.steps, start_step=start_step, on_step=on_step,
                         sleep=args.sleep)
    seconds = time.perf_counter() - started
    result = None
    if ctx.is_main:
        done = args.steps - start_step
        result = {"world_size": ctx.world_size, "backend": ctx.backend, "device": str(ctx.device),
                  "norm": args.norm, "steps": args.steps, "resumed_from_step": start_step,
                  "batch_per_process": args.batch_size, "global_batch": args.batch_size * ctx.world_size,
                  "threads_per_process": args.threads, "seconds": round(seconds, 3),
                  "clips_per_s": round(done * args.batch_size * ctx.world_size / seconds, 1) if seconds > 0 else None,
                  "first_loss": losses[0] if losses and not start_step else None,
                  "last_loss": losses[-1] if losses else None, "checkpoint": str(path),
                  "max_weight_diff": None, "max_weight_diff_control": None}
        if not args.no_reference:
            if args.norm == "syncbn":
                log(ctx, "reference: SyncBatchNorm's single-process twin is BatchNorm over the global batch")
            result["max_weight_diff"] = max_weight_difference(
                model, single_process_run(data, args, args.batch_size * ctx.world_size))
            result["max_weight_diff_control"] = max_weight_difference(
                model, single_process_run(data, args, args.batch_size))
            log(ctx, f"max |weight difference| to one process with batch {result['global_batch']}: "
                f"{result['max_weight_diff']:.3g}; to one process with batch {args.batch_size} (control): "
                f"{result['max_weight_diff_control']:.3g}")
    barrier(ctx)
    log(ctx, "RESULT " + json.dumps(result))
    shutdown(ctx)
    return result


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
