"""Checkpoints that survive interruptions and make a resumed run identical to an uninterrupted one.

A checkpoint holds the model, optimizer, scheduler and gradient-scaler states, the epoch, and every random-number
state that training consumes: Python's ``random``, NumPy's global generator, torch's CPU and CUDA generators, and the
generator(s) a ``DataLoader`` shuffles with. It is written atomically: to a temporary file in the same folder, flushed
to disk, then renamed over the old one with ``os.replace`` — so an interruption (Ctrl-C, a crash, a full disk) at any
moment leaves either the old checkpoint or the new one, never a half-written file.

Checkpoints are loaded with ``torch.load(weights_only=True)``: they contain only tensors and plain Python values, so
loading one cannot run code.
"""
from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

import numpy as np

FORMAT = "course.train.checkpoint/1"


# --------------------------------------------------------------------------------------------------------------------
# Random-number states
# --------------------------------------------------------------------------------------------------------------------

def rng_state() -> dict:
    """The current states of Python's, NumPy's (global) and torch's (CPU and CUDA) random generators."""
    import torch

    np_state = np.random.get_state(legacy=False)
    state = {
        "python": random.getstate(),
        "numpy": {"bit_generator": np_state["bit_generator"],
                  "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": int(np_state["state"]["pos"]), "has_gauss": int(np_state["has_gauss"]),
                  "gauss": float(np_state["gauss"])},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
    }
    return state


def set_rng_state(state: dict) -> None:
    """Restore the generator states saved by :func:`rng_state`."""
    import torch

    random.setstate(_as_tuples(state["python"]))
    np_state = state["numpy"]
    np.random.set_state({"bit_generator": np_state["bit_generator"],
                         "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
                         "has_gauss": np_state["has_gauss"], "gauss": np_state["gauss"]})
    torch.set_rng_state(state["torch"])
    cuda_states = state.get("cuda") or []
    if cuda_states and torch.cuda.is_available():
        if len(cuda_states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda_states)
        else:
            warnings.warn(f"checkpoint has CUDA RNG states for {len(cuda_states)} GPUs, this machine has "
                          f"{torch.cuda.device_count()}; CUDA random numbers will differ from the original run")


def _as_tuples(value):
    """random.setstate needs tuples; a round trip through some serializers turns them into lists."""
    if isinstance(value, (list, tuple)):
        return tuple(_as_tuples(v) for v in value)
    return value


def loader_generators(loader) -> dict:
    """The torch.Generator objects a DataLoader draws from (its own, its sampler's), by role name.

    A ``DataLoader(..., shuffle=True, generator=g)`` draws each epoch's order and worker seeds from ``g``; without a
    generator it draws from torch's global generator, which :func:`rng_state` covers.
    """
    import torch

    candidates = [("loader", getattr(loader, "generator", None)),
                  ("sampler", getattr(getattr(loader, "sampler", None), "generator", None)),
                  ("batch_sampler.sampler",
                   getattr(getattr(getattr(loader, "batch_sampler", None), "sampler", None), "generator", None))]
    found, seen = {}, set()
    for role, gen in candidates:
        if isinstance(gen, torch.Generator) and id(gen) not in seen:
            seen.add(id(gen))
            found[role] = gen
    return found


def loader_rng_state(loader) -> dict:
    """``{role: generator state}`` for :func:`loader_generators`."""
    return {role: gen.get_state() for role, gen in loader_generators(loader).items()}


def set_loader_rng_state(loader, state: dict) -> None:
    """Restore the states saved by :func:`loader_rng_state` into ``loader``'s generators (warns on a mismatch)."""
    gens = loader_generators(loader)
    if set(gens) != set(state):
        warnings.warn(f"the DataLoader's generators {sorted(gens)} differ from the checkpoint's {sorted(state)}: "
                      "the resumed run will shuffle differently from the original one")
    for role, gen in gens.items():
        if role in state:
            gen.set_state(state[role])


# --------------------------------------------------------------------------------------------------------------------
# Saving and loading
# --------------------------------------------------------------------------------------------------------------------

def _check_path(fn: str, path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}(path): expected a file path (str or pathlib.Path), got {type(path).__name__}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{fn}(path={str(path)!r}): that is a folder; give a file name such as 'run.pt'")
    return path


def _has_state(fn: str, name: str, obj) -> None:
    if obj is not None and not (hasattr(obj, "state_dict") and hasattr(obj, "load_state_dict")):
        raise TypeError(f"{fn}({name}): expected an object with state_dict()/load_state_dict(), got {type(obj).__name__}")


def atomic_torch_save(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``.

    If anything (including KeyboardInterrupt) stops the write, the temp file is removed and ``path`` is untouched.
    """
    import torch

    path = _check_path("atomic_torch_save", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX); harmless to skip elsewhere
        try:
            fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass
    return path


def save_checkpoint(path, *, model, optimizer=None, scheduler=None, scaler=None, epoch: int = 0,
                    loader=None, extra: dict | None = None) -> Path:
    """Write a checkpoint atomically and return its path.

    Saves ``model.state_dict()``, the optimizer/scheduler/``GradScaler`` states when given, ``epoch`` (the number of
    finished epochs), all global RNG states, the shuffling generator state of ``loader`` (a DataLoader) when given,
    and ``extra`` (a dict of tensors and plain Python values, e.g. the history).
    """
    import torch

    fn = "save_checkpoint"
    path = _check_path(fn, path)
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{fn}(model): expected a torch.nn.Module, got {type(model).__name__}")
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        _has_state(fn, name, obj)
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise ValueError(f"{fn}(epoch={epoch!r}): expected a non-negative int (the number of finished epochs)")
    if extra is not None and not isinstance(extra, dict):
        raise TypeError(f"{fn}(extra): expected a dict, got {type(extra).__name__}")
    state = {
        "format": FORMAT,
        "torch_version": str(torch.__version__),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_state(),
        "loader_rng": loader_rng_state(loader) if loader is not None else None,
        "extra": extra or {},
    }
    return atomic_torch_save(state, path)


def load_checkpoint(path, model=None, optimizer=None, scheduler=None, scaler=None, *, map_location="cpu",
                    restore_rng: bool = False, loader=None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` and load it into the objects given.

    ``model``, ``optimizer``, ``scheduler`` and ``scaler`` (each optional) get their saved states; with
    ``restore_rng=True`` the global RNG states are restored too, and ``loader``'s shuffling generator when given.
    Returns the whole checkpoint dict (``"epoch"``, ``"extra"``, ...).
    """
    import torch

    fn = "load_checkpoint"
    path = _check_path(fn, path)
    if not path.exists():
        raise FileNotFoundError(f"{fn}(path={str(path)!r}): no such checkpoint file")
    for name, obj in (("model", model), ("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        _has_state(fn, name, obj)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 — a damaged file can fail inside the unpickler in many ways
        first_line = (str(err).strip().splitlines() or [""])[0][:200]
        raise ValueError(f"{fn}(path={str(path)!r}): not a readable checkpoint — damaged, truncated or not written by "
                         f"save_checkpoint ({type(err).__name__}: {first_line})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{fn}(path={str(path)!r}): not a course.train checkpoint (expected format {FORMAT!r})")
    if model is not None:
        model.load_state_dict(state["model"])
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if obj is None:
            continue
        if state[name] is None:
            raise ValueError(f"{fn}({name}=...): the checkpoint {str(path)!r} holds no {name} state")
        obj.load_state_dict(state[name])
    if restore_rng:
        set_rng_state(state["rng"])
        if loader is not None and state.get("loader_rng") is not None:
            set_loader_rng_state(loader, state["loader_rng"])
    return state
