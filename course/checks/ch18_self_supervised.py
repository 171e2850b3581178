"""Checks for chapter 18 (self-supervised learning).

References: :mod:`course.selfsup.pretext` (the arrow-of-time pair, the clip-order permutation labels) and
:mod:`course.selfsup.retrieval` (recall@k), checked on hand-made cases.
"""
from __future__ import annotations

import numpy as np

from .core import Case, CheckResult, check_function, compare


# ---------------------------------------------------------------------------------------------------------------------
# Pretext tasks and retrieval (references: course.selfsup.pretext, course.selfsup.retrieval)
# ---------------------------------------------------------------------------------------------------------------------

def _numbered_clip(frames, channels=2, size=3):
    """A clip (C, T, H, W) whose frame t holds the value t everywhere: the frame order can be read off it."""
    import torch

    return torch.arange(frames, dtype=torch.float32).view(1, frames, 1, 1).expand(channels, frames, size, size).clone()


def _frame_values(clip):
    return [round(float(v), 3) for v in clip[0, :, 0, 0]]


def _pair_problem(got, expected):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a tuple (clips, labels), got {type(got).__name__}"
    clips, labels = got
    want_clips, want_labels = expected
    if not hasattr(clips, "shape") or tuple(clips.shape) != tuple(want_clips.shape):
        return (f"clips: expected shape {tuple(want_clips.shape)} = (2, C, T, H, W), got "
                f"{tuple(getattr(clips, 'shape', ())) or type(clips).__name__}")
    problem = compare(clips, want_clips)
    if problem:
        got_order = _frame_values(clips[1]) if clips.ndim == 5 else "?"
        return f"clips: {problem} (second clip's frame values {got_order}, expected {_frame_values(want_clips[1])})"
    problem = compare(labels, want_labels)
    return f"labels: {problem} — forward is 0, reversed is 1" if problem else None


def arrow_of_time_pair(fn) -> CheckResult:
    """Check ``fn(clip) -> (clips, labels)``: from a clip (C, T, H, W), the pretext pair ``clips`` (2, C, T, H, W) =
    [the clip, the clip played backwards] and ``labels`` = tensor([0, 1])."""
    import torch

    from ..selfsup.pretext import arrow_of_time_pair as reference

    cases = [
        Case((_numbered_clip(5),), name="frames numbered 0..4",
             hint="reverse the time axis: dim 1 of (C, T, H, W), e.g. clip.flip(1) — not the channels (dim 0)"),
        Case((torch.rand(3, 4, 6, 6, generator=torch.Generator().manual_seed(0)),), name="a random 3x4x6x6 clip"),
        Case((_numbered_clip(2, channels=3, size=2),), name="two frames, three channels"),
    ]
    return check_function(fn, cases, title="arrow_of_time_pair", reference=reference, compare_fn=_pair_problem,
                          hint="torch.stack([clip, clip.flip(1)]), torch.tensor([0, 1])")


def _clip_problem(got, expected):
    if not hasattr(got, "shape"):
        return f"expected a tensor (C, T', H, W), got {type(got).__name__}"
    if tuple(got.shape) != tuple(expected.shape):
        return f"expected shape {tuple(expected.shape)}, got {tuple(got.shape)}"
    problem = compare(got, expected)
    if problem:
        return f"frame values {_frame_values(got)}, expected {_frame_values(expected)}"
    return None


def shuffle_subclips(fn) -> CheckResult:
    """Check ``fn(clip, order) -> clip``: cut (C, T, H, W) into 3 sub-clips of T // 3 frames (leftover frames at the
    end dropped) and concatenate them along time in ``order`` (a permutation of 0, 1, 2): (C, 3 * (T // 3), H, W)."""
    from ..selfsup.pretext import shuffle_subclips as reference

    cases = [
        Case((_numbered_clip(6), (0, 1, 2)), name="6 frames, order (0, 1, 2): unchanged"),
        Case((_numbered_clip(6), (2, 0, 1)), name="6 frames, order (2, 0, 1)",
             hint="position i of the result holds sub-clip order[i]: here sub-clip 2 first"),
        Case((_numbered_clip(9), (1, 2, 0)), name="9 frames, order (1, 2, 0)"),
        Case((_numbered_clip(7), (2, 1, 0)), name="7 frames: the 7th is left out",
             hint="sub-clips of T // 3 frames; frames after 3 * (T // 3) are dropped"),
    ]
    return check_function(fn, cases, title="shuffle_subclips", reference=reference, compare_fn=_clip_problem,
                          hint="L = T // 3; parts = [clip[:, i*L:(i+1)*L] for i in range(3)]; "
                               "torch.cat([parts[i] for i in order], dim=1)")


def _recall_reference(embeddings, labels, k):
    from ..selfsup.retrieval import recall_at_k

    return recall_at_k(embeddings, labels, ks=(k,))[k]


def _recall_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    angles = torch.deg2rad(torch.tensor([0.0, 10.0, 90.0, 100.0]))
    points = torch.stack([angles.cos(), angles.sin()], dim=1)
    scaled = points * torch.tensor([[1.0], [6.0], [0.2], [4.0]])
    centres = torch.randn(3, 8, generator=g)
    blobs = centres[torch.arange(30) % 3] + 1.2 * torch.randn(30, 8, generator=g)
    return [
        Case((points, torch.tensor([0, 0, 1, 1]), 1), name="two tight pairs, k=1", expected=1.0),
        Case((points, torch.tensor([0, 1, 0, 1]), 1), name="each nearest neighbour of another class", expected=0.0,
             hint="leave the query itself out: every clip is its own nearest neighbour"),
        Case((points, torch.tensor([0, 1, 0, 1]), 2), name="k=2: half the queries find their class second",
             expected=0.5),
        Case((scaled, torch.tensor([0, 1, 0, 1]), 1), name="lengths vary: cosine similarity ignores them",
             expected=0.0, hint="normalise the embeddings to unit length before the dot products"),
        Case((blobs, torch.arange(30) % 3, 1), name="30 noisy embeddings, 3 classes, k=1"),
        Case((blobs, torch.arange(30) % 3, 5), name="the same, k=5"),
    ]


def recall_at_k(fn) -> CheckResult:
    """Check ``fn(embeddings, labels, k) -> float``: leave-one-out recall@k — for each clip, are any of the ``k``
    other clips most similar to it (cosine similarity of embeddings (N, D)) of its class (``labels`` (N,))? The
    fraction of clips for which that is so."""

    def same(got, expected):
        return compare(float(got), expected) if isinstance(got, (float, int, np.floating)) or (
            hasattr(got, "ndim") and got.ndim == 0) else f"expected a float, got {type(got).__name__}"

    return check_function(fn, _recall_cases(), title="recall_at_k", reference=_recall_reference, compare_fn=same,
                          hint="x = F.normalize(embeddings, dim=1); sim = x @ x.T; sim.fill_diagonal_(-inf); "
                               "top = sim.topk(k, dim=1).indices; "
                               "(labels[top] == labels[:, None]).any(1).float().mean()")


# ---------------------------------------------------------------------------------------------------------------------
# Masked tube autoencoding and the video-text miniature (references: course.selfsup.masked, course.selfsup.multimodal)
# ---------------------------------------------------------------------------------------------------------------------

def _mask_problem(got, frames, positions, hidden):
    """What is wrong with one tube mask ``got`` (expected a bool (frames, positions) array, True = hidden)."""
    if got is None:
        return "got None — did you forget to `return` the mask?"
    try:
        mask = np.asarray(got.detach().cpu() if hasattr(got, "detach") else got)
    except Exception:  # noqa: BLE001 - anything the learner returned
        return f"expected a bool tensor (num_frames, positions), got {type(got).__name__}"
    if mask.shape != (frames, positions):
        return f"expected shape ({frames}, {positions}) = (num_frames, positions), got {mask.shape}"
    if mask.dtype != bool:
        return f"expected True/False values (dtype bool), got dtype {mask.dtype}"
    if not (mask == mask[:1]).all():
        return "the hidden positions differ between frames: a tube hides the same positions in every frame"
    count = int(mask[0].sum())
    if count != hidden:
        extra = " (True means hidden, not visible)" if count == positions - hidden else ""
        return f"hides {count} positions per frame, expected round(ratio * positions) = {hidden}{extra}"
    return None


def tube_mask(fn) -> CheckResult:
    """Check ``fn(num_frames, positions, ratio, generator) -> bool tensor (num_frames, positions)``: VideoMAE's tube
    mask, True = hidden, the same ``round(ratio * positions)`` random positions hidden in every frame, drawn with
    ``generator`` (a ``torch.Generator``) so the same seed gives the same mask and different seeds different masks."""
    import torch

    def run(frames, positions, ratio):
        masks = [fn(frames, positions, ratio, torch.Generator().manual_seed(s)) for s in (0, 0, 1, 2)]
        return masks

    def problems(got, expected):
        frames, positions, hidden = expected
        for m in got:
            problem = _mask_problem(m, frames, positions, hidden)
            if problem:
                return problem
        first, again, *others = [np.asarray(m.detach().cpu() if hasattr(m, "detach") else m) for m in got]
        if not (first == again).all():
            return "two calls with generators seeded alike gave different masks: draw from `generator` only"
        if all((first == o).all() for o in others):
            return ("three different seeds gave the same mask: the hidden positions must be random (e.g. "
                    "torch.randperm(positions, generator=generator))")
        return None

    cases = [
        Case((8, 16, 0.75), name="8 frames of 4 x 4 positions, 75% hidden", expected=(8, 16, 12)),
        Case((8, 16, 0.9), name="90% hidden", expected=(8, 16, 14), hint="round(0.9 * 16) = round(14.4) = 14"),
        Case((4, 16, 0.6), name="60%: round, don't truncate", expected=(4, 16, 10),
             hint="0.6 * 16 = 9.6 rounds to 10 (int() would give 9)"),
        Case((1, 49, 0.5), name="one frame, 7 x 7 positions", expected=(1, 49, 24), hint="round(24.5) = 24 in Python"),
    ]
    if not callable(fn):
        return check_function(fn, cases, title="tube_mask")
    return check_function(run, cases, title="tube_mask", compare_fn=problems,
                          hint="hidden = torch.randperm(positions, generator=generator)[:round(ratio * positions)]; "
                               "set those columns True in a (num_frames, positions) bool tensor")


def _reference_clip_loss(video, text, logit_scale):
    import torch

    from ..selfsup.multimodal import contrastive_loss

    return float(contrastive_loss(torch.as_tensor(video), torch.as_tensor(text), torch.as_tensor(logit_scale)))


def _loss_value(got, expected):
    if hasattr(got, "detach"):
        if got.numel() != 1:
            return f"expected a single number (the mean loss), got a tensor of shape {tuple(got.shape)}"
        got = float(got.detach())
    return compare(got, expected, rtol=1e-4, atol=1e-6)


def clip_loss(fn) -> CheckResult:
    """Check ``fn(video, text, logit_scale) -> scalar``: CLIP's symmetric contrastive loss for N matching pairs
    (video, text (N, D) float tensors, row i with row i; logit_scale a 0-dim tensor): L2-normalise both,
    logits = exp(logit_scale) * video @ text.T, the mean of the cross-entropy over rows (video -> caption) and over
    columns (caption -> video)."""
    import math

    import torch

    g = torch.Generator().manual_seed(0)
    hand_v, hand_t = torch.tensor([[1.0, 0.0], [0.0, 3.0]]), torch.tensor([[2.0, 0.0], [1.0, 1.0]])
    cases = [
        Case((hand_v, hand_t, torch.tensor(math.log(2.0))), name="2 pairs by hand (both directions differ)",
             hint="average F.cross_entropy(logits, targets) and F.cross_entropy(logits.T, targets)"),
        Case((torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g), torch.tensor(math.log(1 / 0.07))),
             name="6 random pairs at CLIP's starting temperature 0.07",
             hint="the scale is exp(logit_scale), not logit_scale itself"),
        Case((10 * torch.randn(5, 3, generator=g), 0.1 * torch.randn(5, 3, generator=g), torch.tensor(1.0)),
             name="embeddings of very different lengths", hint="normalise each row to length 1 first (F.normalize)"),
        Case((torch.eye(3), torch.eye(3), torch.tensor(0.0)), name="perfectly matched pairs, scale 1"),
    ]
    return check_function(fn, cases, title="clip_loss", reference=_reference_clip_loss, compare_fn=_loss_value,
                          hint="logits = logit_scale.exp() * F.normalize(video, dim=1) @ F.normalize(text, dim=1).T")
