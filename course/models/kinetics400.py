"""torchvision's Kinetics-400 weights for the course's own R3D / MC3 / R(2+1)D (chapter 10).

The course's :func:`~course.models.r3d_18`, :func:`~course.models.mc3_18` and :func:`~course.models.r2plus1d_18` have
torchvision's module names, so torchvision's published Kinetics-400 checkpoints load into them strictly.
:func:`load_kinetics400` downloads the file from the URL torchvision publishes (``R3D_18_Weights.KINETICS400_V1.url``
and friends) into the course's data cache (``course.config.data_dir("weights")``), checks it the way torchvision does
(the file name carries the first hex digits of the file's SHA-256), and loads it::

    model = load_kinetics400(r3d_18(), "r3d_18")      # ~128 MB once, then from the cache

The download goes through ``torch.hub.download_url_to_file``, which writes a temporary file and renames it only when
complete and verified: an interrupted download never sits in the cache. Offline, it stops with a
:class:`~course.models.PretrainedError` that says which URL to fetch by hand and where to put the file.
"""
from __future__ import annotations

import re
import urllib.error
from pathlib import Path

import torch
from torch import nn

from ..config import data_dir
from ..data.download import sha256sum
from .pretrained import PretrainedError
from .video_resnet import VideoResNet

__all__ = ["KINETICS400_URLS", "kinetics400_categories", "kinetics400_path", "load_kinetics400"]


def _published_weights():
    from torchvision.models import video as tv

    return {"r3d_18": tv.R3D_18_Weights.KINETICS400_V1, "mc3_18": tv.MC3_18_Weights.KINETICS400_V1,
            "r2plus1d_18": tv.R2Plus1D_18_Weights.KINETICS400_V1}


#: arch -> the URL torchvision publishes for its Kinetics-400 checkpoint (read from torchvision, not typed in).
KINETICS400_URLS: dict[str, str] = {arch: w.url for arch, w in _published_weights().items()}

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")   # torch.hub's convention: <name>-<sha256 prefix>.pth


def _check_arch(arch, fn: str) -> str:
    if arch not in KINETICS400_URLS:
        raise ValueError(f"{fn}(arch): expected one of {sorted(KINETICS400_URLS)}, got {arch!r}")
    return arch


def kinetics400_categories() -> list[str]:
    """The 400 Kinetics class names, in the order of the checkpoints' 400 logits (from torchvision's metadata)."""
    return list(_published_weights()["r3d_18"].meta["categories"])


def kinetics400_path(arch: str) -> Path:
    """Where the checkpoint of ``arch`` is cached: ``data_dir("weights") / <torchvision's file name>``."""
    _check_arch(arch, "kinetics400_path")
    return data_dir("weights") / KINETICS400_URLS[arch].rsplit("/", 1)[-1]


def _hash_prefix(url: str) -> str:
    match = _HASH_IN_NAME.search(url.rsplit("/", 1)[-1])
    if match is None:
        raise PretrainedError(f"load_kinetics400: the URL {url} has no hash prefix in its file name; cannot verify it")
    return match.group(1)


def _fetch(url: str, path: Path, hash_prefix: str, progress: bool) -> None:
    """Download ``url`` to ``path`` (temporary file + rename) and check the SHA-256 prefix; raise PretrainedError."""
    try:
        torch.hub.download_url_to_file(url, str(path), hash_prefix=hash_prefix, progress=progress)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PretrainedError(
            f"load_kinetics400: could not download {url} ({reason}). This needs an internet connection (Colab has "
            f"one). Offline, fetch the file on another machine (browser, `curl -L -O {url}`) and copy it to {path}"
        ) from None
    except RuntimeError as err:   # torch.hub's "invalid hash value"
        raise PretrainedError(f"load_kinetics400: the download of {url} failed its checksum ({err}); nothing was "
                              "kept. Try again; if it persists, the file changed upstream.") from None


def load_kinetics400(model: nn.Module, arch: str, *, progress: bool = True) -> nn.Module:
    """Load torchvision's Kinetics-400 weights for ``arch`` into ``model`` (strictly) and return it in eval mode.

    ``model`` must be the matching course model with 400 classes: ``r3d_18()``, ``mc3_18()`` or ``r2plus1d_18()``.
    It then maps clips (N, 3, T, 112, 112), normalised with ``course.data.transforms.KINETICS_MEAN``/``KINETICS_STD``,
    to logits (N, 400) over :func:`kinetics400_categories`. To fine-tune, replace ``model.fc`` afterwards.

    The file is cached in ``data_dir("weights")``; a cached file whose SHA-256 does not start with the published prefix
    is downloaded again. Raises :class:`PretrainedError` offline (with what to do) or when the checksum fails.
    """
    arch = _check_arch(arch, "load_kinetics400")
    if not isinstance(model, VideoResNet):
        raise TypeError(f"load_kinetics400(model): expected the course's VideoResNet (e.g. {arch}()), got "
                        f"{type(model).__name__}")
    if model.num_classes != 400:
        raise ValueError(f"load_kinetics400(model): expected a model with 400 classes (build {arch}() with the "
                         f"default num_classes, load, then replace model.fc), got {model.num_classes}")
    url = KINETICS400_URLS[arch]
    prefix = _hash_prefix(url)
    path = kinetics400_path(arch)
    if not (path.is_file() and sha256sum(path).startswith(prefix)):
        _fetch(url, path, prefix, progress)
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise PretrainedError(f"load_kinetics400: {path} does not fit this model; is it an {arch}()? ({err})") from None
    return model.eval()
