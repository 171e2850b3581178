"""Checks for chapter 18 (self-supervised learning).

References: :mod:`course.selfsup.pretext` (the arrow-of-time pair, the clip-order permutation labels) and
:mod:`course.selfsup.retrieval` (recall@k), checked on hand-made cases.
"""
from __future__ import annotations

import numpy as np

from .core import Case, CheckResult, check_function, compare


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
