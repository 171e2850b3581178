"""Chapters 01–03: the kernel explorer widget and plots of images, pixel values, kernel footprints, filters, feature
maps and training curves."""
from __future__ import annotations

import numpy as np

#: Classic 3x3 kernels for the explorer (cross-correlation, as in the course's conv2d).
KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
    "box blur": np.full((3, 3), 1 / 9),
    "sharpen": np.array([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    "Sobel x (vertical edges)": np.array([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    "Sobel y (horizontal edges)": np.array([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    "Laplacian": np.array([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    "worked example": np.array([[1.0, 0, 1], [0, 1, 0], [1, 0, 1]]),
}


def _as_image(image, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or not np.issubdtype(image.dtype, np.number):
        raise ValueError(f"{name}: expected a 2-D numeric (H, W) array, got shape {image.shape}, dtype {image.dtype}")
    return image.astype(np.float64)


def explain_position(image: np.ndarray, kernel: np.ndarray, row: int, col: int, padding: int = 0):
    """What one output pixel of a 'valid' correlation of the zero-padded image is made of.

    image: (H, W); kernel: (KH, KW); (row, col): an output position. Returns (patch, product, value):
    the (KH, KW) input patch under the kernel, the element-wise product patch*kernel, and its sum.
    """
    image, kernel = _as_image(image, "explain_position(image)"), _as_image(kernel, "explain_position(kernel)")
    if not isinstance(padding, int) or padding < 0:
        raise ValueError(f"explain_position(padding): expected an int >= 0, got {padding!r}")
    padded = np.pad(image, padding)
    kh, kw = kernel.shape
    ho, wo = padded.shape[0] - kh + 1, padded.shape[1] - kw + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"explain_position(kernel): kernel {kernel.shape} is larger than the padded image "
                         f"{padded.shape}")
    if not (0 <= row < ho and 0 <= col < wo):
        raise ValueError(f"explain_position(row, col): expected 0 <= row < {ho} and 0 <= col < {wo}, "
                         f"got ({row}, {col})")
    patch = padded[row:row + kh, col:col + kw]
    product = patch * kernel
    return patch, product, float(product.sum())


def _annotate(ax, values: np.ndarray, fmt: str = "{:.2g}", fontsize: int = 9):
    if values.size > 64:
        return
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, fmt.format(v + 0.0), ha="center", va="center", fontsize=fontsize, color="black",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "alpha": 0.7, "lw": 0})


def show_pixel_values(gray: np.ndarray, *, top: int, left: int, size: int = 8):
    """The grey-scale image ``gray`` (H, W) in [0, 1] with a ``size`` x ``size`` square outlined, and that square
    enlarged with its values written in. Each number is black on light pixels and white on dark ones, so every
    number stays readable. Returns the figure.
    """
    import matplotlib.pyplot as plt

    gray = _as_image(gray, "show_pixel_values(gray)")
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 12:
        raise ValueError(f"show_pixel_values(size): expected an int from 1 to 12 (pixels), got {size!r}")
    if not (0 <= top <= gray.shape[0] - size and 0 <= left <= gray.shape[1] - size):
        raise ValueError(f"show_pixel_values(top, left): the {size}x{size} square must fit inside the image "
                         f"{gray.shape}, got top={top}, left={left}")
    corner = gray[top:top + size, left:left + size]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    axes[0].imshow(gray, cmap="gray", vmin=0, vmax=1)
    axes[0].add_patch(plt.Rectangle((left - 0.5, top - 0.5), size, size, ec="red", fill=False, lw=2))
    axes[0].set_title("grey-scale, (H, W)")
    axes[1].imshow(corner, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title(f"the red {size}x{size} square, with its values")
    for (i, j), v in np.ndenumerate(corner):
        axes[1].text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9,
                     color="black" if v > 0.5 else "white")
    for ax in axes:
        ax.axis("off")
    return fig


def footprint(n: int, k: int, stride: int, dilation: int, outputs: int = 3) -> np.ndarray:
    """Which input pixels of a 1 x ``n`` row the first ``outputs`` output pixels of a ``k``-tap kernel read.

    Returns an (outputs, n) array: row o holds o + 1 where output o reads that pixel, 0 elsewhere.
    """
    for name, v in (("n", n), ("k", k), ("stride", stride), ("dilation", dilation), ("outputs", outputs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"footprint({name}): expected a positive int, got {v!r}")
    img = np.zeros((outputs, n))
    for o in range(outputs):
        for t in range(k):
            pos = o * stride + t * dilation
            if pos < n:
                img[o, pos] = o + 1
    return img


def plot_footprints(n: int, k: int, settings, outputs: int = 3):
    """One row per (stride, dilation) in ``settings``: the input pixels (of a 1 x ``n`` row) that each of the first
    ``outputs`` output pixels of a ``k``-tap kernel reads, one colour per output pixel. Returns the figure.
    """
    import matplotlib.pyplot as plt

    settings = list(settings)
    if not settings or not all(len(s) == 2 for s in settings):
        raise ValueError(f"plot_footprints(settings): expected a list of (stride, dilation) pairs, got {settings!r}")
    fig, axes = plt.subplots(len(settings), 1, figsize=(7, 1.2 * len(settings) + 0.4), squeeze=False,
                             layout="constrained")
    for ax, (s, d) in zip(axes[:, 0], settings):
        ax.imshow(np.ma.masked_equal(footprint(n, k, s, d, outputs), 0), cmap="tab10", vmin=0, vmax=10,
                  aspect="auto")
        ax.set_yticks(range(outputs), [f"out {o}" for o in range(outputs)], fontsize=8)
        ax.set_xticks(range(n))
        ax.tick_params(axis="x", labelsize=8)
        ax.set_title(f"{k}-tap kernel, stride {s}, dilation {d}", fontsize=9)
    axes[-1, 0].set_xlabel("input pixel")
    return fig


def kernel_explorer(image: np.ndarray | None = None, kernels: dict[str, np.ndarray] | None = None):
    """An ipywidgets explorer: pick a kernel and an output position; see the input patch, the element-wise product
    and the output value it sums to.

    image: (H, W) grey-scale array, small (e.g. 8x8 to 16x16) so the numbers stay readable; defaults to a digit
    from scikit-learn. Returns the widget container (make it the last expression of a cell to display it).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from ..numpy_nn import conv2d

    if image is None:
        from sklearn.datasets import load_digits
        image = load_digits().images[0] / 16.0
    image = _as_image(image, "kernel_explorer(image)")
    kernels = dict(KERNELS if kernels is None else kernels)
    if not kernels:
        raise ValueError("kernel_explorer(kernels): expected at least one kernel")

    choice = widgets.Dropdown(options=list(kernels), value=list(kernels)[0], description="kernel")
    same = widgets.Checkbox(value=True, description="'same' zero padding")
    row = widgets.IntSlider(0, 0, 1, description="output row", continuous_update=False)
    col = widgets.IntSlider(0, 0, 1, description="output col", continuous_update=False)
    out = widgets.Output()

    def sizes():
        k = np.asarray(kernels[choice.value], dtype=np.float64)
        pad = k.shape[0] // 2 if same.value else 0
        return k, pad, image.shape[0] + 2 * pad - k.shape[0] + 1, image.shape[1] + 2 * pad - k.shape[1] + 1

    def draw(change=None):
        k, pad, ho, wo = sizes()
        row.max, col.max = max(ho - 1, 0), max(wo - 1, 0)
        r, c = min(row.value, row.max), min(col.value, col.max)
        patch, product, value = explain_position(image, k, r, c, pad)
        output = conv2d(image[None, None], k[None, None], padding=pad)[0, 0]
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 5, figsize=(10, 2.6),
                                     gridspec_kw={"width_ratios": [1.3, 0.8, 0.8, 0.8, 1.3]})
            axes[0].imshow(np.pad(image, pad), cmap="gray")
            axes[0].add_patch(Rectangle((c - 0.5, r - 0.5), k.shape[1], k.shape[0], fill=False, ec="red", lw=2))
            axes[0].set_title(f"input (padded by {pad})", fontsize=9)
            for ax, values, name, cmap in ((axes[1], patch, "input patch", "gray"), (axes[2], k, "kernel", "coolwarm"),
                                           (axes[3], product, "patch × kernel", "coolwarm")):
                m = float(np.abs(values).max()) or 1.0
                ax.imshow(values, cmap=cmap, vmin=-m if cmap == "coolwarm" else None, vmax=m)
                _annotate(ax, values)
                ax.set_title(name, fontsize=9)
            axes[4].imshow(output, cmap="gray")
            axes[4].add_patch(Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="red", lw=2))
            axes[4].set_title(f"output[{r}, {c}] = sum = {value:.3g}", fontsize=9)
            for ax in axes:
                ax.set_xticks([])
                ax.set_yticks([])
            plt.tight_layout()
            plt.show()

    for w in (choice, same, row, col):
        w.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([choice, same]), widgets.HBox([row, col]), out])


def show_images(images, titles=None, *, cmap: str = "gray", ncols: int | None = None, size: float = 3.0,
                symmetric: bool = False):
    """Plot (H, W) or (H, W, 3) images side by side; ``symmetric`` centres the colour map on 0 (for signed maps).

    ``size`` is each image's size in inches, reduced when needed so that the figure is at most 10 inches wide.
    """
    import matplotlib.pyplot as plt

    images = list(images)
    if not images:
        raise ValueError("show_images(images): expected at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"show_images(titles): expected {len(images)} titles, got {len(titles)}")
    ncols = ncols or len(images)
    nrows = -(-len(images) // ncols)
    size = min(size, 10.0 / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, (ax, img) in enumerate(zip(axes.flat, images)):
        img = np.asarray(img)
        kw = {}
        if img.ndim == 2:
            kw["cmap"] = "coolwarm" if symmetric else cmap
            if symmetric:
                m = float(np.abs(img).max()) or 1.0
                kw.update(vmin=-m, vmax=m)
        ax.imshow(img, **kw)
        if titles is not None:
            ax.set_title(titles[i], fontsize=9)
    plt.tight_layout()
    plt.show()


def plot_filters(w: np.ndarray, *, title: str = "learned filters"):
    """Plot a filter bank (F, C, KH, KW): one small image per filter (channel 0), colours centred on zero."""
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"plot_filters(w): expected (F, C, KH, KW), got shape {w.shape}")
    import matplotlib.pyplot as plt

    f = w.shape[0]
    ncols = min(f, 8)
    nrows = -(-f // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.2 * ncols, 1.2 * nrows + 0.4), squeeze=False)
    m = float(np.abs(w[:, 0]).max()) or 1.0
    for ax in axes.flat:
        ax.axis("off")
    for i, ax in zip(range(f), axes.flat):
        ax.imshow(w[i, 0], cmap="coolwarm", vmin=-m, vmax=m)
        ax.set_title(str(i), fontsize=9)
    fig.suptitle(title)
    plt.tight_layout()
    plt.show()


def plot_history(history: dict[str, list[float]]):
    """Training curves from ``course.numpy_nn.cnn.train``: loss on the left, accuracies on the right."""
    import matplotlib.pyplot as plt

    missing = {"train_loss", "train_acc", "test_acc"} - set(history)
    if missing:
        raise ValueError(f"plot_history(history): missing keys {sorted(missing)}")
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
    a.plot(epochs, history["train_loss"], marker="o")
    a.set(xlabel="epoch", ylabel="mean training loss", title="loss")
    b.plot(epochs, history["train_acc"], marker="o", label="train")
    b.plot(epochs, history["test_acc"], marker="o", label="test")
    b.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
    b.legend()
    plt.tight_layout()
    plt.show()
