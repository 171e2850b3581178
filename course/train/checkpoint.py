"""Checkpoints that survive interruptions and make a resumed run identical to an uninterrupted one.

A checkpoint holds the model, optimizer, scheduler and gradient-scaler states, the epoch, and every random-number
state that training consumes: Python's ``random``, NumPy's global generator, torch's CPU and CUDA generators, and the
generator(s) a ``DataLoader`` shuffles with. It is written atomically: to a temporary file in the same folder, flushed
to disk, then renamed over the old one with ``os.replace`` — so an interruption (Ctrl-C, a crash, a full disk) at any
moment leaves either the old checkpoint or the new one, never a half-written file; a full disk is an ``OSError``
that says so.

Checkpoints are loaded with ``torch.load(weights_only=True)``: they contain only tensors and plain Python values, so
loading one cannot run code. The serialized state is stored together with its SHA-256, verified on every load, so a
damaged file (a flipped bit, a bad copy) is a clear error instead of silently different weights. ``extra`` is checked
when saving (NumPy scalars and paths become plain Python values; anything else that could not be loaded back is
refused), so a bad value fails at the first save rather than at resume time.
"""
from __future__ import annotations

import hashlib
import io
import os
import random
import time
import warnings
from pathlib import Path

import numpy as np

FORMAT = "course.train.checkpoint/2"     # {"format", "sha256", "payload": uint8 tensor holding the torch.save'd state}
_FORMAT_V1 = "course.train.checkpoint/1"  # the state itself, without a checksum (still readable)


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


def _process_alive(pid: int) -> bool:
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows; judge by age instead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: it exists, owned by someone else
        return True
    return True


def _remove_stale_temporaries(path: Path, max_age_s: float = 600.0) -> None:
    """Delete ``.<name>.<pid>.tmp`` files a killed save of this same checkpoint left behind.

    A temporary is stale when its process is gone (POSIX) or, where that cannot be asked, when it is older than
    ``max_age_s``; a save in progress in another live process is left alone."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        pid_text = tmp.name[len(path.name) + 2:-4]
        if not pid_text.isdigit() or int(pid_text) == os.getpid():
            continue
        try:
            old = time.time() - tmp.stat().st_mtime > max_age_s
            if not _process_alive(int(pid_text)) or (os.name != "posix" and old):
                tmp.unlink()
        except OSError:
            pass


def atomic_torch_save(obj, path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``.

    If anything (including KeyboardInterrupt) stops the write, the temp file is removed and ``path`` is untouched. A
    full disk (``OSError`` ENOSPC, or the ``RuntimeError`` torch's zip writer raises then) is an ``OSError(ENOSPC)``
    that says so and what to do.
    """
    import torch

    path = _check_path("atomic_torch_save", path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        from ..data.download import disk_full_error, is_disk_full

        if is_disk_full(err):
            raise disk_full_error("save_checkpoint", path, err, advice="free some space (older checkpoints, the data "
                                  "cache) or save to a folder on another disk; the previous file at this path, if any, "
                                  "is untouched") from None
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


_PLAIN = (type(None), bool, int, float, str, bytes)


def _plain_extra(value, where: str):
    """``value`` with NumPy scalars and paths turned into plain Python values; TypeError for what cannot be loaded."""
    import torch

    if isinstance(value, np.generic):  # first: np.float64 is also a float, but weights_only refuses it
        return value.item()
    if isinstance(value, _PLAIN) or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (list, tuple)):
        items = [_plain_extra(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = _plain_extra(k, f"{where} key {k!r}")
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise TypeError(f"save_checkpoint(extra): {where} has a key of type {type(k).__name__}; use str or int")
            out[key] = _plain_extra(v, f"{where}[{k!r}]")
        return out
    hint = " (convert it with torch.from_numpy(...) or .tolist())" if isinstance(value, np.ndarray) else ""
    raise TypeError(f"save_checkpoint(extra): {where} is a {type(value).__name__}{hint}; a checkpoint holds only "
                    f"tensors, numbers, strings, None and lists/tuples/dicts of them, so it could not be loaded back")


def _serialize(obj) -> bytes:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


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
    extra = _plain_extra(extra or {}, "extra")
    try:
        torch.load(io.BytesIO(_serialize(extra)), weights_only=True)
    except Exception as err:  # noqa: BLE001 — e.g. a tensor subclass weights_only refuses
        raise TypeError(f"{fn}(extra): could not be loaded back with weights_only=True ({type(err).__name__}: "
                        f"{str(err).splitlines()[0][:200]}); keep it to tensors and plain Python values") from None
    state = {
        "format": FORMAT,
        "torch_version": str(torch.__version__),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "optimizer_class": type(optimizer).__name__ if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "rng": rng_state(),
        "loader_rng": loader_rng_state(loader) if loader is not None else None,
        "extra": extra,
    }
    payload = _serialize(state)
    digest = hashlib.sha256(payload).hexdigest()
    blob = torch.frombuffer(bytearray(payload), dtype=torch.uint8)
    return atomic_torch_save({"format": FORMAT, "sha256": digest, "payload": blob}, path)


def _read_verified(fn: str, path: Path, map_location) -> dict:
    """torch.load the file (weights only), verify the payload's SHA-256, and return the state dict."""
    import torch

    def unreadable(err: Exception):
        first_line = (str(err).strip().splitlines() or [""])[0][:200]
        return ValueError(f"{fn}(path={str(path)!r}): not a readable checkpoint — damaged, truncated or not written by "
                          f"save_checkpoint ({type(err).__name__}: {first_line})")

    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 — a damaged file can fail inside the unpickler in many ways
        raise unreadable(err) from None
    if isinstance(outer, dict) and outer.get("format") == _FORMAT_V1:  # written before checksums: nothing to verify
        return torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise ValueError(f"{fn}(path={str(path)!r}): not a course.train checkpoint (expected format {FORMAT!r})")
    blob = outer.get("payload")
    if not isinstance(blob, torch.Tensor) or blob.dtype != torch.uint8 or not isinstance(outer.get("sha256"), str):
        raise ValueError(f"{fn}(path={str(path)!r}): damaged checkpoint (its payload or checksum is missing)")
    payload = blob.numpy().tobytes()
    actual = hashlib.sha256(payload).hexdigest()
    if actual != outer["sha256"]:
        raise ValueError(f"{fn}(path={str(path)!r}): damaged checkpoint — its contents have SHA-256 {actual}, but "
                         f"{outer['sha256']} was recorded when it was saved (a corrupted disk or copy). Use an older "
                         f"checkpoint or train again.")
    try:
        state = torch.load(io.BytesIO(payload), map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise unreadable(err) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{fn}(path={str(path)!r}): not a course.train checkpoint (expected format {FORMAT!r})")
    return state


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
    state = _read_verified(fn, path, map_location)
    if model is not None:
        model.load_state_dict(state["model"])
    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler), ("scaler", scaler)):
        if obj is None:
            continue
        if state[name] is None:
            raise ValueError(f"{fn}({name}=...): the checkpoint {str(path)!r} holds no {name} state")
        saved_class = state.get(f"{name}_class")
        if name == "optimizer" and saved_class is not None and saved_class != type(obj).__name__:
            raise ValueError(f"{fn}(optimizer=...): the checkpoint {str(path)!r} holds the state of a {saved_class} "
                             f"optimizer, but a {type(obj).__name__} was given; resume with the same optimizer class")
        try:
            obj.load_state_dict(state[name])
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(f"{fn}({name}=...): the {name} state in {str(path)!r} does not fit the "
                             f"{type(obj).__name__} given ({type(err).__name__}: {err}); was it saved with a "
                             f"different {name} or different parameter groups?") from None
    if restore_rng:
        set_rng_state(state["rng"])
        if loader is not None and state.get("loader_rng") is not None:
            set_loader_rng_state(loader, state["loader_rng"])
    return state
