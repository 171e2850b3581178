"""A complete small CNN in NumPy: layers with forward/backward, softmax cross-entropy, SGD with momentum (chapter 03).

Every layer caches what its backward pass needs during ``forward`` and returns dL/d(input) from ``backward``,
storing dL/d(parameter) in ``grads`` (same keys as ``params``). :class:`Sequential` chains layers;
:func:`train` runs mini-batch SGD with momentum on (N, C, H, W) images, e.g. scikit-learn's 8x8 digits
(:func:`load_digits_split`).
"""
from __future__ import annotations

import numbers

import numpy as np

from ._validate import as_tuple, float_array
from .conv2d import conv2d, conv2d_backward
from .pool2d import max_pool2d, max_pool2d_backward


class Layer:
    """Base class: ``params`` and ``grads`` are dicts of arrays with the same keys (empty for parameter-free layers)."""

    def __init__(self):
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)


class Conv2d(Layer):
    """Convolution layer: (N, C, H, W) -> (N, F, H', W'), He-initialised weights (F, C, K, K) and zero bias (F,)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
                 rng: np.random.Generator | None = None):
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Conv2d({name}): expected a positive int, got {v!r}")
        kh, kw = as_tuple(kernel_size, 2, "Conv2d(kernel_size)", minimum=1)
        rng = rng if rng is not None else np.random.default_rng(0)
        fan_in = in_channels * kh * kw
        self.params["w"] = rng.standard_normal((out_channels, in_channels, kh, kw)) * np.sqrt(2.0 / fan_in)
        self.params["b"] = np.zeros(out_channels)
        self.stride, self.padding = stride, padding

    def forward(self, x):
        self.x = x
        return conv2d(x, self.params["w"], self.params["b"], stride=self.stride, padding=self.padding)

    def backward(self, dout):
        dx, self.grads["w"], self.grads["b"] = conv2d_backward(dout, self.x, self.params["w"], stride=self.stride,
                                                                padding=self.padding)
        return dx


class ReLU(Layer):
    """max(x, 0), element-wise; the gradient passes where x > 0. Any shape."""

    def forward(self, x):
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout):
        return dout * self.mask


class MaxPool2d(Layer):
    """Max pooling layer: (N, C, H, W) -> (N, C, H', W')."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x):
        self.x = x
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def backward(self, dout):
        return max_pool2d_backward(dout, self.x, self.kernel_size, self.stride, self.padding)


class Flatten(Layer):
    """(N, ...) -> (N, D): one feature vector per example."""

    def forward(self, x):
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout):
        return dout.reshape(self.shape)


class Linear(Layer):
    """Fully connected layer: (N, D) -> (N, K) with weight (D, K) and bias (K,)."""

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator | None = None):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"Linear({name}): expected a positive int, got {v!r}")
        rng = rng if rng is not None else np.random.default_rng(0)
        self.params["w"] = rng.standard_normal((in_features, out_features)) * np.sqrt(1.0 / in_features)
        self.params["b"] = np.zeros(out_features)

    def forward(self, x):
        self.x = x
        return x @ self.params["w"] + self.params["b"]

    def backward(self, dout):
        self.grads["w"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["w"].T


class Sequential(Layer):
    """Layers applied in order; ``backward`` runs them in reverse. ``parameters()`` yields (layer, name) pairs."""

    def __init__(self, *layers: Layer):
        super().__init__()
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError("Sequential(*layers): expected one or more Layer instances")
        self.layers = list(layers)

    def forward(self, x):
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self):
        for layer in self.layers:
            for name in layer.params:
                yield layer, name

    def num_parameters(self) -> int:
        return sum(layer.params[name].size for layer, name in self.parameters())


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, K) scores, computed stably (the row maximum is subtracted first)."""
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against integer labels, and its gradient.

    logits: (N, K) float scores; labels: (N,) ints in [0, K). Returns (loss, dlogits) with dlogits (N, K) equal to
    (softmax(logits) - onehot(labels)) / N.
    """
    logits = float_array(logits, "softmax_cross_entropy(logits)", 2, "(N, K)")
    labels = np.asarray(labels)
    if labels.shape != (logits.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"softmax_cross_entropy(labels): expected {logits.shape[0]} integer labels, "
                         f"got shape {labels.shape}, dtype {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"softmax_cross_entropy(labels): expected values in [0, {logits.shape[1]}), "
                         f"got min {labels.min()}, max {labels.max()}")
    n = logits.shape[0]
    z = logits - logits.max(axis=1, keepdims=True)
    log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), labels].mean()
    dlogits = np.exp(log_probs)
    dlogits[np.arange(n), labels] -= 1
    return float(loss), dlogits / n


class SGDMomentum:
    """SGD with momentum (torch's form): v <- momentum*v + grad (+ weight_decay*param); param <- param - lr*v."""

    def __init__(self, model: Sequential, lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 0.0):
        if not isinstance(model, Sequential):
            raise TypeError(f"SGDMomentum(model): expected a Sequential, got {type(model).__name__}")
        if not lr > 0:
            raise ValueError(f"SGDMomentum(lr): expected a positive learning rate, got {lr!r}")
        if not 0 <= momentum < 1:
            raise ValueError(f"SGDMomentum(momentum): expected a value in [0, 1), got {momentum!r}")
        self.model, self.lr, self.momentum, self.weight_decay = model, lr, momentum, weight_decay
        self.velocity = {(id(layer), name): np.zeros_like(layer.params[name]) for layer, name in model.parameters()}

    def step(self):
        for layer, name in self.model.parameters():
            grad = layer.grads[name]
            if self.weight_decay:
                grad = grad + self.weight_decay * layer.params[name]
            v = self.velocity[(id(layer), name)]
            v *= self.momentum
            v += grad
            layer.params[name] -= self.lr * v


def make_digits_cnn(num_filters: int = 16, *, num_classes: int = 10, image_size: int = 8, seed: int = 0) -> Sequential:
    """conv 3x3 (padding 1) -> ReLU -> max-pool 2 -> flatten -> linear: for (N, 1, S, S) images, S even."""
    if not isinstance(image_size, int) or image_size < 2 or image_size % 2:
        raise ValueError(f"make_digits_cnn(image_size): expected an even int >= 2, got {image_size!r}")
    rng = np.random.default_rng(seed)
    half = image_size // 2
    return Sequential(Conv2d(1, num_filters, 3, padding=1, rng=rng), ReLU(), MaxPool2d(2), Flatten(),
                      Linear(num_filters * half * half, num_classes, rng=rng))


def load_digits_split(test_size: float = 0.25, *, seed: int = 0):
    """scikit-learn's 8x8 digits as (N, 1, 8, 8) float64 images in [0, 1] plus labels, split stratified.

    Returns (x_train, y_train, x_test, y_test).
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float64)[:, None]
    x_tr, x_te, y_tr, y_te = train_test_split(x, digits.target, test_size=test_size, random_state=seed,
                                              stratify=digits.target)
    return x_tr, y_tr, x_te, y_te


def predict(model: Layer, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Class scores (N, K) for images x (N, C, H, W), in batches."""
    return np.concatenate([model.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])


def accuracy(model: Layer, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of images x (N, C, H, W) whose highest score is the label y (N,)."""
    return float(np.mean(predict(model, x).argmax(axis=1) == y))


def train(model: Sequential, x_train, y_train, x_test, y_test, *, epochs: int = 10, batch_size: int = 32,
          lr: float = 0.05, momentum: float = 0.9, weight_decay: float = 0.0, seed: int = 0,
          progress: bool = True) -> dict[str, list[float]]:
    """Mini-batch SGD with momentum on softmax cross-entropy; evaluates after every epoch.

    x_*: (N, C, H, W) float arrays; y_*: (N,) int labels. Returns a history dict with per-epoch lists
    ``train_loss`` (mean over the epoch's batches), ``train_acc`` and ``test_acc``.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"train(epochs): expected a positive int, got {epochs!r}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"train(batch_size): expected a positive int, got {batch_size!r}")
    x_train = float_array(x_train, "train(x_train)", 4, "(N, C, H, W)")
    if len(y_train) != len(x_train):
        raise ValueError(f"train(y_train): expected {len(x_train)} labels, got {len(y_train)}")
    from tqdm.auto import tqdm

    rng = np.random.default_rng(seed)
    opt = SGDMomentum(model, lr=lr, momentum=momentum, weight_decay=weight_decay)
    history: dict[str, list[float]] = {"train_loss": [], "train_acc": [], "test_acc": []}
    bar = tqdm(range(epochs), desc="training", disable=not progress)
    for _ in bar:
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss, dlogits = softmax_cross_entropy(model.forward(x_train[idx]), y_train[idx])
            model.backward(dlogits)
            opt.step()
            losses.append(loss)
        history["train_loss"].append(float(np.mean(losses)))
        history["train_acc"].append(accuracy(model, x_train, y_train))
        history["test_acc"].append(accuracy(model, x_test, y_test))
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3f}", test_acc=f"{history['test_acc'][-1]:.3f}")
    return history
