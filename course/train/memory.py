"""Training memory (chapter 16): what the backward pass keeps, activation checkpointing, gradient accumulation.

During the forward pass autograd keeps the tensors the backward pass will need (inputs of convolutions, ReLU masks,
pooling indices, ...). For a video model they grow with the clip: twice the frames, twice the memory. This module
measures them directly — :func:`saved_activation_bytes` adds up every tensor autograd saves, through
``torch.autograd.graph.saved_tensors_hooks`` — so the numbers are the same on a CPU and on a GPU.

- :class:`CheckpointedSequential` runs a sequential model in segments with ``torch.utils.checkpoint``: only each
  segment's input is kept, and the segment's forward pass is recomputed during backward (less memory, more time);
- :func:`accumulated_gradients` sums the gradients of micro-batches, scaled so that they equal the gradient of the
  whole batch — exactly for models without BatchNorm, not for models with it (:func:`full_batch_gradients`,
  :func:`max_gradient_difference`).
"""
from __future__ import annotations

import numbers

import torch


def _check_model(fn: str, model) -> None:
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{fn}(model): expected a torch.nn.Module, got {type(model).__name__}")


def _check_batch(fn: str, clips, labels=None) -> None:
    import torch

    if not torch.is_tensor(clips) or clips.ndim < 2:
        got = tuple(clips.shape) if torch.is_tensor(clips) else type(clips).__name__
        raise ValueError(f"{fn}(clips): expected a batch tensor (N, C, T, H, W), got {got}")
    if labels is not None and (not torch.is_tensor(labels) or labels.shape[:1] != clips.shape[:1]):
        raise ValueError(f"{fn}(labels): expected a tensor with the batch's {clips.shape[0]} labels first")


def saved_activation_bytes(model, clips, *, loss_fn=None, labels=None) -> int:
    """Bytes of the tensors autograd keeps for the backward pass of ``model(clips)`` (the activation memory).

    ``clips`` (N, C, T, H, W). Each saved tensor's storage is counted once (a tensor saved by two layers, or a view,
    is not counted twice); parameters are not activations and are left out. The forward pass runs in training mode
    under the hooks; nothing is backpropagated. With ``loss_fn`` and ``labels`` the loss's own saved tensors count
    too.
    """
    import torch

    fn = "saved_activation_bytes"
    _check_model(fn, model)
    _check_batch(fn, clips, labels)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in params:
            seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        return t

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = model(clips)
        if loss_fn is not None:
            out = loss_fn(out, labels)
    del out
    return int(sum(seen.values()))


class CheckpointedSequential(torch.nn.Module):
    """``model`` (an ``nn.Sequential``) run in ``segments`` checkpointed pieces (``checkpoint_sequential``).

    Same outputs and gradients as ``model(x)``; only each segment's input is kept for backward, and the activations
    inside a segment are recomputed during backward instead of stored. ``forward``: (N, ...) -> whatever the
    sequential model returns. The parameters are ``model``'s own (it is a submodule).
    """

    def __init__(self, model, segments: int):
        super().__init__()
        if not isinstance(model, torch.nn.Sequential):
            raise TypeError(f"CheckpointedSequential(model): expected a torch.nn.Sequential, got {type(model).__name__}")
        if not isinstance(segments, numbers.Integral) or isinstance(segments, bool) or not 1 <= segments <= len(model):
            raise ValueError(f"CheckpointedSequential(segments={segments!r}): expected an int from 1 to {len(model)} "
                             f"(the number of layers)")
        self.model, self.segments = model, int(segments)

    def forward(self, x):
        from torch.utils.checkpoint import checkpoint_sequential

        if not (self.training and torch.is_grad_enabled()):
            return self.model(x)  # nothing is kept for backward: no need to checkpoint
        return checkpoint_sequential(self.model, self.segments, x, use_reentrant=False)


def _gradients(model) -> dict:
    return {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}


def full_batch_gradients(model, clips, labels, *, loss_fn=None) -> dict:
    """``{parameter name: gradient}`` of the mean loss over the whole batch (clips (N, ...), labels (N,))."""
    import torch

    fn = "full_batch_gradients"
    _check_model(fn, model)
    _check_batch(fn, clips, labels)
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    model.zero_grad(set_to_none=True)
    loss_fn(model(clips), labels).backward()
    grads = _gradients(model)
    model.zero_grad(set_to_none=True)
    return grads


def accumulated_gradients(model, clips, labels, *, micro_batches: int, loss_fn=None) -> dict:
    """``{parameter name: gradient}`` accumulated over ``micro_batches`` equal slices of the batch.

    Each micro-batch's mean loss is divided by ``micro_batches`` before ``backward()`` adds its gradient to
    ``.grad``, so the sum equals the gradient of the whole batch's mean loss (for models whose output for a clip
    does not depend on the other clips of the batch — BatchNorm in training mode does). ``clips`` (N, ...) with N
    divisible by ``micro_batches``; labels (N,).
    """
    import torch

    fn = "accumulated_gradients"
    _check_model(fn, model)
    _check_batch(fn, clips, labels)
    if not isinstance(micro_batches, numbers.Integral) or isinstance(micro_batches, bool) or micro_batches < 1:
        raise ValueError(f"{fn}(micro_batches={micro_batches!r}): expected a positive int")
    if clips.shape[0] % micro_batches:
        raise ValueError(f"{fn}(micro_batches={micro_batches}): the batch of {clips.shape[0]} does not split into "
                         f"{micro_batches} equal micro-batches")
    loss_fn = loss_fn or torch.nn.functional.cross_entropy
    model.zero_grad(set_to_none=True)
    for x, y in zip(clips.chunk(micro_batches), labels.chunk(micro_batches)):
        (loss_fn(model(x), y) / micro_batches).backward()
    grads = _gradients(model)
    model.zero_grad(set_to_none=True)
    return grads


def max_gradient_difference(a: dict, b: dict) -> float:
    """The largest |difference| between two ``{name: gradient}`` dicts with the same names and shapes."""
    if not isinstance(a, dict) or not isinstance(b, dict):
        raise TypeError("max_gradient_difference(a, b): expected two dicts {parameter name: gradient}")
    if a.keys() != b.keys():
        raise ValueError(f"max_gradient_difference: the dicts name different parameters "
                         f"({sorted(set(a) ^ set(b))[:5]})")
    if not a:
        raise ValueError("max_gradient_difference: no gradients to compare")
    return max(float((a[k] - b[k]).abs().max()) for k in a)
