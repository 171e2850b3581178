"""Checks for chapter 06 (frames vs time).

References are independent of the learner's code: torch reshapes and reductions, and
:func:`course.viz.frames_vs_time.within_pair_accuracy`.
"""
from __future__ import annotations

import numpy as np

from ..viz.frames_vs_time import within_pair_accuracy as _within_pair_accuracy
from .core import Case, CaseResult, CaseRunner, CheckResult, check_function

_PAIRS = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]


def _reference_stack(clips):
    return clips.flatten(1, 2)


def stack_frames(fn) -> CheckResult:
    """Check ``fn(clips) -> (N, C*T, H, W)`` for clips (N, C, T, H, W): channel c of frame t goes to c*T + t."""
    import torch

    g = torch.Generator().manual_seed(6)
    cases = [
        Case((torch.rand(2, 3, 4, 5, 6, generator=g),), name="RGB clips of 4 frames"),
        Case((torch.rand(1, 1, 16, 8, 8, generator=g),), name="one grey-scale clip of 16 frames"),
        Case((torch.arange(2 * 2 * 3 * 1 * 1, dtype=torch.float32).reshape(2, 2, 3, 1, 1),),
             name="order of the stacked channels", hint="keep the channel axis first: index c*T + t, as flatten(1, 2)"),
    ]
    return check_function(fn, cases, title="stack_frames", reference=_reference_stack,
                          hint="(N, C, T, H, W) -> (N, C*T, H, W): a reshape that merges dims 1 and 2")


def _reference_pool(features, mode="mean"):
    return features.mean(dim=1) if mode == "mean" else features.amax(dim=1)


def temporal_pool(fn) -> CheckResult:
    """Check ``fn(features, mode) -> (N, F)`` for per-frame features (N, T, F), mode "mean" or "max"."""
    import torch

    g = torch.Generator().manual_seed(7)
    x = torch.randn(3, 5, 4, generator=g)
    cases = [
        Case((x, "mean"), name="mean over time"),
        Case((x, "max"), name="max over time", hint="torch.amax(features, dim=1) (or .max(dim=1).values)"),
        Case((x.flip(1), "mean"), expected=_reference_pool(x, "mean"), name="reversed clip, same result (mean)"),
        Case((torch.randn(1, 1, 7, generator=g), "max"), name="a single frame"),
    ]
    return check_function(fn, cases, title="temporal_pool", reference=_reference_pool, rtol=1e-5, atol=1e-6,
                          hint="pool over dim 1 (time) of (N, T, F)")


def within_pair_accuracy(fn) -> CheckResult:
    """Check ``fn(preds, labels, pairs) -> float``: accuracy among clips whose pair was predicted right."""
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 10, size=200)
    perfect = labels.copy()
    twin = labels ^ 1                                   # always the time-reversed twin
    coin = np.where(rng.random(200) < 0.5, labels, twin)
    wrong_pair = (labels + 2) % 10
    mixed = np.where(rng.random(200) < 0.3, wrong_pair, coin)
    cases = [
        Case((perfect, labels, _PAIRS), name="all right -> 1.0"),
        Case((twin, labels, _PAIRS), name="always the twin -> 0.0"),
        Case((coin, labels, _PAIRS), name="a coin flip within each pair -> about 0.5"),
        Case((mixed, labels, _PAIRS), name="wrong-pair predictions are left out",
             hint="count only clips whose prediction is in the same pair as the label"),
    ]
    return check_function(fn, cases, title="within_pair_accuracy", reference=_within_pair_accuracy, atol=1e-9,
                          hint="keep clips whose predicted class is i or j for their pair (i, j); accuracy among them")


# ---------------------------------------------------------------------------------------------------------------------
# Exercise 4: a fusion model the learner builds and trains
# ---------------------------------------------------------------------------------------------------------------------

def _run_case(name: str, test, hint: str | None = None, *, time_limit: float = 60.0) -> CaseResult:
    """Run ``test()`` -> None (pass) or a message (fail) inside the checks' guard (:func:`run_guarded`): a learner's
    exception, ``sys.exit()`` or endless loop (``time_limit`` seconds; generous, as some cases evaluate a trained
    model) becomes a failed case, never a crash or a hang. A check of several cases uses one :class:`CaseRunner`
    instead, which also skips the cases after one that ran out of time."""
    return CaseRunner(time_limit)(name, test, hint)


def module_cases(build, build_args: tuple, inputs, *, num_classes: int, time_dim: int, state: dict, shape_hint: str,
                 order_hint: str, run: CaseRunner) -> list[CaseResult]:
    """Four cases for a model the learner builds: ``build(*build_args)`` returns an ``nn.Module``; on ``inputs`` it
    gives finite logits (N, num_classes); in eval mode the same input gives the same logits twice (no dropout left on,
    no random numbers); reversing ``inputs`` along ``time_dim`` changes them. The built model is left in
    ``state["model"]`` for further cases."""
    import torch

    expected = (inputs.shape[0], num_classes)

    def builds():
        torch.manual_seed(0)
        model = build(*build_args)
        if not isinstance(model, torch.nn.Module):
            return f"expected an nn.Module, got {type(model).__name__}"
        state["model"] = model.eval()
        return None

    def shape():
        if "model" not in state:
            return "no model to test (see the first case)"
        with torch.no_grad():
            out = state["model"](inputs)
        if not isinstance(out, torch.Tensor):
            return f"expected a tensor of logits, got {type(out).__name__}"
        if tuple(out.shape) != expected:
            return f"expected logits of shape {expected}, got {tuple(out.shape)}"
        if not torch.isfinite(out).all():
            return (f"{int((~torch.isfinite(out)).sum())} of {out.numel()} logits are NaN or infinite: check for a "
                    f"division by zero, a log of 0, or an uninitialised tensor (torch.empty)")
        state["out"] = out
        return None

    def deterministic():
        if "out" not in state:
            return "no finite output of the right shape to test (see the previous case)"
        with torch.no_grad():
            again = state["model"](inputs)
        if not torch.allclose(state["out"], again, rtol=1e-6, atol=1e-6):
            return ("the same input twice gave different logits in eval mode: something random is left in the "
                    "forward pass — dropout that ignores eval mode (F.dropout(x, p) defaults to training=True: use "
                    "nn.Dropout, or pass training=self.training), or torch.rand/randn")
        state["deterministic"] = True
        return None

    def order():
        if "deterministic" not in state:
            return "no deterministic output to test (see the previous case)"
        with torch.no_grad():
            reversed_out = state["model"](inputs.flip(time_dim))
        return ("the output for the reversed input is the same: the model is blind to order"
                if torch.allclose(state["out"], reversed_out, atol=1e-5) else None)

    args = ", ".join(map(str, build_args))
    return [
        run(f"build({args}) returns an nn.Module", builds, hint="return the model, e.g. an nn.Sequential"),
        run(f"input {tuple(inputs.shape)} -> finite logits {expected}", shape, hint=shape_hint),
        run("deterministic in eval mode (the same input twice gives the same logits)", deterministic),
        run("sees the order (reversing the input in time changes the output)", order, hint=order_hint),
    ]


def fusion_model(build, *, num_classes: int = 10, num_frames: int = 16) -> CheckResult:
    """Check ``build(num_classes, num_frames) -> nn.Module``: clips (N, 3, T, 32, 32) -> finite logits
    (N, num_classes), the same for the same clip in eval mode, and different when the clip is played backwards (the
    model sees frame order)."""
    import torch

    state: dict = {}
    clips = torch.rand(2, 3, num_frames, 32, 32, generator=torch.Generator().manual_seed(60))

    def size():
        if "model" not in state:
            return "no model to test (see the first case)"
        n = sum(p.numel() for p in state["model"].parameters() if p.requires_grad)
        return None if 0 < n <= 2_000_000 else f"expected 1 to 2,000,000 trainable parameters (CPU-sized), got {n:,}"

    run = CaseRunner()
    cases = module_cases(
        build, (num_classes, num_frames), clips, num_classes=num_classes, time_dim=2, state=state, run=run,
        shape_hint="nn.Flatten(1, 2) stacks frames as channels: (N, 3, T, H, W) -> (N, 3T, H, W); end with global "
                   "pooling, nn.Flatten() and nn.Linear(..., num_classes)",
        order_hint="averaging or max-pooling per-frame features over time is order-blind; mix the frames in order, "
                   "e.g. as the channels of the first convolution")
    cases.append(run("CPU-sized: at most 2 million trainable parameters", size))
    return CheckResult("fusion model", cases).report()


def trained_video_model(model, history, test_set, *, min_within_pair: float | None = 0.75,
                        min_accuracy: float | None = 0.3,
                        title: str = "trained video model") -> CheckResult:
    """Check a trained model: its training loss went down, and on ``test_set`` ((clip, label) pairs of MovingShapes)
    its accuracy is above ``min_accuracy`` (chance: 10%) and it tells each class from its time-reversed twin
    (within-pair accuracy above ``min_within_pair``). A threshold of None leaves that case out (quick-mode runs)."""
    import torch
    from torch.utils.data import DataLoader

    from ..train import evaluate

    state: dict = {}

    def loss_down():
        losses = list(history["train_loss"])
        if len(losses) < 2:
            return f"expected a history of at least 2 epochs, got {len(losses)}"
        return None if losses[-1] < losses[0] else f"training loss went from {losses[0]:.3f} to {losses[-1]:.3f}"

    def accuracy():
        if not isinstance(model, torch.nn.Module):
            return f"expected the trained nn.Module, got {type(model).__name__}"
        state["preds"], state["labels"] = evaluate(model, DataLoader(test_set, batch_size=100))
        acc = float((state["preds"] == state["labels"]).mean())
        return None if acc > min_accuracy else f"test accuracy {acc:.1%}, expected > {min_accuracy:.0%} (chance is 10%)"

    def within():
        if "preds" not in state:
            return "no predictions (see the previous case)"
        w = _within_pair_accuracy(state["preds"], state["labels"], _PAIRS)
        return None if w > min_within_pair else (f"within-pair accuracy {w:.1%}, expected > {min_within_pair:.0%} "
                                                  "(chance is 50%)")

    run = CaseRunner()
    cases = [run("the training loss went down", loss_down, hint="pass the History that train_one_cycle returned")]
    if min_accuracy is not None:
        cases.append(run(f"test accuracy above {min_accuracy:.0%} (chance: 10%)", accuracy,
                         hint="train for more epochs or on more clips"))
    if min_within_pair is not None and min_accuracy is not None:
        cases.append(run(f"within-pair accuracy > {min_within_pair:.0%}: it tells the twins apart", within,
                         hint="an order-blind model stays near 50% here; train longer, or check your model "
                              "sees frame order"))
    return CheckResult(title, cases).report()
