"""What a capstone project saves for the checker (chapter 19): ``report.json``, the exported model, a few held-out
videos' input clips, and a model card — all in one folder. The checker (:mod:`course.capstone.check`) reads them back.

- :func:`build_report`: the report as a dict — the held-out predictions, labels, clip ids and group ids, the training
  and validation ids and groups, the class names, and the accuracy, its 95% Wilson interval and the accuracy per
  group *computed from those predictions* (so they cannot disagree);
- :func:`report_from_recipe`: the same from :func:`course.train.real_video.run_recipe`'s result and its split;
- :func:`write_report`, :func:`save_parity_inputs`, :func:`write_model_card`: the files the checker reads.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from .groups import per_group_accuracy

__all__ = ["REPORT_FILE", "PARITY_FILE", "MODEL_CARD_FILE", "ONNX_FILE", "MODEL_CARD_SECTIONS", "FORMAT", "VERSION",
           "clip_id", "build_report", "report_from_recipe", "write_report", "save_parity_inputs", "write_model_card"]

REPORT_FILE, PARITY_FILE, MODEL_CARD_FILE, ONNX_FILE = "report.json", "parity_inputs.npz", "model_card.md", "model.onnx"
FORMAT, VERSION = "course-capstone-report", 1

#: The sections a model card must have (``## <name>`` headings), each with real text.
MODEL_CARD_SECTIONS = ("Model", "Intended use", "Where the model should not be used", "Data", "Evaluation",
                       "Accuracy per group", "Limitations", "Privacy and consent")


def clip_id(path) -> str:
    """A clip's id in a report: ``<class folder>/<file name>`` (unique in the ``root/<class>/<video>`` layout)."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}"


def _side(side, name: str) -> dict:
    if not isinstance(side, Mapping) or not {"ids", "groups"} <= set(side):
        raise ValueError(f"build_report({name}): expected a dict with 'ids' and 'groups', got {side!r:.80}")
    ids, groups = [str(i) for i in side["ids"]], [str(g) for g in side["groups"]]
    if len(ids) != len(groups):
        raise ValueError(f"build_report({name}): {len(ids)} ids but {len(groups)} groups; expected one group per clip")
    return {**side, "ids": ids, "groups": groups}


def build_report(*, title: str, track: str, classes: Sequence[str], train: Mapping, val: Mapping, heldout: Mapping,
                 baseline: Mapping, efficiency: Mapping, timings: Mapping, training: Mapping | None = None,
                 data: str = "", files: Mapping | None = None) -> dict:
    """The report as a JSON-ready dict.

    ``train``, ``val``: ``{"ids": [...], "groups": [...]}``; ``heldout``: also ``"y_true"``, ``"y_pred"`` (N,) class
    indices, optionally ``"probs"`` (N, classes) and ``"name"`` (what the held-out set is); ``baseline``: ``{"name",
    "accuracy", "n"}`` measured on the same held-out clips (optionally ``"y_pred"``); ``efficiency``: ``{"params",
    "latency_ms", "size_bytes", ...}``; ``timings``: ``{"train_seconds", ...}``; ``training``: ``{"train_loss": [...],
    "val_curve": [...]}`` per epoch; ``files``: names inside the report's folder (defaults: model.onnx,
    parity_inputs.npz, model_card.md). Accuracy, interval and per-group accuracy are computed here.
    """
    from ..train.real_video import wilson_interval

    if not isinstance(classes, Sequence) or isinstance(classes, str) or len(classes) < 2:
        raise ValueError(f"build_report(classes): expected at least two class names, got {classes!r}")
    train, val, held = _side(train, "train"), _side(val, "val"), _side(heldout, "heldout")
    y_true, y_pred = [int(v) for v in held["y_true"]], [int(v) for v in held["y_pred"]]
    if not len(y_true) == len(y_pred) == len(held["ids"]) or not y_true:
        raise ValueError(f"build_report(heldout): expected one y_true and one y_pred per clip id "
                         f"({len(held['ids'])}), got {len(y_true)} and {len(y_pred)}")
    correct = sum(t == p for t, p in zip(y_true, y_pred))
    low, high = wilson_interval(correct, len(y_true))
    held.update(y_true=y_true, y_pred=y_pred)
    if "probs" in held:
        held["probs"] = np.asarray(held["probs"], dtype=np.float64).round(6).tolist()
    return {
        "format": FORMAT, "version": VERSION, "title": str(title), "track": str(track), "data": str(data),
        "classes": [str(c) for c in classes], "train": train, "val": val, "heldout": held,
        "accuracy": {"value": correct / len(y_true), "correct": correct, "n": len(y_true), "ci_low": low,
                     "ci_high": high, "method": "wilson", "confidence": 0.95},
        "per_group": per_group_accuracy(y_true, y_pred, held["groups"]),
        "baseline": dict(baseline), "efficiency": dict(efficiency), "timings": dict(timings),
        "training": dict(training or {}),
        "files": {"onnx": ONNX_FILE, "parity": PARITY_FILE, "model_card": MODEL_CARD_FILE, **dict(files or {})},
    }


def report_from_recipe(result: Mapping, split, group_of: Callable, *, title: str, track: str, baseline: Mapping,
                       efficiency: Mapping, timings: Mapping | None = None, data: str = "",
                       heldout_name: str = "held-out") -> dict:
    """:func:`build_report` from :func:`course.train.real_video.run_recipe`'s ``result`` on ``split`` (a
    ``VideoSplit`` whose ``test`` part is the held-out set). ``group_of(path) -> group`` (e.g.
    :func:`course.train.real_video.kth_person`). ``timings`` adds to the recipe's training and evaluation seconds."""
    if result.get("split") != "test":
        raise ValueError("report_from_recipe(result): the recipe reported on its validation videos; give the split a "
                         "held-out part (VideoSplit.test) so the report's numbers come from clips no choice saw")

    def side(items):
        return {"ids": [clip_id(p) for p, _ in items], "groups": [str(group_of(p)) for p, _ in items]}

    held = {**side(split.test), "name": heldout_name, "y_true": result["y_true"], "y_pred": result["y_pred"],
            "probs": result.get("video_probs")}
    if held["probs"] is None:
        del held["probs"]
    times = {"train_seconds": float(result["train_seconds"]), "eval_seconds": float(result["eval_seconds"]),
             **dict(timings or {})}
    return build_report(title=title, track=track, classes=result["classes"], train=side(split.train),
                        val=side(split.val), heldout=held, baseline=baseline, efficiency=efficiency, timings=times,
                        training={"train_loss": result["train_loss"], "val_curve": result["val_curve"],
                                  "epochs": result.get("best_epoch"), "final_fit": result.get("final_fit")},
                        data=data)


def _directory(directory, fn: str) -> Path:
    if not isinstance(directory, (str, os.PathLike)):
        raise TypeError(f"{fn}(directory): expected a folder path, got {type(directory).__name__}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def write_report(directory, report: Mapping) -> Path:
    """Write ``report`` (from :func:`build_report`) to ``directory/report.json`` (atomically) -> the path."""
    if not isinstance(report, Mapping) or report.get("format") != FORMAT:
        raise ValueError("write_report(report): expected the dict build_report returns")
    path = _directory(directory, "write_report") / REPORT_FILE
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    partial.replace(path)
    return path


def save_parity_inputs(directory, ids: Sequence[str], clips: Sequence[np.ndarray]) -> Path:
    """Save the model inputs of a few held-out videos, so the checker can run the ONNX model on them and compare with
    the report's predictions: ``clips[i]`` is video ``ids[i]``'s float32 clip batch (K, 3, T, h, w), made by the
    model's :class:`course.deploy.ClipSpec` (``spec.clips(frames)``). All videos need the same K. -> the path."""
    ids = [str(i) for i in ids]
    if not ids or len(ids) != len(clips):
        raise ValueError(f"save_parity_inputs(clips): expected one clip batch per id ({len(ids)}), got {len(clips)}")
    arrays = [np.asarray(c, dtype=np.float32) for c in clips]
    if any(a.ndim != 5 or a.shape != arrays[0].shape for a in arrays):
        raise ValueError(f"save_parity_inputs(clips): expected batches (K, 3, T, h, w) of one shape, got "
                         f"{[a.shape for a in arrays]}")
    path = _directory(directory, "save_parity_inputs") / PARITY_FILE
    np.savez_compressed(path, ids=np.array(ids), inputs=np.stack(arrays))
    return path


def write_model_card(directory, title: str, sections: Mapping[str, str]) -> Path:
    """Write ``directory/model_card.md``: ``# title`` then one ``## <name>`` section per entry of
    :data:`MODEL_CARD_SECTIONS` (in that order; extra sections after them). Raises ``ValueError`` naming the required
    sections that are missing or empty. -> the path."""
    if not isinstance(sections, Mapping):
        raise TypeError(f"write_model_card(sections): expected a dict of section name -> text, got "
                        f"{type(sections).__name__}")
    missing = [s for s in MODEL_CARD_SECTIONS if not str(sections.get(s, "")).strip()]
    if missing:
        raise ValueError(f"write_model_card(sections): missing or empty required sections {missing}")
    order = list(MODEL_CARD_SECTIONS) + [s for s in sections if s not in MODEL_CARD_SECTIONS]
    text = f"# {title}\n\n" + "\n\n".join(f"## {name}\n\n{str(sections[name]).strip()}" for name in order) + "\n"
    path = _directory(directory, "write_model_card") / MODEL_CARD_FILE
    path.write_text(text, encoding="utf-8")
    return path
