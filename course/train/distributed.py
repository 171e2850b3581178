"""Data-parallel training with ``torch.distributed`` (chapter 16): what a training script and its launcher share.

``torchrun --nproc-per-node N script.py`` starts N copies of the same script and tells each, in environment variables,
who it is (``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``) and where to meet (``MASTER_ADDR``, ``MASTER_PORT``). Each copy
holds a full replica of the model; ``DistributedDataParallel`` averages the gradients of all replicas after every
backward pass (an all-reduce), so the replicas take identical optimizer steps. The helpers here are the pieces every
such script needs, and nothing more:

- :func:`init_distributed` reads torchrun's variables and joins the process group (``gloo`` on CPU, ``nccl`` on
  CUDA); run without torchrun it returns a single-process context, so the same script also runs as plain ``python``;
- :func:`distributed_loader` gives each process its own slice of every epoch (``DistributedSampler``) and
  :func:`set_epoch` reshuffles per epoch — identically on every process;
- :func:`wrap_model` moves the model to the process's device and wraps it in DDP (``SyncBatchNorm`` on GPUs);
- :func:`log` prints on rank 0 only; :func:`save_on_main` writes the checkpoint from rank 0 only, atomically;
  :func:`resume` loads it on every process;
- :func:`run_torchrun` launches a script under torchrun on this machine (127.0.0.1, a free port) and returns its
  output and ``RESULT`` line — for notebooks and tests.
"""
from __future__ import annotations

import json
import numbers
import os
import re
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..config import data_dir

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class DistContext:
    """Who this process is: ``rank`` in 0..world_size-1, ``local_rank`` on its machine, the ``backend``
    (None when running alone) and the torch ``device`` it computes on."""

    rank: int
    world_size: int
    local_rank: int
    backend: str | None
    device: object  # torch.device

    @property
    def is_main(self) -> bool:
        """True on rank 0: the process that logs and writes checkpoints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when a process group was joined (world_size > 1 under torchrun)."""
        return self.backend is not None


def _env_int(environ, name: str, default: int, minimum: int) -> int:
    text = environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"environment variable {name}={text!r}: expected an integer (torchrun sets it)") from None
    if value < minimum:
        raise ValueError(f"environment variable {name}={value}: expected an integer >= {minimum}")
    return value


def rank_info(environ=None) -> tuple[int, int, int]:
    """``(rank, world_size, local_rank)`` from torchrun's environment variables (``(0, 1, 0)`` when absent).

    ``environ`` defaults to ``os.environ``; a rank outside 0..world_size-1 is a ``ValueError``."""
    environ = os.environ if environ is None else environ
    world_size = _env_int(environ, "WORLD_SIZE", 1, 1)
    rank = _env_int(environ, "RANK", 0, 0)
    local_rank = _env_int(environ, "LOCAL_RANK", rank, 0)
    if rank >= world_size:
        raise ValueError(f"environment variables RANK={rank}, WORLD_SIZE={world_size}: rank must be < world_size")
    return rank, world_size, local_rank


def init_distributed(*, backend: str | None = None, device=None, timeout_s: float = 300.0) -> DistContext:
    """Join the process group torchrun describes, or return a single-process context when not under torchrun.

    ``backend``: default ``"nccl"`` when this process computes on CUDA, else ``"gloo"``. ``device``: default
    ``cuda:<LOCAL_RANK>`` when CUDA is available (one GPU per process), else ``cpu``. ``timeout_s``: how long a
    collective waits for the other processes before failing (a crashed peer then raises instead of hanging forever).
    """
    import datetime

    import torch
    import torch.distributed as dist

    rank, world_size, local_rank = rank_info()
    if backend is not None and backend not in ("gloo", "nccl"):
        raise ValueError(f"init_distributed(backend={backend!r}): expected 'gloo', 'nccl' or None")
    if not isinstance(timeout_s, numbers.Real) or isinstance(timeout_s, bool) or timeout_s <= 0:
        raise ValueError(f"init_distributed(timeout_s={timeout_s!r}): expected a positive number of seconds")
    if device is None:
        device = torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    device = torch.device(device)
    if device.type == "cuda":
        if device.index is None:
            device = torch.device(f"cuda:{local_rank}")
        torch.cuda.set_device(device)
    backend = backend or ("nccl" if device.type == "cuda" else "gloo")
    if backend == "nccl" and device.type != "cuda":
        raise ValueError(f"init_distributed(backend='nccl'): NCCL needs CUDA devices, this process uses {device}; "
                         f"use backend='gloo' on CPU")
    if world_size == 1:
        return DistContext(rank, world_size, local_rank, None, device)
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not os.environ.get(name):
            raise RuntimeError(f"init_distributed: WORLD_SIZE={world_size} but {name} is not set; start the script "
                               f"with torchrun (python -m torch.distributed.run), which sets it")
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=float(timeout_s)))
    return DistContext(rank, world_size, local_rank, backend, device)


def shutdown(ctx: DistContext | None = None) -> None:
    """Leave the process group (call once at the end of the script; harmless when running alone)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(ctx: DistContext) -> None:
    """Wait until every process gets here (a no-op when running alone)."""
    import torch.distributed as dist

    if ctx.distributed:
        dist.barrier()


def log(ctx: DistContext, *parts, **print_kwargs) -> None:
    """``print`` on rank 0 only (flushed at once, so the launcher's output interleaves in order)."""
    if ctx.is_main:
        print(*parts, flush=True, **print_kwargs)


def distributed_loader(dataset, batch_size: int, ctx: DistContext, *, shuffle: bool = True, seed: int = 0,
                       drop_last: bool = True, **loader_kwargs):
    """A DataLoader that gives this process its share of every epoch: ``batch_size`` items per step *per process*.

    ``dataset``: map-style, items (clip (C, T, H, W), label). A ``DistributedSampler`` with ``world_size`` replicas
    permutes the indices with ``seed + epoch`` (the same permutation on every process) and gives rank ``r`` positions
    ``r, r + world_size, ...``; call :func:`set_epoch` before each epoch or every epoch repeats the first one's order.
    With ``world_size == 1`` it is an ordinary shuffled loader, so a script behaves the same with and without torchrun.
    ``drop_last`` drops the tail so that every process runs the same number of equal-sized steps. Extra keyword
    arguments (``num_workers``, ``pin_memory``, ...) go to the DataLoader.
    """
    from torch.utils.data import DataLoader, DistributedSampler

    if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
        raise TypeError(f"distributed_loader(dataset): expected a map-style dataset, got {type(dataset).__name__}")
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"distributed_loader(batch_size={batch_size!r}): expected a positive int (per process)")
    if not isinstance(ctx, DistContext):
        raise TypeError(f"distributed_loader(ctx): expected a DistContext from init_distributed, got "
                        f"{type(ctx).__name__}")
    taken = sorted({"sampler", "batch_sampler", "shuffle"} & set(loader_kwargs))
    if taken:
        raise ValueError(f"distributed_loader({', '.join(taken)}): the DistributedSampler decides the order; pass "
                         f"shuffle=True/False to distributed_loader itself")
    if len(dataset) < ctx.world_size * batch_size:
        raise ValueError(f"distributed_loader: {len(dataset)} items are fewer than one step needs "
                         f"({ctx.world_size} processes x batch_size {batch_size})")
    sampler = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle, seed=seed,
                                 drop_last=drop_last)
    return DataLoader(dataset, batch_size=int(batch_size), sampler=sampler, drop_last=drop_last, **loader_kwargs)


def set_epoch(loader, epoch: int) -> None:
    """Tell ``loader``'s DistributedSampler which epoch starts, so every epoch gets a new (shared) permutation."""
    sampler = getattr(loader, "sampler", None)
    if not hasattr(sampler, "set_epoch"):
        raise TypeError(f"set_epoch(loader): its sampler ({type(sampler).__name__}) has no set_epoch; build the "
                        f"loader with distributed_loader")
    if not isinstance(epoch, numbers.Integral) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"set_epoch(epoch={epoch!r}): expected a non-negative int")
    sampler.set_epoch(int(epoch))


def wrap_model(model, ctx: DistContext, *, sync_batchnorm: bool = False):
    """Move ``model`` to ``ctx.device`` and, under torchrun, wrap it in ``DistributedDataParallel``.

    DDP broadcasts rank 0's weights at construction (so the replicas start equal) and all-reduces (averages) the
    gradients during ``backward()``. ``sync_batchnorm=True`` first converts every BatchNorm to ``SyncBatchNorm``,
    whose statistics cover the whole global batch; PyTorch implements it for GPUs only, so on CPU it is a
    ``ValueError`` (use a BatchNorm-free model or accept per-process statistics there).
    """
    import torch
    from torch.nn.parallel import DistributedDataParallel

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"wrap_model(model): expected a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(ctx, DistContext):
        raise TypeError(f"wrap_model(ctx): expected a DistContext from init_distributed, got {type(ctx).__name__}")
    if sync_batchnorm and ctx.device.type == "cpu":
        raise ValueError("wrap_model(sync_batchnorm=True): PyTorch's SyncBatchNorm runs on GPUs only; on CPU use a "
                         "BatchNorm-free model (or GroupNorm), or plain BatchNorm with per-process statistics")
    model = model.to(ctx.device)
    if not ctx.distributed:
        return model
    if sync_batchnorm:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model):
    """The model inside a DDP wrapper (what a checkpoint stores), or ``model`` itself."""
    return getattr(model, "module", model)


def mean_over_processes(value: float, ctx: DistContext) -> float:
    """The mean of a number (e.g. this process's loss) over all processes; ``value`` itself when running alone."""
    import torch
    import torch.distributed as dist

    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"mean_over_processes(value): expected a number, got {type(value).__name__}")
    if not ctx.distributed:
        return float(value)
    t = torch.tensor([float(value)], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return float(t.item()) / ctx.world_size


def checkpoint_path(run_name: str, path=None) -> Path:
    """Where a run's checkpoint lives: ``path`` if the user gives one, else
    ``course.config.data_dir("ddp_runs", run_name) / "checkpoint.pt"`` (the course writes nowhere else)."""
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"checkpoint_path(path): expected a file path or None, got {type(path).__name__}")
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"checkpoint_path(path={str(path)!r}): that is a folder; give a file name such as "
                             f"'run.pt'")
        return path
    if not isinstance(run_name, str) or not _NAME_RE.match(run_name):
        raise ValueError(f"checkpoint_path(run_name={run_name!r}): expected a plain name (letters, digits, '_.-')")
    return data_dir("ddp_runs", run_name) / "checkpoint.pt"


def save_on_main(ctx: DistContext, path, *, model, optimizer, step: int, epoch: int = 0,
                 extra: dict | None = None) -> None:
    """Rank 0 writes the checkpoint (atomically, with ``course.train.save_checkpoint``); every process then waits at
    a barrier, so nobody runs ahead of a checkpoint that is being written.

    All replicas hold the same weights (DDP keeps them equal), so one copy is enough. ``step``: optimizer steps done.
    """
    from .checkpoint import save_checkpoint

    if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 0:
        raise ValueError(f"save_on_main(step={step!r}): expected a non-negative int (optimizer steps done)")
    if ctx.is_main:
        save_checkpoint(path, model=unwrap(model), optimizer=optimizer, epoch=int(epoch),
                        extra={"step": int(step), "world_size": ctx.world_size, **(extra or {})})
    barrier(ctx)


def resume(ctx: DistContext, path, *, model, optimizer) -> int:
    """Load the checkpoint at ``path`` into ``model`` (wrapped or not) and ``optimizer`` on every process and return
    the number of optimizer steps it holds; 0 (and nothing loaded) when there is no checkpoint yet."""
    from .checkpoint import load_checkpoint

    path = Path(path)
    if not path.exists():
        return 0
    state = load_checkpoint(path, unwrap(model), optimizer, map_location=ctx.device)
    return int(state["extra"].get("step", 0))


# --------------------------------------------------------------------------------------------------------------------
# Launching (notebooks and tests)
# --------------------------------------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (for ``--master-port``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun_command(script, args=(), *, nproc: int = 2, port: int | None = None, max_restarts: int = 0) -> list[str]:
    """The command line that runs ``script`` under torchrun on this machine: ``nproc`` processes meeting at
    127.0.0.1:``port`` (default: a free port). ``python -m torch.distributed.run`` is the ``torchrun`` command."""
    for name, value, minimum in (("nproc", nproc, 1), ("max_restarts", max_restarts, 0)):
        if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"torchrun_command({name}={value!r}): expected an int >= {minimum}")
    if isinstance(args, (str, bytes)):
        raise TypeError("torchrun_command(args): expected a list of arguments, not one string")
    port = free_port() if port is None else port
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc-per-node", str(nproc),
            "--master-addr", "127.0.0.1", "--master-port", str(port), "--max-restarts", str(max_restarts),
            str(script), *[str(a) for a in args]]


def launch_env(threads: int = 1, extra: dict | None = None) -> dict:
    """The environment for the launched processes: ``threads`` torch threads each, gloo on the loopback device
    (nothing leaves the machine), and the current ``sys.path`` so they import the same ``course``."""
    if not isinstance(threads, numbers.Integral) or isinstance(threads, bool) or threads < 1:
        raise ValueError(f"launch_env(threads={threads!r}): expected a positive int")
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    elif sys.platform == "darwin":
        env.setdefault("GLOO_SOCKET_IFNAME", "lo0")
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")]).strip(os.pathsep)
    env.update(extra or {})
    return env


def parse_result(output: str) -> dict | None:
    """The JSON of the last ``RESULT {...}`` line of a benchmark's output, or None when there is none."""
    if not isinstance(output, str):
        raise TypeError(f"parse_result(output): expected the output text, got {type(output).__name__}")
    for line in reversed(output.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return None


@dataclass
class LaunchResult:
    """What :func:`run_torchrun` saw: the ``command``, its ``returncode``, the merged ``output``, the parsed
    ``RESULT`` JSON (None if the run printed none) and the wall-clock ``seconds``."""

    command: list
    returncode: int
    output: str
    result: dict | None
    seconds: float

    def check(self) -> dict:
        """The RESULT dict; a RuntimeError with the output's tail when the run failed or printed no RESULT."""
        if self.returncode != 0 or self.result is None:
            tail = "\n".join(self.output.splitlines()[-40:])
            raise RuntimeError(f"torchrun run failed (exit code {self.returncode}):\n{tail}")
        return self.result


def run_torchrun(script, args=(), *, nproc: int = 2, timeout_s: float = 300.0, threads: int = 1,
                 env: dict | None = None) -> LaunchResult:
    """Run ``script`` under torchrun with ``nproc`` processes on this machine and wait for it (at most
    ``timeout_s`` seconds; then the whole process group is killed and ``subprocess.TimeoutExpired`` raised)."""
    import signal

    script = Path(script)
    if not script.is_file():
        raise FileNotFoundError(f"run_torchrun(script={str(script)!r}): no such file")
    if not isinstance(timeout_s, numbers.Real) or isinstance(timeout_s, bool) or timeout_s <= 0:
        raise ValueError(f"run_torchrun(timeout_s={timeout_s!r}): expected a positive number of seconds")
    command = torchrun_command(script, args, nproc=nproc)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=launch_env(threads, env), start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise
    return LaunchResult(command, proc.returncode, output, parse_result(output), time.perf_counter() - start)


def interrupt_run(script, args=(), *, checkpoint, nproc: int = 2, kill_rank: int = 1, timeout_s: float = 300.0,
                  threads: int = 1, env: dict | None = None) -> LaunchResult:
    """Start ``script`` under torchrun, wait until its first ``checkpoint`` file appears, then kill the worker of
    rank ``kill_rank`` with SIGKILL (``kill -9``: no clean-up, no exception handler runs) and wait for torchrun to
    give up. Returns what the run printed; its ``returncode`` is nonzero. Linux and macOS (finds the worker through
    ``psutil``, which Jupyter installs)."""
    import signal

    import psutil

    checkpoint = Path(checkpoint)
    if not isinstance(kill_rank, numbers.Integral) or isinstance(kill_rank, bool) or not 0 <= kill_rank < nproc:
        raise ValueError(f"interrupt_run(kill_rank={kill_rank!r}): expected a rank from 0 to {nproc - 1}")
    if checkpoint.exists():
        raise FileExistsError(f"interrupt_run(checkpoint={str(checkpoint)!r}): already exists; the run would not be "
                              f"interrupted after its own first checkpoint. Delete it or choose another path")
    command = torchrun_command(script, args, nproc=nproc)
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=launch_env(threads, env), start_new_session=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not checkpoint.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"interrupt_run: the run ended (exit code {proc.returncode}) before writing "
                                   f"{checkpoint}:\n{proc.communicate()[0][-3000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"interrupt_run: no checkpoint at {checkpoint} within {timeout_s} s")
            time.sleep(0.05)
        workers = [p for p in psutil.Process(proc.pid).children(recursive=True)
                   if p.environ().get("RANK") == str(kill_rank) and str(script) in " ".join(p.cmdline())]
        if len(workers) != 1:
            raise RuntimeError(f"interrupt_run: expected one worker of rank {kill_rank}, found {len(workers)}")
        os.kill(workers[0].pid, signal.SIGKILL)
        output, _ = proc.communicate(timeout=max(deadline - time.monotonic(), 30))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return LaunchResult(command, proc.returncode, output, parse_result(output), time.perf_counter() - start)
