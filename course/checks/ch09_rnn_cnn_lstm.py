"""Checks for chapter 09 (RNNs and CNN-LSTM). References are PyTorch's own cells with the same weights copied in."""
from __future__ import annotations

import numpy as np

from .core import Case, CaseRunner, CheckResult, check_function


def _random_step(rng, n, d, hidden, gates, *, cell_state=False):
    arrays = [rng.standard_normal((n, d)), rng.standard_normal((n, hidden))]
    if cell_state:
        arrays.append(rng.standard_normal((n, hidden)))
    arrays += [rng.standard_normal((gates * hidden, d)) * 0.7, rng.standard_normal((gates * hidden, hidden)) * 0.7,
               rng.standard_normal(gates * hidden) * 0.5]
    return tuple(arrays)


def _torch_rnn_step(x, h, W, U, b):
    import torch
    from torch import nn

    cell = nn.RNNCell(W.shape[1], W.shape[0]).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(W))
        cell.weight_hh.copy_(torch.from_numpy(U))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
        return cell(torch.from_numpy(x), torch.from_numpy(h)).numpy()


def rnn_step(fn) -> CheckResult:
    """Check ``fn(x, h, W, U, b) -> h_new`` (h_new = tanh(x W^T + h U^T + b)) against ``torch.nn.RNNCell``."""
    rng = np.random.default_rng(9)
    cases = [
        Case(_random_step(rng, 1, 1, 1, 1), name="one sample, one input, one unit"),
        Case(_random_step(rng, 4, 3, 5, 1), name="batch of 4, D=3, H=5",
             hint="x is (N, D) and W is (H, D): the product is x @ W.T, giving (N, H)"),
        Case(_random_step(rng, 2, 6, 2, 1), name="more inputs than hidden units"),
        Case((np.zeros((3, 2)), np.zeros((3, 4)), np.ones((4, 2)), np.ones((4, 4)), np.full(4, 0.5)),
             name="zero input and state: only the bias", hint="tanh(b) when x and h are zero"),
    ]
    return check_function(fn, cases, title="rnn_step", reference=_torch_rnn_step, rtol=1e-7, atol=1e-10,
                          hint="h_new = np.tanh(x @ W.T + h @ U.T + b)")


def _torch_lstm_cell(x, h, c, W, U, b):
    import torch
    from torch import nn

    cell = nn.LSTMCell(W.shape[1], W.shape[0] // 4).double()
    with torch.no_grad():
        cell.weight_ih.copy_(torch.from_numpy(W))
        cell.weight_hh.copy_(torch.from_numpy(U))
        cell.bias_ih.copy_(torch.from_numpy(b))
        cell.bias_hh.zero_()
        h_new, c_new = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    return h_new.numpy(), c_new.numpy()


def lstm_cell(fn) -> CheckResult:
    """Check ``fn(x, h, c, W, U, b) -> (h_new, c_new)`` against ``torch.nn.LSTMCell`` (gate order i, f, g, o)."""
    rng = np.random.default_rng(11)
    hidden = 3
    only_forget = np.zeros(4 * hidden)
    only_forget[hidden:2 * hidden] = 20.0   # forget gate ~1, others at 0 -> c_new = c + 0.5 * tanh(0) = c
    cases = [
        Case(_random_step(rng, 1, 2, 1, 4, cell_state=True), name="one sample, one unit"),
        Case(_random_step(rng, 4, 3, 5, 4, cell_state=True), name="batch of 4, D=3, H=5",
             hint="split z = x @ W.T + h @ U.T + b into 4 blocks of H columns: i, f, g, o (PyTorch's order)"),
        Case(_random_step(rng, 2, 1, 6, 4, cell_state=True), name="one input feature, six units"),
        Case((np.zeros((2, 2)), np.zeros((2, hidden)), rng.standard_normal((2, hidden)),
              np.zeros((4 * hidden, 2)), np.zeros((4 * hidden, hidden)), only_forget),
             name="forget gate wide open keeps the cell state",
             hint="the second block of H rows is the forget gate f, and c_new = f * c + i * g"),
    ]
    return check_function(fn, cases, title="lstm_cell", reference=_torch_lstm_cell, rtol=1e-7, atol=1e-10,
                          hint="i, f, o use the sigmoid, g uses tanh; c_new = f*c + i*g; h_new = o * tanh(c_new)")


def _make_lstm(d, hidden, seed, bias=True):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.LSTM(d, hidden, batch_first=True, bias=bias)


def _reference_weights(lstm):
    W = lstm.weight_ih_l0.detach().double().numpy().copy()
    U = lstm.weight_hh_l0.detach().double().numpy().copy()
    if lstm.bias:
        b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().double().numpy().copy()
    else:
        b = np.zeros(W.shape[0])
    return W, U, b


def lstm_weights_from_torch(fn) -> CheckResult:
    """Check ``fn(lstm) -> (W, U, b)``: float64 NumPy arrays (4H, D), (4H, H), (4H,) of an ``nn.LSTM``'s first layer."""
    cases = [
        Case((_make_lstm(3, 4, 0),), name="nn.LSTM(3, 4)",
             hint="W = lstm.weight_ih_l0, U = lstm.weight_hh_l0, b = bias_ih_l0 + bias_hh_l0, each converted "
                  "with .detach().double().numpy()"),
        Case((_make_lstm(1, 2, 1),), name="nn.LSTM(1, 2)", hint="PyTorch keeps two bias vectors: add them"),
        Case((_make_lstm(5, 3, 2, bias=False),), name="nn.LSTM(5, 3, bias=False)",
             hint="without biases (lstm.bias is False) return zeros of shape (4H,) for b"),
    ]

    def compare(got, expected):
        from .core import compare as compare_values

        if not isinstance(got, (tuple, list)) or len(got) != 3:
            return f"expected a tuple (W, U, b), got {type(got).__name__}"
        for name, g, e in zip("WUb", got, expected):
            if not isinstance(g, np.ndarray):
                return f"{name}: expected a NumPy array, got {type(g).__name__} (use .detach().numpy())"
            if g.dtype != np.float64:
                return f"{name}: expected dtype float64, got {g.dtype} (use .double() or .astype(np.float64))"
            problem = compare_values(g, e, rtol=1e-6, atol=1e-7)
            if problem:
                return f"{name}: {problem}"
        return None

    return check_function(fn, cases, title="lstm_weights_from_torch", reference=_reference_weights,
                          compare_fn=compare)


def _reference_pool(features, how):
    import torch

    f = torch.from_numpy(features)
    if how == "mean":
        return f.mean(dim=1).numpy()
    if how == "max":
        return f.amax(dim=1).numpy()
    return f[:, -1].numpy()


def temporal_pool(fn) -> CheckResult:
    """Check ``fn(features, how) -> (N, D)`` for features (N, T, D) and how in {"mean", "max", "last"}."""
    rng = np.random.default_rng(13)
    feats = rng.standard_normal((3, 5, 4))
    one_step = rng.standard_normal((2, 1, 6))
    cases = [
        Case((feats, "mean"), name="mean over time", hint="average over axis 1 (time), not over the batch"),
        Case((feats, "max"), name="max over time"),
        Case((feats, "last"), name="last time step", hint="features[:, -1]"),
        Case((one_step, "mean"), name="a single time step (mean)"),
        Case((-np.abs(feats), "max"), name="max of negative features", hint="do not start your maximum at 0"),
    ]
    return check_function(fn, cases, title="temporal_pool", reference=_reference_pool, rtol=1e-9, atol=1e-12)


def _torch_gru_cell(x, h, W, U, b_ih, b_hh):
    import torch
    from torch import nn

    cell = nn.GRUCell(W.shape[1], W.shape[0] // 3).double()
    with torch.no_grad():
        for param, value in ((cell.weight_ih, W), (cell.weight_hh, U), (cell.bias_ih, b_ih), (cell.bias_hh, b_hh)):
            param.copy_(torch.from_numpy(value))
        return cell(torch.from_numpy(x), torch.from_numpy(h)).numpy()


def gru_cell(fn) -> CheckResult:
    """Check ``fn(x, h, W, U, b_ih, b_hh) -> h_new`` against ``torch.nn.GRUCell`` (gate order r, z, n)."""
    rng = np.random.default_rng(17)

    def arrays(n, d, hidden):
        return (rng.standard_normal((n, d)), rng.standard_normal((n, hidden)),
                rng.standard_normal((3 * hidden, d)) * 0.7, rng.standard_normal((3 * hidden, hidden)) * 0.7,
                rng.standard_normal(3 * hidden) * 0.5, rng.standard_normal(3 * hidden) * 0.5)

    x, h, W, U, b_ih, _ = arrays(2, 3, 4)
    cases = [
        Case(arrays(1, 1, 1), name="one sample, one unit"),
        Case(arrays(4, 3, 5), name="batch of 4, D=3, H=5", hint="blocks of H rows in the order r, z, n"),
        Case((x, h, W, U, b_ih, np.zeros_like(b_ih)), name="no hidden bias"),
        Case((x, h, W, U, np.zeros_like(b_ih), rng.standard_normal(b_ih.shape) * 2), name="only the hidden bias",
             hint="b_hn is multiplied by r: n = tanh(W_n x + b_in + r * (U_n h + b_hn))"),
    ]
    return check_function(fn, cases, title="gru_cell", reference=_torch_gru_cell, rtol=1e-7, atol=1e-10,
                          hint="h_new = (1 - z) * n + z * h")


# ---------------------------------------------------------------------------------------------------------------------
# Exercise 6: a recurrent classifier over frame features, built and trained by the learner
# ---------------------------------------------------------------------------------------------------------------------

def sequence_classifier(build, *, feature_size: int = 128, hidden_size: int = 64, num_classes: int = 10) -> CheckResult:
    """Check ``build(feature_size, hidden_size, num_classes) -> nn.Module``: frame features (N, T, feature_size) ->
    finite logits (N, num_classes), the same for the same input in eval mode, that change when the sequence is
    reversed."""
    import torch

    from .ch06_frames_vs_time import module_cases

    state: dict = {}
    features = torch.randn(3, 16, feature_size, generator=torch.Generator().manual_seed(90))

    def uses_lstm():
        if "model" not in state:
            return "no model to test (see the first case)"
        return None if any(isinstance(m, (torch.nn.LSTM, torch.nn.GRU, torch.nn.RNN)) for m in state["model"].modules()) \
            else "expected an nn.LSTM (or nn.GRU / nn.RNN) inside the model"

    run = CaseRunner()
    cases = module_cases(
        build, (feature_size, hidden_size, num_classes), features, num_classes=num_classes, time_dim=1, state=state,
        run=run,
        shape_hint="nn.LSTM(feature_size, hidden_size, batch_first=True), then nn.Linear(hidden_size, num_classes) on "
                   "the last time step: states[:, -1]",
        order_hint="classify the LSTM's last state, not an average over time")
    cases.append(run("has a recurrent layer", uses_lstm))
    return CheckResult("sequence classifier", cases).report()


def trained_sequence_classifier(model, history, test_set) -> CheckResult:
    """Check a trained classifier of frame features: training loss down, test accuracy above chance, within-pair
    accuracy > 75% on ``test_set`` ((features (T, F), label) pairs of MovingShapes clips)."""
    from .ch06_frames_vs_time import trained_video_model

    return trained_video_model(model, history, test_set, min_within_pair=0.75,
                               title="your sequence classifier, trained")
