"""The plumbing of a capstone project (chapter 19), so the notebook holds decisions, not loops.

Built on chapter 14's recipe (:mod:`course.train.real_video`) and chapter 15's export (:mod:`course.efficiency`):

- :func:`track_videos`, :data:`TRACK_GROUPS`: the videos of a track — KTH, UCF101, your own clips, or the practice
  look-alike — with the group of each, and the brief's default assignment of groups to train / val / held-out;
- :func:`split_by_group_lists`: a :class:`~course.train.real_video.VideoSplit` (train / val / held-out) from videos,
  their groups and which groups go where;
- :func:`folder_videos`: the learner's own clips (``root/<class>/<video>`` + a group file) as (path, label) pairs;
- :func:`data_card`, :func:`format_data_card`: counts, groups and durations per subset;
- :func:`frame_baseline`: a single-frame 2D CNN trained and scored like the recipe's model;
- :func:`heldout_clip`: one evaluation clip of a decoded video (for an explanation method);
- :func:`export_and_measure`: ONNX export with its clip spec, parameters, onnxruntime latency, size on disk;
- :func:`parity_inputs`: the model inputs of a few videos, made the way the deployed model makes them;
- :func:`dataset_provenance`: source, licence and citation of each data set the course uses (``datasets/*.md``).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from ..train.real_video import RecipeConfig, VideoSplit, eval_loader, predict_videos, train_loader
from .groups import read_group_file, shared_groups

__all__ = ["TRACKS", "TRACK_GROUPS", "track_videos", "dataset_provenance", "split_by_group_lists", "folder_videos", "data_card", "format_data_card", "frame_baseline",
           "heldout_clip", "export_and_measure", "parity_inputs", "recipe_spec"]


#: The brief's tracks: ``kth`` (a), ``ucf101`` (b), ``own`` (c), and ``practice`` (the synthetic look-alike).
TRACKS = ("kth", "ucf101", "own", "practice")

#: The brief's default groups per track: KTH's official person split (the test persons held out); UCF101 split 1
#: (groups 1-7 are its test groups; groups 8-10 of its training groups validate). ``own``: you choose.
TRACK_GROUPS = {
    "kth": {"train": [11, 12, 13, 14, 15, 16, 17, 18], "val": [1, 4, 19, 20, 21, 23, 24, 25],
            "heldout": [2, 3, 5, 6, 7, 8, 9, 10, 22]},
    "ucf101": {"train": list(range(11, 26)), "val": [8, 9, 10], "heldout": list(range(1, 8))},
}


def _ucf_group(path) -> int:
    from ..train.splits import ucf101_group

    return ucf101_group(Path(path).name)


def track_videos(track: str, root, *, group_file=None) -> tuple[list[str], list[tuple[Path, int]], Callable]:
    """The videos of a track -> (classes, [(path, label), ...], group_of) where ``group_of(path)`` is the video's
    group (a KTH person, a UCF101 group, or what your group file says).

    - ``"kth"`` and ``"practice"``: KTH-named files ``person<PP>_<class>_d<S>_uncomp.avi`` under ``root`` (any
      depth; :func:`course.train.real_video.find_kth_videos`), grouped by person;
    - ``"ucf101"``: ``root/<Class>/v_<Class>_g<GG>_c<CC>.avi`` (the classes you copied there), grouped by ``gGG``;
    - ``"own"``: ``root/<class>/<video>`` with ``group_file`` (``<class>/<video>,<group>`` lines).
    """
    from ..data.folder import find_videos
    from ..train.real_video import find_kth_videos, kth_person
    from .report import clip_id

    if track not in TRACKS:
        raise ValueError(f"track_videos(track): expected one of {TRACKS}, got {track!r}")
    if not Path(root).is_dir():
        raise FileNotFoundError(f"track_videos(root): no folder {str(root)!r}")
    if track in ("kth", "practice"):
        found = find_kth_videos(root)
        return list(found.classes), found.train + found.val + found.test, kth_person
    if track == "ucf101":
        classes, items = find_videos(root)
        for path, _ in items:
            _ucf_group(path)                      # a clear error for a file that is not named like UCF101's
        return classes, items, _ucf_group
    if group_file is None:
        raise ValueError("track_videos(group_file): the 'own' track needs a group file (<class>/<video>,<group> lines)")
    classes, items, groups = folder_videos(root, group_file)
    return classes, items, lambda path: groups[clip_id(path)]


def dataset_provenance(root=None) -> list[dict]:
    """Source and terms of each data set the course uses, read from the dataset cards ``datasets/*.md`` ->
    ``[{"dataset", "what", "licence", "citation"}, ...]`` (empty when the course is installed without its
    repository, e.g. on Colab: then read the cards on the course's web page)."""
    import re

    from ..config import repo_root

    folder = Path(root) if root is not None else (repo_root() or Path("/nonexistent")) / "datasets"
    rows = []
    for card in sorted(folder.glob("*.md")):
        text = card.read_text(encoding="utf-8")
        title = re.search(r"^# (.+)$", text, flags=re.MULTILINE)
        if card.name == "README.md" or title is None:
            continue

        def field(name):
            m = re.search(rf"\*\*{name}:\*\*(.+?)(?:\n\n|$)", text, flags=re.DOTALL)
            return " ".join(m.group(1).split()) if m else "(not stated in the card)"

        rows.append({"dataset": title.group(1).strip(), "what": field("What"), "licence": field("Licence"),
                     "citation": field("Citation")})
    return rows


def split_by_group_lists(items: Sequence[tuple], group_of: Callable, classes: Sequence[str], *, train: Sequence,
                         val: Sequence, heldout: Sequence) -> VideoSplit:
    """``items`` = [(path, label), ...] -> a :class:`VideoSplit` whose ``train`` / ``val`` / ``test`` parts hold the
    videos of the groups listed in ``train`` / ``val`` / ``heldout`` (``test`` is the held-out part). Groups are
    compared as strings; ``group_of(path)`` gives a video's group. Videos of unlisted groups are left out.

    Raises ``ValueError`` when a group is listed twice (a leak by construction) or a part would be empty.
    """
    sides = {"train": [str(g) for g in train], "val": [str(g) for g in val], "heldout": [str(g) for g in heldout]}
    twice = shared_groups(*sides.values())
    if twice:
        raise ValueError(f"split_by_group_lists: groups {twice} are listed in more than one part; each group "
                         "belongs to exactly one of train, val, heldout")
    split = VideoSplit(list(classes))
    part = {g: name for name, groups in sides.items() for g in groups}
    for path, label in items:
        name = part.get(str(group_of(path)))
        if name is not None:
            getattr(split, "test" if name == "heldout" else name).append((Path(path), int(label)))
    for name, videos in (("train", split.train), ("val", split.val), ("heldout", split.test)):
        if not videos:
            raise ValueError(f"split_by_group_lists({name}): no video belongs to groups {sides[name]}")
    return split


def folder_videos(root, group_file) -> tuple[list[str], list[tuple[Path, int]], dict[str, str]]:
    """The learner's own clips: ``root/<class>/<video>`` (the ``VideoFolder`` layout) and a group file of
    ``<class>/<video>,<group>`` lines (:func:`course.capstone.read_group_file`) -> (classes, [(path, label), ...],
    {clip id: group}). Raises ``ValueError`` naming the videos that have no group."""
    from ..data.folder import find_videos
    from .report import clip_id

    classes, items = find_videos(root)
    groups = read_group_file(group_file, root)
    missing = [clip_id(p) for p, _ in items if clip_id(p) not in groups]
    if missing:
        raise ValueError(f"folder_videos(group_file): {len(missing)} videos have no group, e.g. {missing[:3]}; "
                         "every clip needs one (who or where it was filmed)")
    return classes, items, groups


def data_card(split: VideoSplit, group_of: Callable) -> dict:
    """Per subset (``train``, ``val``, ``heldout``): ``videos``, ``per_class`` counts, ``groups`` (sorted),
    ``seconds`` (total), ``min_seconds``/``max_seconds`` of one video and ``frames`` (total), read from the files'
    headers (:func:`course.data.video_info`)."""
    from ..data.video_io import video_info

    if not isinstance(split, VideoSplit):
        raise TypeError(f"data_card(split): expected a VideoSplit, got {type(split).__name__}")
    card = {}
    for name, items in (("train", split.train), ("val", split.val), ("heldout", split.test)):
        infos = [video_info(p) for p, _ in items]
        durations = [i.duration for i in infos]
        card[name] = {"videos": len(items),
                      "per_class": {c: sum(1 for _, y in items if y == k) for k, c in enumerate(split.classes)},
                      "groups": sorted({str(group_of(p)) for p, _ in items}),
                      "seconds": float(sum(durations)), "frames": int(sum(i.frames for i in infos)),
                      "min_seconds": float(min(durations, default=0.0)),
                      "max_seconds": float(max(durations, default=0.0))}
    return card


def format_data_card(card: dict) -> str:
    """:func:`data_card` as a plain-text table."""
    rows = [f"{'subset':8s} {'videos':>6s} {'per class':32s} {'groups':>6s} {'minutes':>7s} {'one video (s)':>14s}"]
    for name, c in card.items():
        per_class = ", ".join(f"{k} {v}" for k, v in c["per_class"].items())
        rows.append(f"{name:8s} {c['videos']:6d} {per_class:32s} {len(c['groups']):6d} {c['seconds'] / 60:7.1f} "
                    f"{c['min_seconds']:6.1f}-{c['max_seconds']:<6.1f}")
    return "\n".join(rows)


def frame_baseline(videos: dict, labels: dict, num_classes: int, config: RecipeConfig, *, epochs: int | None = None,
                   progress: bool = True) -> dict:
    """The single-frame baseline: :class:`course.models.SingleFrameCNN` (one random frame per training clip, the
    average over frames at evaluation) trained on ``videos["train"] + videos["val"]`` with the recipe's clips,
    augmentation and optimizer, scored on ``videos["test"]`` exactly like the recipe's model.

    ``videos``: ``{"train", "val", "test"}`` -> lists of uint8 (T, H, W, C); ``labels``: the same keys -> ints.
    Returns ``{"name", "accuracy", "n", "y_pred", "train_seconds", "model"}``.
    """
    from ..config import seed_everything
    from ..models import SingleFrameCNN
    from ..train.loop import fit

    missing = {"train", "val", "test"} - set(videos) | {"train", "val", "test"} - set(labels)
    if missing:
        raise ValueError(f"frame_baseline(videos, labels): expected keys train, val, test; missing {sorted(missing)}")
    if not isinstance(config, RecipeConfig):
        raise TypeError(f"frame_baseline(config): expected a RecipeConfig, got {type(config).__name__}")
    epochs = config.epochs if epochs is None else epochs
    seed_everything(config.seed)
    model = SingleFrameCNN(num_classes, frame="random")
    loader = train_loader(list(videos["train"]) + list(videos["val"]), list(labels["train"]) + list(labels["val"]),
                          config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    started = time.perf_counter()
    fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, progress=progress, device="cpu")
    seconds = time.perf_counter() - started
    out = predict_videos(model, eval_loader(videos["test"], labels["test"], config))
    y_pred = out["video_probs"].argmax(dim=1)
    return {"name": "single frame (SingleFrameCNN, frame averages at test time)",
            "accuracy": float((y_pred == out["video_labels"]).float().mean()), "n": int(len(y_pred)),
            "y_pred": y_pred.tolist(), "train_seconds": seconds, "model": model}


def heldout_clip(videos: Sequence[torch.Tensor], labels: Sequence[int], config: RecipeConfig,
                 index: int) -> tuple[torch.Tensor, int]:
    """Evaluation clip 0 of video ``index`` (the first of the recipe's ``eval_clips``), transformed as at evaluation
    -> (clip (C, clip_len, crop_h, crop_w), label): the input an explanation method (chapter 13) looks at."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(videos):
        raise ValueError(f"heldout_clip(index): expected an int in [0, {len(videos)}), got {index!r}")
    dataset = eval_loader(videos, labels, config).dataset
    clip, label, _ = dataset[index * config.eval_clips]
    return clip, int(label)


def recipe_spec(config: RecipeConfig, classes: Sequence[str]):
    """The :class:`course.deploy.ClipSpec` of a model trained by the recipe with ``config`` (the recipe's
    normalisation), for :func:`export_and_measure` and ``python -m course predict``."""
    from dataclasses import asdict

    from ..deploy import ClipSpec

    if not isinstance(config, RecipeConfig):
        raise TypeError(f"recipe_spec(config): expected a RecipeConfig, got {type(config).__name__}")
    first = torch.zeros(config.clip_len * config.step + 1, *config.decode_size, 3, dtype=torch.uint8)
    dataset = eval_loader([first], [0], config).dataset
    transform = getattr(dataset, "dataset", dataset).transform             # the evaluation's normalisation
    return ClipSpec.from_recipe(asdict(config), classes, mean=transform.mean, std=transform.std)


def export_and_measure(model: torch.nn.Module, spec, path, *, threads: int = 1, runs: int = 20) -> dict:
    """Export ``model`` to ONNX at ``path`` (with ``spec`` in its metadata) and measure it -> ``{"params",
    "size_bytes", "latency_ms" (onnxruntime p50 for one video: its ``spec.num_clips`` clips in one batch),
    "latency_p90_ms", "threads", "onnx_max_abs_diff" (vs PyTorch on that batch), "onnx" (the path)}``."""
    from ..efficiency import count_params, export_onnx, onnx_max_abs_diff, ort_session, saved_bytes
    from ..timing import latency

    path = export_onnx(model, spec, path)
    session = ort_session(path, threads=threads)
    clips = torch.randn(spec.num_clips * (2 if spec.flip_average else 1), *spec.input_shape)
    name = session.get_inputs()[0].name
    feed = {name: clips.numpy()}
    stats = latency(lambda: session.run(None, feed), warmup=3, runs=runs, threads=threads)
    return {"params": count_params(model), "size_bytes": saved_bytes(path), "latency_ms": stats.p50 * 1e3,
            "latency_p90_ms": stats.p90 * 1e3, "threads": threads,
            "onnx_max_abs_diff": onnx_max_abs_diff(model, session, clips), "onnx": str(path)}


def parity_inputs(videos: Sequence[torch.Tensor], spec) -> list[np.ndarray]:
    """The deployed model's input for each decoded video (uint8 (T, H, W, 3) at ``spec.decode_size``) -> float32
    (K, 3, clip_len, h, w) each, made by ``spec.clips`` (NumPy, as ``python -m course predict`` makes them)."""
    return [spec.clips(np.ascontiguousarray(v.numpy() if isinstance(v, torch.Tensor) else v)) for v in videos]
