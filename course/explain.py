"""Which pixels and which frames did the model use? Three explanations of a video classifier's score.

- :func:`input_saliency`: the gradient of the class score with respect to the input clip (Simonyan et al. 2014),
  as a (T, H, W) map of absolute values (max over colour channels).
- :func:`temporal_occlusion`: replace one frame at a time and measure how much the class probability drops
  (Zeiler & Fergus 2014, in time): a (T,) importance per frame. ``fill="mean"`` blanks the frame to the clip's mean
  frame, ``"zero"`` to black, ``"previous"`` freezes the video for one frame (it removes the motion at that frame
  without adding a flash that a motion detector would also react to).
- :func:`grad_cam_3d`: Grad-CAM (Selvaraju et al. 2017) for a 3D CNN: a layer's activations (C', T', H', W') weighted
  by the mean gradient of the class score per channel, summed, ReLU, and upsampled to (T, H, W).
- :func:`squeeze_motion` re-times a clip so that all its motion happens in a window of frames (still before and
  after): a clip where we *know* which frames carry the motion.
- :func:`frame_importance` turns a (T, H, W) map into a (T,) profile, normalised to sum to 1.

All take one clip (C, T, H, W) and a model (N, C, T, H, W) -> logits (N, K); ``target`` is a class index (default:
the predicted class). The model is used in eval mode and restored to its previous mode.
"""
from __future__ import annotations

import numbers
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["input_saliency", "temporal_occlusion", "grad_cam_3d", "frame_importance", "squeeze_motion",
           "OCCLUSION_FILLS"]

OCCLUSION_FILLS = ("mean", "zero", "previous")


def _check(model, clip, target, fn: str) -> tuple[torch.Tensor, int | None]:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{fn}(model): expected a torch.nn.Module, got {type(model).__name__}")
    if not torch.is_tensor(clip) or clip.ndim != 4:
        raise ValueError(f"{fn}(clip): expected one clip as a tensor (C, T, H, W), "
                         f"got {tuple(clip.shape) if torch.is_tensor(clip) else type(clip).__name__}")
    if not clip.is_floating_point():
        raise TypeError(f"{fn}(clip): expected a floating-point tensor, got dtype {clip.dtype}")
    if target is not None and (not isinstance(target, numbers.Integral) or isinstance(target, bool) or target < 0):
        raise ValueError(f"{fn}(target={target!r}): expected a class index (int >= 0) or None")
    device = next((p.device for p in model.parameters()), clip.device)
    return clip.detach().to(device), None if target is None else int(target)


@contextmanager
def _eval_mode(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _target_of(logits: torch.Tensor, target: int | None, fn: str) -> int:
    if logits.ndim != 2:
        raise ValueError(f"{fn}: the model must return logits (N, K), got shape {tuple(logits.shape)}")
    if target is None:
        return int(logits[0].argmax())
    if target >= logits.shape[1]:
        raise ValueError(f"{fn}(target={target}): the model has only {logits.shape[1]} classes")
    return target


def input_saliency(model: nn.Module, clip: torch.Tensor, target: int | None = None) -> torch.Tensor:
    """|d score_target / d clip|, max over channels: clip (C, T, H, W) -> saliency (T, H, W) >= 0, on the CPU."""
    clip, target = _check(model, clip, target, "input_saliency")
    x = clip[None].clone().requires_grad_(True)
    with _eval_mode(model):
        logits = model(x)
        target = _target_of(logits, target, "input_saliency")
        (grad,) = torch.autograd.grad(logits[0, target], x)
    return grad[0].abs().amax(dim=0).cpu()


def temporal_occlusion(model: nn.Module, clip: torch.Tensor, target: int | None = None, *,
                       fill: str = "mean", against: int | None = None) -> torch.Tensor:
    """Drop of the score when frame t is occluded: clip (C, T, H, W) -> drops (T,), on the CPU.

    The score is the target class probability, or with ``against=j`` the logit margin ``logit[target] - logit[j]``
    (e.g. against the time-reversed twin class: which frames tell the two apart). Positive: the frame helped the
    prediction; negative: hiding it made the model surer. See the module docstring for ``fill``. All T occluded
    copies go through the model in one batch.
    """
    clip, target = _check(model, clip, target, "temporal_occlusion")
    if against is not None and (not isinstance(against, numbers.Integral) or isinstance(against, bool)
                                or against < 0):
        raise ValueError(f"temporal_occlusion(against={against!r}): expected a class index (int >= 0) or None")
    if fill not in OCCLUSION_FILLS:
        raise ValueError(f"temporal_occlusion(fill={fill!r}): expected one of {OCCLUSION_FILLS}")
    t = clip.shape[1]
    copies = clip[None].repeat(t, 1, 1, 1, 1)                      # (T, C, T, H, W): copy i hides frame i
    for i in range(t):
        if fill == "mean":
            copies[i, :, i] = clip.mean(dim=1)
        elif fill == "zero":
            copies[i, :, i] = 0
        else:
            copies[i, :, i] = clip[:, i - 1] if i > 0 else clip[:, 1]
    with _eval_mode(model), torch.no_grad():
        logits = model(clip[None]).float()
        target = _target_of(logits, target, "temporal_occlusion")
        occluded = model(copies).float()
        if against is None:
            base, hidden = torch.softmax(logits, 1)[0, target], torch.softmax(occluded, 1)[:, target]
        else:
            _target_of(logits, int(against), "temporal_occlusion")
            base = logits[0, target] - logits[0, against]
            hidden = occluded[:, target] - occluded[:, against]
    return (base - hidden).cpu()


def _layer(model: nn.Module, layer) -> nn.Module:
    if isinstance(layer, nn.Module):
        if not any(m is layer for m in model.modules()):
            raise ValueError("grad_cam_3d(layer): the module is not part of the model")
        return layer
    if isinstance(layer, str):
        try:
            return model.get_submodule(layer)
        except AttributeError:
            names = [n for n, _ in model.named_modules() if n][:12]
            raise ValueError(f"grad_cam_3d(layer={layer!r}): no such submodule; some names: {names}") from None
    raise TypeError(f"grad_cam_3d(layer): expected a submodule or its dotted name, got {type(layer).__name__}")


def grad_cam_3d(model: nn.Module, clip: torch.Tensor, layer, target: int | None = None) -> torch.Tensor:
    """Grad-CAM of ``layer`` (a submodule or its name, e.g. ``"features.conv3b"``) whose output is (1, C', T', H', W').

    clip (C, T, H, W) -> map (T, H, W) in [0, 1] (trilinear upsampling of the (T', H', W') map, divided by its
    maximum; all zeros when no activation supports the class), on the CPU.
    """
    clip, target = _check(model, clip, target, "grad_cam_3d")
    module = _layer(model, layer)
    store: dict[str, torch.Tensor] = {}

    def hook(_module, _inputs, output):
        store["activation"] = output

    handle = module.register_forward_hook(hook)
    try:
        with _eval_mode(model):
            logits = model(clip[None])
            target = _target_of(logits, target, "grad_cam_3d")
            activation = store.get("activation")
            if activation is None or not torch.is_tensor(activation) or activation.ndim != 5:
                raise ValueError(f"grad_cam_3d(layer): expected the layer to output (1, C', T', H', W'), got "
                                 f"{tuple(activation.shape) if torch.is_tensor(activation) else type(activation).__name__}")
            (grad,) = torch.autograd.grad(logits[0, target], activation)
    finally:
        handle.remove()
    weights = grad[0].mean(dim=(1, 2, 3))                           # (C',)
    cam = torch.relu((weights[:, None, None, None] * activation[0].detach()).sum(dim=0))   # (T', H', W')
    cam = nn.functional.interpolate(cam[None, None], size=tuple(clip.shape[1:]), mode="trilinear",
                                    align_corners=False)[0, 0]
    peak = cam.max()
    return (cam / peak if peak > 0 else cam).cpu()


def frame_importance(saliency: torch.Tensor) -> torch.Tensor:
    """Per-frame share of a non-negative map: (T, H, W) -> (T,) summing to 1 (all zeros for an all-zero map)."""
    if not torch.is_tensor(saliency) or saliency.ndim != 3:
        raise ValueError(f"frame_importance(saliency): expected a tensor (T, H, W), "
                         f"got {tuple(saliency.shape) if torch.is_tensor(saliency) else type(saliency).__name__}")
    if (saliency < 0).any():
        raise ValueError("frame_importance(saliency): expected non-negative values (a saliency or Grad-CAM map)")
    per_frame = saliency.double().sum(dim=(1, 2))
    total = per_frame.sum()
    return (per_frame / total if total > 0 else per_frame).float()


def squeeze_motion(clip: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """The clip (C, T, H, W) re-timed so that frames ``start..stop-1`` play the whole clip (first to last frame)
    and the frames before/after hold the first/last frame still -> (C, T, H, W). Same frames, same end points:
    only *when* the motion happens changes."""
    if not torch.is_tensor(clip) or clip.ndim != 4:
        raise ValueError(f"squeeze_motion(clip): expected a tensor (C, T, H, W), "
                         f"got {tuple(clip.shape) if torch.is_tensor(clip) else type(clip).__name__}")
    t = clip.shape[1]
    if not (isinstance(start, numbers.Integral) and isinstance(stop, numbers.Integral) and 0 <= start < stop - 1
            and stop <= t):
        raise ValueError(f"squeeze_motion(start={start!r}, stop={stop!r}): expected 0 <= start < stop - 1, "
                         f"stop <= T = {t}")
    source = torch.round((torch.arange(t) - start) * (t - 1) / (stop - 1 - start)).clamp(0, t - 1).long()
    return clip[:, source]
