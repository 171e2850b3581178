"""Shipped checkpoints: small models trained on the course's datasets, so a CPU learner can skip long training.

The files live in ``course/models/pretrained/`` (package data, each <= 10 MB) next to ``manifest.json``, which records
for every checkpoint its file, SHA-256, the builder and arguments that make the model, and how it was trained.
:func:`load_pretrained` verifies the checksum before loading, so a truncated, tampered or missing file is a clear
error rather than a silently wrong model. ``python benchmarks/train_checkpoints.py`` regenerates the files and the
manifest.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import nn

from .c3d import C3D, c3d_small
from .cnn_lstm import CNNLSTM
from .frame_baselines import EarlyFusion, LateFusion, SingleFrameCNN, SlowFusion
from .transformer import VideoTransformer

PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"
MANIFEST = "manifest.json"

#: The builders a manifest entry may name (never arbitrary code from the manifest).
BUILDERS = {
    "C3D": C3D, "c3d_small": c3d_small, "CNNLSTM": CNNLSTM, "SingleFrameCNN": SingleFrameCNN,
    "LateFusion": LateFusion, "EarlyFusion": EarlyFusion, "SlowFusion": SlowFusion,
    "VideoTransformer": VideoTransformer,
}


class PretrainedError(RuntimeError):
    """A shipped checkpoint is missing, corrupt or does not match its manifest."""


def sha256_of(path: Path | str) -> str:
    """Hex SHA-256 of a file, read in 1 MB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST
    if not path.is_file():
        raise PretrainedError(f"no checkpoint manifest at {path}: the course package is incomplete; reinstall it or "
                              "run `python benchmarks/train_checkpoints.py` in a course checkout")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise PretrainedError(f"checkpoint manifest {path} is not valid JSON ({err})") from None


def available_pretrained(*, directory: Path | str | None = None) -> list[str]:
    """Names of the shipped checkpoints."""
    return sorted(_read_manifest(Path(directory) if directory is not None else PRETRAINED_DIR))


def pretrained_info(name: str, *, directory: Path | str | None = None) -> dict:
    """The manifest entry of checkpoint ``name``: file, sha256, builder, kwargs, and how it was trained."""
    manifest = _read_manifest(Path(directory) if directory is not None else PRETRAINED_DIR)
    if not isinstance(name, str) or name not in manifest:
        raise ValueError(f"load_pretrained(name={name!r}): unknown checkpoint; available: {sorted(manifest)}")
    return dict(manifest[name])


_FIX = "reinstall the course package or regenerate it with `python benchmarks/train_checkpoints.py`"


def _checked_entry(name: str, info, directory: Path) -> dict:
    """The manifest entry of ``name`` with its fields checked: PretrainedError says which one is missing or wrong."""
    where = f"checkpoint {name!r}: the manifest {directory / MANIFEST}"
    if not isinstance(info, dict):
        raise PretrainedError(f"{where} has no entry object for it; {_FIX}")
    for field in ("file", "sha256", "builder"):
        if not isinstance(info.get(field), str):
            problem = "no" if field not in info else f"a {type(info[field]).__name__} as"
            cannot = "verified" if field == "sha256" else "loaded"
            raise PretrainedError(f"{where} has {problem} {field!r} for it, so the file cannot be {cannot}; the "
                                  f"manifest is incomplete — {_FIX}")
    file = info["file"]
    if file in ("", ".", "..") or Path(file).name != file or "\\" in file:
        raise PretrainedError(f"{where} gives 'file' {file!r}, which is not a file name in {directory}; {_FIX}")
    digest = info["sha256"].lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise PretrainedError(f"{where} gives 'sha256' {info['sha256']!r}, not 64 hex digits; {_FIX}")
    if not isinstance(info.get("kwargs", {}), dict):
        raise PretrainedError(f"{where} gives 'kwargs' {info['kwargs']!r}, not a JSON object; {_FIX}")
    return dict(info, sha256=digest)


def load_pretrained(name: str, *, directory: Path | str | None = None, map_location: str | torch.device = "cpu"
                    ) -> nn.Module:
    """Build the model of checkpoint ``name``, verify the file's SHA-256 and load its weights. Returns it in eval mode.

    Raises ``ValueError`` for an unknown name and :class:`PretrainedError` (saying what to do) when the manifest entry
    is incomplete (no ``sha256``, ``file`` or ``builder``), the file is missing, its checksum does not match the
    manifest (a truncated download, an edited file, a stale checkpoint), or its weights do not fit the model the
    manifest's builder makes.

    >>> model = load_pretrained("c3d_small_moving_shapes")    # doctest: +SKIP
    """
    directory = Path(directory) if directory is not None else PRETRAINED_DIR
    info = _checked_entry(name, pretrained_info(name, directory=directory), directory)
    path = directory / info["file"]
    if not path.is_file():
        raise PretrainedError(f"checkpoint {name!r}: file {path} is missing; {_FIX}")
    actual = sha256_of(path)
    if actual != info["sha256"]:
        raise PretrainedError(f"checkpoint {name!r}: SHA-256 of {path} is {actual}, but the manifest expects "
                              f"{info['sha256']}; the file is corrupt or was modified — {_FIX}")
    builder = BUILDERS.get(info["builder"])
    if builder is None:
        raise PretrainedError(f"checkpoint {name!r}: unknown builder {info['builder']!r} in the manifest; expected one "
                              f"of {sorted(BUILDERS)} — {_FIX}")
    kwargs = info.get("kwargs", {})
    call = f"{info['builder']}(**{kwargs})"
    try:
        model = builder(**kwargs)
    except (TypeError, ValueError) as err:
        raise PretrainedError(f"checkpoint {name!r}: the manifest's builder and kwargs {call} fail ({err}); the "
                              f"manifest is damaged — {_FIX}") from None
    state = torch.load(path, map_location=map_location, weights_only=True)
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as err:
        first = (str(err).strip().splitlines() or [""])[0][:200]
        raise PretrainedError(f"checkpoint {name!r}: the weights in {path} do not fit the model {call} that the "
                              f"manifest names ({first}); the manifest and the file disagree — {_FIX}") from None
    return model.eval()
