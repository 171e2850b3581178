"""Measuring models: parameters, FLOPs (``torch.utils.flop_counter``), and a per-stage architecture table."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


def _check_model(model, owner: str) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"{owner}(model): expected a torch.nn.Module, got {type(model).__name__}")


def _check_shape(input_shape, owner: str) -> tuple[int, ...]:
    if (not isinstance(input_shape, (tuple, list, torch.Size)) or not input_shape
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in input_shape)):
        raise ValueError(f"{owner}(input_shape): expected a tuple of positive ints such as (1, 3, 16, 112, 112), "
                         f"got {input_shape!r}")
    return tuple(input_shape)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters of ``model`` (only those with ``requires_grad`` if ``trainable_only``)."""
    _check_model(model, "count_parameters")
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape) -> int:
    """Floating-point operations of one forward pass on a zero input of ``input_shape`` (batch included).

    Uses :class:`torch.utils.flop_counter.FlopCounterMode`, which counts a multiply-add as 2 FLOPs and covers
    convolutions and matrix products (element-wise ops such as ReLU and pooling are not counted). The model is run
    in eval mode under ``torch.no_grad()`` and left in the mode it was in.
    """
    from torch.utils.flop_counter import FlopCounterMode

    _check_model(model, "count_flops")
    shape = _check_shape(input_shape, "count_flops")
    param = next(model.parameters(), None)
    x = torch.zeros(shape, device=param.device if param is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


@dataclass
class StageRow:
    name: str
    output_shape: tuple[int, ...]
    parameters: int


def layer_table(model: nn.Module, input_shape, *, stages: list[str] | None = None) -> list[StageRow]:
    """Output shape (without the batch dim) and parameter count of each stage of ``model`` for ``input_shape``.

    Stages are the model's leaf-most *named* children in forward order: by default every child of the model's
    ``features`` and ``classifier`` containers if it has them, else its direct children. Measured with forward hooks
    on a zero input of ``input_shape`` (batch included), in eval mode, on the model's device — build the model under
    ``with torch.device("meta"):`` to get the table of a big model without computing anything.
    """
    _check_model(model, "layer_table")
    shape = _check_shape(input_shape, "layer_table")
    named = dict(model.named_modules())
    if stages is None:
        stages = []
        for container in ("features", "classifier"):
            if container in named and len(list(named[container].children())):
                stages += [f"{container}.{n}" for n, _ in named[container].named_children()]
        if not stages:
            stages = [n for n, _ in model.named_children()]
    missing = [s for s in stages if s not in named]
    if missing:
        raise ValueError(f"layer_table(stages=...): no submodule named {missing}")
    rows: dict[str, StageRow] = {}
    hooks = []
    for name in stages:
        module = named[name]

        def hook(mod, inp, out, name=name):
            rows[name] = StageRow(name.split(".")[-1], tuple(out.shape[1:]), sum(p.numel() for p in mod.parameters()))

        hooks.append(module.register_forward_hook(hook))
    param = next(model.parameters(), None)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(shape, device=param.device if param is not None else "cpu"))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return [rows[s] for s in stages if s in rows]


def format_layer_table(rows: list[StageRow], *, input_shape=None) -> str:
    """The rows of :func:`layer_table` as an aligned text table with a total line."""
    lines = [f"{'stage':<10} {'output shape (C, T, H, W)':<28} {'parameters':>12}", "-" * 52]
    if input_shape is not None:
        lines.append(f"{'input':<10} {str(tuple(input_shape[1:])):<28} {'':>12}")
    for r in rows:
        lines.append(f"{r.name:<10} {str(r.output_shape):<28} {r.parameters:>12,}")
    lines += ["-" * 52, f"{'total':<10} {'':<28} {sum(r.parameters for r in rows):>12,}"]
    return "\n".join(lines)
