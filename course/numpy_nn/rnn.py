"""A vanilla RNN step and an LSTM cell in NumPy, weight-compatible with PyTorch (chapter 09).

Shapes: a batch of inputs at one time step x is (N, D); hidden state h and cell state c are (N, H).

Weights follow PyTorch's layout so they copy straight across:

- RNN (``nn.RNNCell``/``nn.RNN`` with tanh): W = ``weight_ih`` (H, D), U = ``weight_hh`` (H, H),
  b = ``bias_ih + bias_hh`` (H,).
- LSTM (``nn.LSTMCell``/``nn.LSTM``): W = ``weight_ih`` (4H, D), U = ``weight_hh`` (4H, H), b = ``bias_ih + bias_hh``
  (4H,). The 4H rows are the four gates stacked in PyTorch's order **i, f, g, o**: input gate, forget gate, cell
  candidate, output gate. (PyTorch keeps two bias vectors; they are only ever added, so one sum is equivalent.)
"""
from __future__ import annotations

import numpy as np

from ._validate import float_array

#: Order of the four gate blocks in the rows of W, U and b (PyTorch's order).
LSTM_GATE_ORDER = ("i", "f", "g", "o")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    # Split by sign so that exp never overflows for large |z|.
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out


def _check_step(fn: str, x, h, W, U, b, gates: int):
    x = float_array(x, f"{fn}(x)", 2, "(N, D)")
    h = float_array(h, f"{fn}(h)", 2, "(N, H)")
    n, d = x.shape
    hidden = h.shape[1]
    if h.shape[0] != n:
        raise ValueError(f"{fn}(h): expected batch size {n} to match x {x.shape}, got h of shape {h.shape}")
    rows = gates * hidden
    rows_txt = f"{gates}*H" if gates > 1 else "H"
    W = float_array(W, f"{fn}(W)", 2, f"({rows_txt}, D)")
    if W.shape != (rows, d):
        raise ValueError(f"{fn}(W): expected shape ({rows}, {d}) = ({rows_txt}, D), got {W.shape}")
    U = float_array(U, f"{fn}(U)", 2, f"({rows_txt}, H)")
    if U.shape != (rows, hidden):
        raise ValueError(f"{fn}(U): expected shape ({rows}, {hidden}) = ({rows_txt}, H), got {U.shape}")
    if b is not None:
        b = float_array(b, f"{fn}(b)", 1, f"({rows_txt},)")
        if b.shape != (rows,):
            raise ValueError(f"{fn}(b): expected shape ({rows},) = ({rows_txt},), got {b.shape}")
    return x, h, W, U, b


def rnn_step(x: np.ndarray, h: np.ndarray, W: np.ndarray, U: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    """One step of a vanilla RNN: h_t = tanh(W x_t + U h_{t-1} + b).

    x: (N, D) inputs at time t; h: (N, H) previous hidden state; W: (H, D); U: (H, H); b: (H,) or None.
    Returns the new hidden state (N, H). Matches ``torch.nn.RNNCell(D, H)`` with
    W = weight_ih, U = weight_hh, b = bias_ih + bias_hh.
    """
    x, h, W, U, b = _check_step("rnn_step", x, h, W, U, b, gates=1)
    z = x @ W.T + h @ U.T
    if b is not None:
        z = z + b
    return np.tanh(z)


def lstm_cell(x: np.ndarray, h: np.ndarray, c: np.ndarray, W: np.ndarray, U: np.ndarray,
              b: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One step of an LSTM: returns the new hidden and cell states ``(h_t, c_t)``, each (N, H).

    x: (N, D); h, c: (N, H); W: (4H, D); U: (4H, H); b: (4H,) or None, gate blocks in PyTorch's order i, f, g, o::

        z = W x + U h + b;   i, f, g, o = split(z, 4)
        i, f, o = sigmoid(i), sigmoid(f), sigmoid(o);  g = tanh(g)
        c_t = f * c + i * g;   h_t = o * tanh(c_t)

    Matches ``torch.nn.LSTMCell(D, H)`` with W = weight_ih, U = weight_hh, b = bias_ih + bias_hh.
    """
    x, h, W, U, b = _check_step("lstm_cell", x, h, W, U, b, gates=4)
    c = float_array(c, "lstm_cell(c)", 2, "(N, H)")
    if c.shape != h.shape:
        raise ValueError(f"lstm_cell(c): expected the same shape as h {h.shape}, got {c.shape}")
    z = x @ W.T + h @ U.T
    if b is not None:
        z = z + b
    zi, zf, zg, zo = np.split(z, 4, axis=1)
    i, f, o = _sigmoid(zi), _sigmoid(zf), _sigmoid(zo)
    g = np.tanh(zg)
    c_new = f * c + i * g
    h_new = o * np.tanh(c_new)
    return h_new, c_new
