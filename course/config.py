"""Course-wide settings: device choice, seeding, quick mode and the data cache.

Everything that differs between a laptop, a test run and a GPU box is decided here, so notebooks stay identical:

- ``QUICK`` is True when the environment variable ``COURSE_QUICK`` is ``1`` (the test command sets it). Notebooks use
  :func:`quick_or_full` to shrink data and epochs, but still assert a meaningful result.
- :func:`data_dir` is the single place where the course writes data (``COURSE_DATA`` or ``datasets/cache/``).
- :func:`device` picks cuda > mps > cpu unless ``COURSE_DEVICE`` (or the ``prefer`` argument) says otherwise.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import TypeVar

import numpy as np

#: GitHub "owner/name" of the course repository: the one place the Colab/Binder badges and the Colab setup cell use.
REPO = "deep-video-course/deep-learning-for-video"
#: Branch the badges point at.
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO}"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}

T = TypeVar("T")


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"environment variable {name}={value!r}: expected 1/0, true/false, yes/no or on/off")


#: Quick mode: small data and few epochs so a chapter runs in well under a minute on 2 CPU cores.
QUICK: bool = _env_flag("COURSE_QUICK")


def is_quick() -> bool:
    """Whether quick mode is on right now (re-reads ``COURSE_QUICK``; ``QUICK`` is the value at import)."""
    return _env_flag("COURSE_QUICK")


def quick_or_full(*, quick: T, full: T) -> T:
    """Return ``quick`` in quick mode and ``full`` otherwise, e.g. ``epochs = quick_or_full(quick=2, full=30)``."""
    return quick if is_quick() else full


def repo_root() -> Path | None:
    """The course checkout this package lives in, or None when installed from a wheel (e.g. on Colab)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "datasets").is_dir() and (root / "course").is_dir() else None


def data_dir(*parts: str, create: bool = True) -> Path:
    """The course's data cache, or a folder inside it: the only place the course writes data.

    ``COURSE_DATA`` overrides the location; by default it is ``datasets/cache/`` in the checkout (git-ignored), or
    ``./datasets/cache`` under the working directory when the package is installed without a checkout (Colab).

    >>> data_dir("moving_shapes")   # doctest: +SKIP
    PosixPath('.../datasets/cache/moving_shapes')
    """
    for part in parts:
        if not isinstance(part, str) or not part or Path(part).is_absolute() or ".." in Path(part).parts:
            raise ValueError(f"data_dir(): each part must be a relative folder name inside the cache, got {part!r}")
    env = os.environ.get("COURSE_DATA", "").strip()
    if env:
        base = Path(env).expanduser()
    else:
        root = repo_root()
        base = (root if root is not None else Path.cwd()) / "datasets" / "cache"
    path = base.joinpath(*parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def device(prefer: str | None = None):
    """The torch device to use: ``prefer`` or ``COURSE_DEVICE`` if given, else cuda > mps > cpu.

    Asking for a device that is not available raises a ``ValueError`` saying what is available.
    """
    import torch

    available = ["cpu"]
    if torch.cuda.is_available():
        available.insert(0, "cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        available.insert(0 if "cuda" not in available else 1, "mps")
    choice = prefer if prefer is not None else os.environ.get("COURSE_DEVICE", "").strip() or None
    if choice is None:
        return torch.device(available[0])
    try:
        wanted = torch.device(choice)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device(prefer={choice!r}): not a torch device name ({err})") from None
    if wanted.type not in available:
        raise ValueError(f"device(prefer={choice!r}): {wanted.type} is not available here; available: {available}")
    return wanted


def seed_everything(seed: int = 0, *, deterministic: bool = False) -> int:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and CUDA). Returns ``seed``.

    With ``deterministic=True`` torch is also asked for deterministic algorithms (slower on GPU; some ops then raise).
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed_everything(seed={seed!r}): expected a non-negative integer")
    import torch

    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    return seed
