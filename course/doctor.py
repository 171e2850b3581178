"""``course.doctor()``: can this machine run the course? Prints a report; ``python -m course doctor`` exits 1 if not."""
from __future__ import annotations

import importlib
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

# (import name, distribution name shown to the learner, minimum version, needed by)
REQUIRED = [
    ("numpy", "numpy", "1.24", "every chapter"),
    ("torch", "torch", "2.3", "chapters 04-16"),
    ("torchvision", "torchvision", "0.18", "chapters 04-16 (transforms, models)"),
    ("av", "av (PyAV)", "12", "chapter 05 onwards (video decoding)"),
    ("matplotlib", "matplotlib", "3.7", "every chapter (plots)"),
    ("ipywidgets", "ipywidgets", "8.0", "interactive widgets"),
    ("sklearn", "scikit-learn", "1.3", "datasets and metrics"),
    ("tqdm", "tqdm", "4.66", "progress bars"),
    ("onnx", "onnx", "1.16", "chapter 15 (export)"),
    ("onnxruntime", "onnxruntime", "1.18", "chapter 15 (inference without PyTorch, python -m course predict)"),
]


@dataclass
class Item:
    name: str
    ok: bool
    detail: str
    required: bool = True


@dataclass
class DoctorReport:
    items: list[Item] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items if i.required)

    @property
    def problems(self) -> list[Item]:
        return [i for i in self.items if i.required and not i.ok]

    def text(self) -> str:
        width = max(len(i.name) for i in self.items)
        lines = ["Course doctor", "=" * 13]
        for i in self.items:
            mark = "ok " if i.ok else ("MISSING" if i.required else "note")
            lines.append(f"  {i.name:<{width}}  {mark:<7}  {i.detail}")
        if self.ok:
            lines.append("\nEverything the course needs is here.")
        else:
            lines.append("\nProblems:")
            lines += [f"  - {i.name}: {i.detail}" for i in self.problems]
            lines.append("Fix: run `make setup` in the course folder (or `pip install -e .`), then restart the kernel.")
        return "\n".join(lines)


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def _check_import(module: str, label: str, minimum: str, needed_by: str) -> Item:
    try:
        mod = importlib.import_module(module)
    except Exception as err:  # noqa: BLE001 — any import failure is a finding, not a crash
        return Item(label, False, f"cannot import {module!r} ({type(err).__name__}: {err}); needed by {needed_by}")
    version = str(getattr(mod, "__version__", "unknown"))
    if version != "unknown" and _version_tuple(version) < _version_tuple(minimum):
        return Item(label, False, f"version {version} is too old; need >= {minimum} for {needed_by}")
    return Item(label, True, version)


def _check_device() -> list[Item]:
    try:
        import torch

        from .config import device

        dev = device()
        detail = str(dev)
        if dev.type == "cuda":
            detail += f" ({torch.cuda.get_device_name(0)})"
        elif dev.type == "cpu":
            detail += " (no GPU found: fine, every chapter runs on a CPU; full-size training is faster on a GPU)"
        return [Item("device", True, detail, required=False),
                Item("threads", True, f"torch uses {torch.get_num_threads()} of {os.cpu_count()} CPU cores", required=False)]
    except Exception as err:  # noqa: BLE001
        return [Item("device", False, f"could not choose a device: {err}")]


def _check_video_roundtrip() -> Item:
    """Write a tiny clip with PyAV into the data cache, decode it back, and compare the frame count."""
    try:
        import av
        import numpy as np

        from .config import data_dir

        folder = data_dir(".doctor")
        path = folder / "tiny_clip.mp4"
        frames = np.zeros((8, 32, 32, 3), dtype=np.uint8)
        frames[:, 8:24, 8:24] = np.arange(8, dtype=np.uint8)[:, None, None, None] * 30
        try:
            with av.open(str(path), mode="w") as container:
                stream = container.add_stream("mpeg4", rate=8)
                stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
                for frame in frames:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        container.mux(packet)
                for packet in stream.encode():
                    container.mux(packet)
            with av.open(str(path)) as container:
                decoded = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        if len(decoded) != len(frames) or decoded[0].shape != (32, 32, 3):
            return Item("video write+decode", False, f"wrote 8 frames of 32x32, decoded {len(decoded)}")
        return Item("video write+decode", True, "wrote and decoded an 8-frame 32x32 MPEG-4 clip")
    except Exception as err:  # noqa: BLE001
        return Item("video write+decode", False, f"{type(err).__name__}: {err}")


def _check_widget_frontend() -> Item:
    if "google.colab" in sys.modules:
        return Item("widget front end", True, "Colab renders ipywidgets itself", required=False)
    try:
        from importlib.metadata import version

        lab_widgets = version("jupyterlab_widgets")
    except Exception:  # noqa: BLE001
        return Item("widget front end", False,
                    "jupyterlab_widgets is not installed, so sliders will not render in JupyterLab "
                    "(pip install 'ipywidgets>=8' installs it)")
    candidates = [Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager"]
    found = [p for p in candidates if (p / "package.json").exists()]
    if not found:
        return Item("widget front end", False, f"jupyterlab_widgets {lab_widgets} is installed but its JupyterLab "
                    f"extension is missing from {candidates[0]}; reinstall with `pip install --force-reinstall jupyterlab_widgets`")
    return Item("widget front end", True, f"jupyterlab_widgets {lab_widgets} (JupyterLab extension installed)")


def doctor(*, verbose: bool = True) -> DoctorReport:
    """Check the environment: package versions, device, threads, a PyAV write+decode round trip, the widget front end.

    Prints the report when ``verbose`` and returns a :class:`DoctorReport` (``report.ok`` is False when something a
    chapter needs is missing; ``report.problems`` says what).
    """
    report = DoctorReport()
    report.items.append(Item("python", sys.version_info >= (3, 10),
                             f"{platform.python_version()} ({sys.executable})"
                             + ("" if sys.version_info >= (3, 10) else " — need Python >= 3.10")))
    for module, label, minimum, needed_by in REQUIRED:
        report.items.append(_check_import(module, label, minimum, needed_by))
    report.items.extend(_check_device())
    report.items.append(_check_video_roundtrip())
    report.items.append(_check_widget_frontend())
    from .config import data_dir, is_quick

    report.items.append(Item("quick mode", True, "on (COURSE_QUICK=1)" if is_quick() else "off (full runs)", required=False))
    report.items.append(Item("data cache", True, str(data_dir(create=False)), required=False))
    if verbose:
        print(report.text())
    return report
