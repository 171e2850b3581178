"""course.numpy_nn.rnn: rnn_step and lstm_cell against torch's RNNCell, LSTMCell and LSTM with copied weights."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from course.numpy_nn import LSTM_GATE_ORDER, lstm_cell, rnn_step


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy().copy()


def _sizes(seed: int):
    rng = np.random.default_rng(seed)
    return rng, int(rng.integers(1, 5)), int(rng.integers(1, 7)), int(rng.integers(1, 7))  # rng, N, D, H


@pytest.mark.parametrize("seed", range(15))
def test_rnn_step_matches_torch_rnncell(seed):
    rng, n, d, hidden = _sizes(seed)
    torch.manual_seed(seed)
    cell = nn.RNNCell(d, hidden, nonlinearity="tanh").double()
    x, h = rng.standard_normal((n, d)), rng.standard_normal((n, hidden))
    expected = _np(cell(torch.from_numpy(x), torch.from_numpy(h)))
    got = rnn_step(x, h, _np(cell.weight_ih), _np(cell.weight_hh), _np(cell.bias_ih + cell.bias_hh))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_rnn_step_without_bias_matches_torch():
    torch.manual_seed(0)
    cell = nn.RNNCell(3, 4, bias=False).double()
    x, h = np.random.default_rng(0).standard_normal((2, 3)), np.zeros((2, 4))
    expected = _np(cell(torch.from_numpy(x), torch.from_numpy(h)))
    np.testing.assert_allclose(rnn_step(x, h, _np(cell.weight_ih), _np(cell.weight_hh), None), expected, atol=1e-12)


@pytest.mark.parametrize("seed", range(15))
def test_lstm_cell_matches_torch_lstmcell(seed):
    rng, n, d, hidden = _sizes(seed)
    torch.manual_seed(seed)
    cell = nn.LSTMCell(d, hidden).double()
    x, h, c = rng.standard_normal((n, d)), rng.standard_normal((n, hidden)), rng.standard_normal((n, hidden))
    h_t, c_t = cell(torch.from_numpy(x), (torch.from_numpy(h), torch.from_numpy(c)))
    got_h, got_c = lstm_cell(x, h, c, _np(cell.weight_ih), _np(cell.weight_hh), _np(cell.bias_ih + cell.bias_hh))
    np.testing.assert_allclose(got_h, _np(h_t), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got_c, _np(c_t), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_lstm_cell_unrolled_matches_torch_lstm_over_a_sequence(seed):
    rng, n, d, hidden = _sizes(100 + seed)
    steps = int(rng.integers(2, 12))
    torch.manual_seed(seed)
    lstm = nn.LSTM(d, hidden, batch_first=True).double()
    x = rng.standard_normal((n, steps, d))
    outputs, (h_last, c_last) = lstm(torch.from_numpy(x))
    W, U = _np(lstm.weight_ih_l0), _np(lstm.weight_hh_l0)
    b = _np(lstm.bias_ih_l0 + lstm.bias_hh_l0)
    h, c = np.zeros((n, hidden)), np.zeros((n, hidden))
    for t in range(steps):
        h, c = lstm_cell(x[:, t], h, c, W, U, b)
        np.testing.assert_allclose(h, _np(outputs[:, t]), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(h, _np(h_last[0]), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(c, _np(c_last[0]), rtol=1e-11, atol=1e-12)


def test_lstm_gate_order_is_torchs():
    # Make only one gate block non-zero at a time and watch which part of the formula it drives.
    assert LSTM_GATE_ORDER == ("i", "f", "g", "o")
    hidden, big = 1, 50.0
    x, h, c = np.ones((1, 1)), np.zeros((1, hidden)), np.full((1, hidden), 0.5)
    U = np.zeros((4, 1))

    def run(block_values):
        return lstm_cell(x, h, c, np.array(block_values, dtype=float).reshape(4, 1), U, None)

    # forget gate open, everything else at 0 -> c_t = sigmoid(big) * c + sigmoid(0) * tanh(0) = c
    _, c_t = run([0.0, big, 0.0, 0.0])
    np.testing.assert_allclose(c_t, c)
    # forget gate shut (f = sigmoid(-big) ~ 0), input open, candidate g = tanh(big) ~ 1 -> c_t ~ 1
    _, c_t = run([big, -big, big, 0.0])
    np.testing.assert_allclose(c_t, 1.0, atol=1e-12)
    # output gate shut -> h_t ~ 0 whatever c_t is
    h_t, _ = run([big, big, big, -big])
    np.testing.assert_allclose(h_t, 0.0, atol=1e-12)


def test_lstm_cell_is_finite_for_huge_preactivations():
    W = np.array([[1e4], [-1e4], [1e4], [-1e4]])
    h, c = lstm_cell(np.ones((1, 1)), np.zeros((1, 1)), np.zeros((1, 1)), W, np.zeros((4, 1)), None)
    assert np.isfinite(h).all() and np.isfinite(c).all()


# ---------------------------------------------------------------------------------------------------------------------
# Bad input: the error names the argument.
# ---------------------------------------------------------------------------------------------------------------------

N, D, H = 2, 3, 4
GOOD = dict(x=np.zeros((N, D)), h=np.zeros((N, H)), c=np.zeros((N, H)),
            W=np.zeros((4 * H, D)), U=np.zeros((4 * H, H)), b=np.zeros(4 * H))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros(D)), ValueError, r"lstm_cell\(x\): expected 2 dims"),
    (dict(x=[[0.0] * D] * N), TypeError, r"lstm_cell\(x\): expected a NumPy array"),
    (dict(x=np.zeros((N, D), dtype=np.int64)), TypeError, r"lstm_cell\(x\): expected a floating-point"),
    (dict(h=np.zeros((N + 1, H))), ValueError, r"lstm_cell\(h\): expected batch size 2"),
    (dict(c=np.zeros((N, H + 1))), ValueError, r"lstm_cell\(c\): expected the same shape as h"),
    (dict(W=np.zeros((H, D))), ValueError, r"lstm_cell\(W\): expected shape \(16, 3\) = \(4\*H, D\)"),
    (dict(W=np.zeros((4 * H, D + 1))), ValueError, r"lstm_cell\(W\): expected shape"),
    (dict(U=np.zeros((4 * H, H + 1))), ValueError, r"lstm_cell\(U\): expected shape \(16, 4\)"),
    (dict(b=np.zeros(H)), ValueError, r"lstm_cell\(b\): expected shape \(16,\)"),
])
def test_lstm_cell_bad_input_names_the_argument(kwargs, error, match):
    a = GOOD | kwargs
    with pytest.raises(error, match=match):
        lstm_cell(a["x"], a["h"], a["c"], a["W"], a["U"], a["b"])


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros((N, D, 1))), ValueError, r"rnn_step\(x\): expected 2 dims"),
    (dict(h=np.zeros((N + 1, H))), ValueError, r"rnn_step\(h\): expected batch size"),
    (dict(W=np.zeros((4 * H, D))), ValueError, r"rnn_step\(W\): expected shape \(4, 3\) = \(H, D\)"),
    (dict(U=np.zeros((H, D))), ValueError, r"rnn_step\(U\): expected shape \(4, 4\)"),
    (dict(b=np.zeros(4 * H)), ValueError, r"rnn_step\(b\): expected shape \(4,\)"),
])
def test_rnn_step_bad_input_names_the_argument(kwargs, error, match):
    a = dict(x=np.zeros((N, D)), h=np.zeros((N, H)), W=np.zeros((H, D)), U=np.zeros((H, H)), b=np.zeros(H)) | kwargs
    with pytest.raises(error, match=match):
        rnn_step(a["x"], a["h"], a["W"], a["U"], a["b"])
