"""Checks for chapter 08 (C3D).

References are independent of the learner's code: shapes and parameter counts come from PyTorch modules built on the
``meta`` device (no memory, no compute), the filter display from :func:`course.viz.c3d.filter_frames`.
"""
from __future__ import annotations

import numpy as np

from ..viz.c3d import filter_frames as _filter_frames
from .core import Case, CaseRunner, CheckResult, check_function, compare_ints


def _meta_pool_shape(shape, kernel, stride, padding):
    import torch

    x = torch.empty((1,) + tuple(shape), device="meta")
    return tuple(torch.nn.functional.max_pool3d(x, kernel, stride, padding).shape[1:])


def pooled_shape(fn) -> CheckResult:
    """Check ``fn(shape, kernel, stride, padding) -> (C, T', H', W')`` for a max-pool over (C, T, H, W)."""
    cases = [
        Case(((64, 16, 112, 112), (1, 2, 2), (1, 2, 2), (0, 0, 0)), name="C3D pool1 keeps time"),
        Case(((128, 16, 56, 56), (2, 2, 2), (2, 2, 2), (0, 0, 0)), name="C3D pool2 halves T, H and W"),
        Case(((512, 2, 7, 7), (2, 2, 2), (2, 2, 2), (0, 1, 1)), name="C3D pool5 with padding (0, 1, 1)",
             hint="padding adds p on both sides: (n + 2p - k) // s + 1"),
        Case(((8, 5, 9, 3), (2, 3, 3), (2, 3, 3), (0, 0, 0)), name="odd sizes: floor division",
             hint="a window that does not fit entirely is dropped: use // "),
    ]
    return check_function(fn, cases, title="pooled_shape", reference=_meta_pool_shape, compare_fn=compare_ints,
                          hint="the channel count C does not change; each of T, H, W uses (n + 2p - k) // s + 1")


def _reference_feature_shape(t, h, w, channels=512):
    import torch

    from ..models import C3D

    with torch.device("meta"):
        return C3D(input_size=(t, h, w), widths=(8, 8, 8, 8, 8, 8, 8, channels), fc_features=8).feature_shape


def c3d_feature_shape(fn) -> CheckResult:
    """Check ``fn(t, h, w, channels=512) -> (C, T5, H5, W5)``: the shape after pool5 for a (T, H, W) input."""
    cases = [
        Case((16, 112, 112), name="the paper's input: 512 x 1 x 4 x 4 = 8192 features"),
        Case((16, 32, 32), {"channels": 64}, name="the small C3D's input"),
        Case((32, 128, 171), name="longer clips, non-square frames",
             hint="pool1 does not pool time; pools 2-5 do; pool5 pads H and W by 1"),
        Case((16, 16, 16), {"channels": 8}, name="the smallest input C3D accepts"),
    ]
    return check_function(fn, cases, title="c3d_feature_shape", reference=_reference_feature_shape,
                          compare_fn=compare_ints)


def _reference_num_parameters(num_classes, in_channels=3):
    import torch

    from ..models import C3D, count_parameters

    with torch.device("meta"):
        return count_parameters(C3D(num_classes, in_channels=in_channels))


def c3d_num_parameters(fn) -> CheckResult:
    """Check ``fn(num_classes, in_channels=3) -> int``: parameters of the paper's C3D, computed by hand (exactly: a
    count is an int, and one parameter off is wrong)."""
    cases = [
        Case((101,), name="a 101-class head, as for UCF101: 78,409,573"),
        Case((51,), name="HMDB51", hint="only fc8 depends on the number of classes: 4096 weights + 1 bias each"),
        Case((10,), {"in_channels": 1}, name="grey-scale input, 10 classes",
             hint="conv1 has in_channels * 64 * 27 weights + 64 biases"),
        Case((487,), {"in_channels": 3}, name="the paper's Sports-1M model (487 classes): 79,991,015"),
    ]
    return check_function(fn, cases, title="c3d_num_parameters", reference=_reference_num_parameters,
                          compare_fn=compare_ints,
                          hint="a Conv3d has C_in*C_out*3*3*3 weights + C_out biases; a Linear in*out + out")


def filter_frames(fn) -> CheckResult:
    """Check ``fn(weight) -> (F, KT, KH, KW, C)`` in [0, 1] with 0 weight at 0.5, each filter scaled on its own."""
    rng = np.random.default_rng(8)
    w1 = rng.standard_normal((4, 3, 3, 3, 3)).astype(np.float32)
    w2 = rng.standard_normal((2, 1, 2, 5, 5)).astype(np.float32) * np.array([1, 100], np.float32)[:, None, None,
                                                                                                    None, None]
    w3 = np.zeros((1, 3, 3, 3, 3), np.float32)
    w3[0, 0, 1, 1, 1] = -2.0
    cases = [
        Case((w1,), name="C3D-like conv1 filters (4, 3, 3, 3, 3)"),
        Case((w2,), name="one channel, filters of very different magnitudes",
             hint="scale each filter by its own largest absolute weight"),
        Case((w3,), name="a single negative weight maps to 0, everything else to 0.5"),
    ]
    return check_function(fn, cases, title="filter_frames", reference=_filter_frames, atol=1e-5,
                          hint="move the channel axis last: (F, C, KT, KH, KW) -> (F, KT, KH, KW, C), then "
                               "0.5 + 0.5 * w / max|w|")


# ---------------------------------------------------------------------------------------------------------------------
# Exercise 3: shuffling frames, and the frame-shuffle test of a trained model
# ---------------------------------------------------------------------------------------------------------------------

def _frame_order(clip, original):
    """For a clip (C, T, H, W): the index in ``original`` of each of its frames, or None if one is not found."""
    import torch

    order = []
    for t in range(clip.shape[1]):
        found = [s for s in range(original.shape[1]) if torch.equal(clip[:, t], original[:, s])]
        if not found:
            return None
        order.append(found[0])
    return order


def shuffle_frames(fn) -> CheckResult:
    """Check ``fn(clips, generator) -> clips`` (N, C, T, H, W): each clip's T frames in a random order of its own."""
    import torch

    clips = torch.rand(6, 3, 16, 4, 4, generator=torch.Generator().manual_seed(80))
    original = clips.clone()
    state: dict = {}

    def runs():
        out = fn(clips, torch.Generator().manual_seed(0))
        if not isinstance(out, torch.Tensor):
            return f"expected a tensor, got {type(out).__name__}"
        state["out"] = out
        if tuple(out.shape) != tuple(clips.shape) or out.dtype != clips.dtype:
            return f"expected shape {tuple(clips.shape)} and dtype {clips.dtype}, got {tuple(out.shape)}, {out.dtype}"
        return None

    def permutation():
        if "out" not in state:
            return "no result to test (see the first case)"
        for n in range(len(clips)):
            order = _frame_order(state["out"][n], original[n])
            if order is None:
                return f"clip {n}: a frame of the result is not one of clip {n}'s own frames"
            if sorted(order) != list(range(clips.shape[2])):
                return f"clip {n}: some frames appear twice and others are missing (expected a permutation)"
        return None

    def changed():
        if "out" not in state:
            return "no result to test (see the first case)"
        return None if not torch.equal(state["out"], original) else "the frames are in their original order"

    def independent():
        if "out" not in state:
            return "no result to test (see the first case)"
        orders = {tuple(_frame_order(state["out"][n], original[n]) or ()) for n in range(len(clips))}
        return None if len(orders) > 1 else "every clip got the same permutation"

    run = CaseRunner()
    cases = [
        run("returns a tensor of the same shape and dtype", runs),
        run("each clip keeps exactly its own frames (a permutation)", permutation,
            hint="index the time axis: clips[n, :, order] with order = torch.randperm(T, generator=generator)"),
        run("the order of the frames changes", changed),
        run("each clip gets its own random order", independent, hint="draw one torch.randperm per clip"),
        run("the input is not modified in place",
            lambda: ("no result to test (see the first case)" if "out" not in state
                     else None if torch.equal(clips, original) else "the input clips were changed"),
            hint="work on a copy: torch.empty_like / clone, or build the result with indexing"),
    ]
    return CheckResult("shuffle_frames", cases).report()


def frame_shuffle_test(model, test_set, shuffle_fn, *, min_within_pair: float = 0.75,
                       max_shuffled: float = 0.65) -> CheckResult:
    """Check that a trained model uses frame order: on ``test_set`` ((clip (C, T, H, W), label) pairs of MovingShapes)
    its within-pair accuracy is high, and falls to near chance (50%) when ``shuffle_fn(clips, generator)`` shuffles
    the frames of every test clip."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from ..train import evaluate
    from ..viz.frames_vs_time import within_pair_accuracy
    from .ch06_frames_vs_time import _PAIRS

    state: dict = {}

    def ordered():
        clips = torch.stack([test_set[i][0] for i in range(len(test_set))])
        labels = torch.as_tensor([int(test_set[i][1]) for i in range(len(test_set))])
        state["clips"], state["labels"] = clips, labels
        preds, y = evaluate(model, DataLoader(TensorDataset(clips, labels), batch_size=100))
        state["ordered"] = w = within_pair_accuracy(preds, y, _PAIRS)
        return None if w > min_within_pair else f"within-pair accuracy {w:.1%}, expected > {min_within_pair:.0%}"

    def shuffled():
        if "clips" not in state:
            return "no test clips (see the first case)"
        clips = shuffle_fn(state["clips"], torch.Generator().manual_seed(1))
        preds, y = evaluate(model, DataLoader(TensorDataset(clips, state["labels"]), batch_size=100))
        w = within_pair_accuracy(preds, y, _PAIRS)
        return None if w < max_shuffled else (f"within-pair accuracy on shuffled clips {w:.1%}, expected < "
                                              f"{max_shuffled:.0%} (near chance): are the frames really shuffled?")

    run = CaseRunner()
    cases = [
        run(f"frames in order: within-pair accuracy > {min_within_pair:.0%}", ordered,
            hint="train the model longer (or on more clips) first"),
        run(f"frames shuffled: within-pair accuracy falls below {max_shuffled:.0%} (chance is 50%)", shuffled,
            hint="check your shuffle_frames"),
    ]
    return CheckResult("frame-shuffle test", cases).report()


def trained_c3d(model, history, test_set, *, converged: bool = True) -> CheckResult:
    """Check a trained small C3D on ``test_set`` ((clip (C, T, H, W), label) pairs of MovingShapes): training loss
    down; with ``converged=True`` (a full training) also test accuracy above 30% and within-pair accuracy above 75%.
    ``converged=False`` is for quick mode's short run, which only has to reduce the loss."""
    from .ch06_frames_vs_time import trained_video_model

    return trained_video_model(model, history, test_set, min_within_pair=0.75 if converged else None,
                               min_accuracy=0.3 if converged else None, title="your small C3D, trained")
