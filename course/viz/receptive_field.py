"""Chapter 07: space-time receptive fields of stacked 3D convolutions and poolings, and a widget to explore them.

A layer here is only its geometry: kernel, stride and padding per axis (t, h, w). For an output voxel at index
``i`` of a layer, the input indices it reads are ``i*s - p ... i*s - p + k - 1``; walking that rule back through the
stack gives the block of input frames and pixels the voxel can see (its receptive field).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numpy_nn._validate import as_tuple

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class Layer3d:
    """The geometry of one 3D convolution or pooling layer: kernel, stride, padding as (t, h, w) triples."""

    name: str
    kernel: Triple
    stride: Triple = (1, 1, 1)
    padding: Triple = (0, 0, 0)

    def __post_init__(self):
        if not isinstance(self.name, str):
            raise TypeError(f"Layer3d(name): expected a string, got {self.name!r}")
        object.__setattr__(self, "kernel", as_tuple(self.kernel, 3, f"Layer3d({self.name!r}).kernel", minimum=1))
        object.__setattr__(self, "stride", as_tuple(self.stride, 3, f"Layer3d({self.name!r}).stride", minimum=1))
        object.__setattr__(self, "padding", as_tuple(self.padding, 3, f"Layer3d({self.name!r}).padding", minimum=0))

    def output_shape(self, input_shape: Triple) -> Triple:
        """(T', H', W') produced from an input of (T, H, W)."""
        return tuple((n + 2 * p - k) // s + 1 for n, k, s, p in zip(input_shape, self.kernel, self.stride,
                                                                       self.padding))


def layers_from_module(module) -> list[Layer3d]:
    """The :class:`Layer3d` geometry of every ``nn.Conv3d``, ``nn.MaxPool3d`` and ``nn.AvgPool3d`` in ``module``.

    Other layers (ReLU, BatchNorm, ...) do not change geometry and are skipped. Dilated convolutions are rejected.
    """
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"layers_from_module(module): expected a torch nn.Module, got {type(module).__name__}")
    layers = []
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv3d):
            if tuple(m.dilation) != (1, 1, 1) or isinstance(m.padding, str):
                raise ValueError(f"layers_from_module(module): layer {name!r} uses dilation or string padding, "
                                 "which this explorer does not model")
            layers.append(Layer3d(name, tuple(m.kernel_size), tuple(m.stride), tuple(m.padding)))
        elif isinstance(m, (nn.MaxPool3d, nn.AvgPool3d)):
            if getattr(m, "ceil_mode", False) or as_tuple(getattr(m, "dilation", 1), 3, "dilation") != (1, 1, 1):
                raise ValueError(f"layers_from_module(module): layer {name!r} uses ceil_mode or dilation")
            kernel = as_tuple(m.kernel_size, 3, f"{name}.kernel_size", minimum=1)
            stride = as_tuple(m.stride if m.stride is not None else m.kernel_size, 3, f"{name}.stride", minimum=1)
            layers.append(Layer3d(name, kernel, stride, as_tuple(m.padding, 3, f"{name}.padding")))
    if not layers:
        raise ValueError("layers_from_module(module): found no Conv3d or 3D pooling layer")
    return layers


def _check_layers(layers) -> list[Layer3d]:
    layers = list(layers) if isinstance(layers, (list, tuple)) else None
    if not layers or not all(isinstance(layer, Layer3d) for layer in layers):
        raise TypeError("layers: expected a non-empty list of Layer3d")
    return layers


def output_shapes(layers: list[Layer3d], input_shape) -> list[Triple]:
    """(T, H, W) after every layer for an input of ``input_shape`` (T, H, W); raises if a layer has nothing left."""
    layers = _check_layers(layers)
    shape = as_tuple(input_shape, 3, "output_shapes(input_shape)", minimum=1)
    shapes = []
    for layer in layers:
        shape = layer.output_shape(shape)
        if min(shape) < 1:
            raise ValueError(f"output_shapes(input_shape): layer {layer.name!r} gets an empty output {shape} "
                             f"from input {as_tuple(input_shape, 3, 'input_shape')}")
        shapes.append(shape)
    return shapes


def receptive_field_size(layers: list[Layer3d]) -> Triple:
    """Receptive field (frames, rows, cols) of one voxel after the whole stack: 1 + sum (k_l - 1) * prod(s_j, j < l)."""
    layers = _check_layers(layers)
    size, jump = np.ones(3, dtype=int), np.ones(3, dtype=int)
    for layer in layers:
        size += (np.array(layer.kernel) - 1) * jump
        jump *= np.array(layer.stride)
    return tuple(int(v) for v in size)


def receptive_field_box(layers: list[Layer3d], voxel, input_shape=None) -> tuple[Triple, Triple]:
    """The input block that output voxel ``voxel`` (t, y, x) of the LAST layer in ``layers`` can see.

    Returns ``(start, stop)`` per axis (t, h, w), stop exclusive, in input coordinates.

    - Without ``input_shape`` this is the nominal box: it may stick out of the input (negative start, stop past the
      end) where the voxel sees zero padding.
    - With ``input_shape`` (T, H, W) the range is clipped to the real voxels at every layer on the way down, which
      gives exactly the input voxels the voxel depends on (padding sees nothing, and trailing inputs that the floor
      in the output-size rule drops are never read).
    """
    layers = _check_layers(layers)
    lo = np.array(as_tuple(voxel, 3, "receptive_field_box(voxel)"), dtype=int)
    hi = lo.copy()
    sizes = None
    if input_shape is not None:
        shape = as_tuple(input_shape, 3, "receptive_field_box(input_shape)", minimum=1)
        sizes = [shape] + output_shapes(layers, shape)[:-1]   # the input size of every layer
        if any(not 0 <= v < n for v, n in zip(lo, output_shapes(layers, shape)[-1])):
            raise ValueError(f"receptive_field_box(voxel): {tuple(int(v) for v in lo)} is outside the last layer's "
                             f"output {output_shapes(layers, shape)[-1]}")
    for index in reversed(range(len(layers))):
        layer = layers[index]
        k, s, p = (np.array(v) for v in (layer.kernel, layer.stride, layer.padding))
        lo, hi = lo * s - p, hi * s - p + k - 1
        if sizes is not None:
            lo, hi = np.maximum(lo, 0), np.minimum(hi, np.array(sizes[index]) - 1)
    return tuple(int(v) for v in lo), tuple(int(v) + 1 for v in hi)


def _window_sum_like(pool):
    """A module with the geometry of 3D pooling ``pool`` that sums each window (gradient reaches every input)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    kernel = as_tuple(pool.kernel_size, 3, "kernel_size", minimum=1)
    stride = as_tuple(pool.stride if pool.stride is not None else pool.kernel_size, 3, "stride", minimum=1)
    padding = as_tuple(pool.padding, 3, "padding")

    class WindowSum3d(nn.Module):
        def forward(self, x):
            n, c = x.shape[:2]
            ones = torch.ones((1, 1) + kernel, dtype=x.dtype, device=x.device)
            y = F.conv3d(x.reshape((n * c, 1) + tuple(x.shape[2:])), ones, stride=stride, padding=padding)
            return y.reshape((n, c) + tuple(y.shape[2:]))

    return WindowSum3d()


def gradient_receptive_field(module, input_shape, voxel, *, in_channels: int = 1) -> tuple[Triple, Triple]:
    """Measure the receptive field box with autograd: which input voxels get a non-zero gradient from one output voxel.

    ``module`` (a stack of Conv3d / 3D pooling / ReLU) maps (1, C, T, H, W) -> (1, F, T', H', W'). It is measured on a
    copy whose weights are all ones and biases zero, so no gradient cancels by chance, and whose max poolings are
    swapped for average poolings of the same geometry (a max pool sends the gradient to one winner per window, which
    would show the data-dependent *effective* field instead of the geometric one). Returns the bounding box
    ``(start, stop)`` of the input voxels with a non-zero gradient, comparable with
    ``receptive_field_box(layers, voxel, input_shape)``.
    """
    import copy

    import torch
    from torch import nn

    if not isinstance(module, nn.Module):
        raise TypeError(f"gradient_receptive_field(module): expected a torch nn.Module, got {type(module).__name__}")
    shape = as_tuple(input_shape, 3, "gradient_receptive_field(input_shape)", minimum=1)
    probe = copy.deepcopy(module).double().eval()
    for parent in list(probe.modules()):
        for child_name, child in parent.named_children():
            if isinstance(child, (nn.MaxPool3d, nn.AvgPool3d)):
                setattr(parent, child_name, _window_sum_like(child))
    with torch.no_grad():
        for name, param in probe.named_parameters():
            param.copy_(torch.zeros_like(param) if name.endswith("bias") else torch.ones_like(param))
    x = torch.ones((1, in_channels) + shape, dtype=torch.float64, requires_grad=True)
    out = probe(x)
    t, y, w = as_tuple(voxel, 3, "gradient_receptive_field(voxel)")
    out[0, :, t, y, w].sum().backward()
    seen = (x.grad[0] != 0).any(dim=0).nonzero()
    if len(seen) == 0:
        raise ValueError("gradient_receptive_field: no input voxel has a non-zero gradient")
    start = tuple(int(v) for v in seen.min(dim=0).values)
    stop = tuple(int(v) + 1 for v in seen.max(dim=0).values)
    return start, stop


def plot_receptive_field_growth(layers: list[Layer3d], ax=None):
    """Line plot of the receptive field (frames and pixels) after each layer of ``layers``."""
    import matplotlib.pyplot as plt

    layers = _check_layers(layers)
    sizes = np.array([receptive_field_size(layers[: i + 1]) for i in range(len(layers))])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(sizes[:, 0], "o-", label="frames (T)")
    ax.plot(sizes[:, 1], "s--", label="pixels (H = W here)" if (sizes[:, 1] == sizes[:, 2]).all() else "rows (H)")
    if not (sizes[:, 1] == sizes[:, 2]).all():
        ax.plot(sizes[:, 2], "^:", label="cols (W)")
    ax.set_xticks(range(len(layers)), [layer.name for layer in layers], rotation=45, ha="right")
    ax.set_ylabel("receptive field size")
    ax.set_title("receptive field of one voxel, layer by layer")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def show_receptive_field(clip: np.ndarray, layers: list[Layer3d], layer_index: int, voxel, *, max_frames: int = 16):
    """Draw the input frames of ``clip`` (T, H, W) with the block seen by ``voxel`` of layer ``layer_index`` outlined.

    Frames the voxel sees are framed in red with the seen pixels outlined; the others are dimmed.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    clip = np.asarray(clip)
    if clip.ndim != 3:
        raise ValueError(f"show_receptive_field(clip): expected (T, H, W), got shape {clip.shape}")
    layers = _check_layers(layers)
    if not isinstance(layer_index, int) or not 0 <= layer_index < len(layers):
        raise ValueError(f"show_receptive_field(layer_index): expected 0..{len(layers) - 1}, got {layer_index!r}")
    shapes = output_shapes(layers, clip.shape)
    out_shape = shapes[layer_index]
    voxel = as_tuple(voxel, 3, "show_receptive_field(voxel)")
    if any(not 0 <= v < n for v, n in zip(voxel, out_shape)):
        raise ValueError(f"show_receptive_field(voxel): expected an index inside the layer's output {out_shape}, "
                         f"got {voxel}")
    start_c, stop_c = receptive_field_box(layers[: layer_index + 1], voxel, clip.shape)
    n_frames = min(len(clip), max_frames)
    cols = min(n_frames, 8)                       # two rows of 8 frames: the figure fits a notebook without shrinking
    rows = -(-n_frames // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.15 * cols, 1.25 * rows + 0.7), squeeze=False)
    for ax in axes.flat[n_frames:]:
        ax.axis("off")
    for t, ax in enumerate(axes.flat[:n_frames]):
        inside = start_c[0] <= t < stop_c[0]
        ax.imshow(clip[t], cmap="gray", vmin=clip.min(), vmax=clip.max(), alpha=1.0 if inside else 0.35)
        if inside:
            ax.add_patch(Rectangle((start_c[2] - 0.5, start_c[1] - 0.5), stop_c[2] - start_c[2],
                                   stop_c[1] - start_c[1], fill=False, ec="red", lw=1.5))
        for spine in ax.spines.values():
            spine.set_edgecolor("red" if inside else "lightgray")
            spine.set_linewidth(2 if inside else 1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"t={t}", fontsize=9, color="red" if inside else "gray")
    name = layers[layer_index].name
    fig.suptitle(f"{name} voxel (t, y, x) = {voxel} of output {out_shape}\nsees frames {start_c[0]}..{stop_c[0] - 1}, "
                 f"rows {start_c[1]}..{stop_c[1] - 1}, cols {start_c[2]}..{stop_c[2] - 1}", fontsize=10)
    fig.tight_layout()
    return fig


def default_explorer_layer(layers: list[Layer3d], input_shape) -> int:
    """Index of the deepest layer whose output (T', H', W') has more than one voxel along every axis.

    The explorer opens there, so that all three of its sliders can move.
    """
    layers = _check_layers(layers)
    shapes = output_shapes(layers, input_shape)
    movable = [i for i, shape in enumerate(shapes) if min(shape) > 1]
    return movable[-1] if movable else 0


def format_receptive_field_table(layers: list[Layer3d], input_shape) -> str:
    """A text table: for each layer, its kernel, stride, output (T, H, W) and receptive field (T, H, W)."""
    layers = _check_layers(layers)
    shapes = output_shapes(layers, input_shape)
    lines = [f"{'layer':8s} {'kernel':10s} {'stride':10s} {'output (T, H, W)':18s} receptive field (T, H, W)"]
    for i, (layer, shape) in enumerate(zip(layers, shapes)):
        lines.append(f"{layer.name:8s} {str(layer.kernel):10s} {str(layer.stride):10s} {str(shape):18s} "
                     f"{receptive_field_size(layers[:i + 1])}")
    return "\n".join(lines)


def receptive_field_explorer(clip: np.ndarray, layers: list[Layer3d], *, layer_index: int | None = None):
    """An ipywidgets explorer: pick a layer and an output voxel (t, y, x), see the input frames and pixels it sees.

    clip: (T, H, W) array shown as the input. ``layer_index``: the layer it opens on (default: the deepest layer whose
    output has more than one voxel along every axis, so every slider moves). Returns the widget container (make it the
    last expression of a cell).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    clip = np.asarray(clip)
    if clip.ndim != 3:
        raise ValueError(f"receptive_field_explorer(clip): expected (T, H, W), got shape {clip.shape}")
    layers = _check_layers(layers)
    shapes = output_shapes(layers, clip.shape)
    if layer_index is None:
        layer_index = default_explorer_layer(layers, clip.shape)
    if not isinstance(layer_index, int) or isinstance(layer_index, bool) or not 0 <= layer_index < len(layers):
        raise ValueError(f"receptive_field_explorer(layer_index): expected an int in 0..{len(layers) - 1}, "
                         f"got {layer_index!r}")
    layer_box = widgets.Dropdown(options=[(f"{i}: {layer.name} -> {shapes[i]}", i) for i, layer in enumerate(layers)],
                                 value=layer_index, description="layer")
    sliders = [widgets.IntSlider(value=0, min=0, max=0, description=axis, continuous_update=False)
               for axis in ("out t", "out y", "out x")]
    out = widgets.Output()
    busy = [False]

    def draw(_=None):
        if busy[0]:
            return
        with out:
            out.clear_output(wait=True)
            show_receptive_field(clip, layers, layer_box.value, tuple(s.value for s in sliders))
            plt.show()

    def on_layer(_=None):
        busy[0] = True  # update the three sliders' ranges, then draw once
        for slider, n in zip(sliders, shapes[layer_box.value]):
            slider.max = n - 1
            slider.value = min(slider.value, n - 1) if slider.value else n // 2
        busy[0] = False
        draw()

    layer_box.observe(on_layer, names="value")
    for slider in sliders:
        slider.observe(draw, names="value")
    on_layer()
    return widgets.VBox([layer_box, widgets.HBox(sliders), out])
