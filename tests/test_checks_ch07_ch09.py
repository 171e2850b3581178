"""Exercise checks of chapters 07 and 09: right answers pass, typical mistakes fail, unfinished code is reported."""
from __future__ import annotations

import numpy as np
import pytest

from course.checks import ch07_3d_convolution as ch07
from course.checks import ch09_rnn_cnn_lstm as ch09
from course.numpy_nn import conv3d_naive, lstm_cell, rnn_step


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _out_shape(x_shape, w_shape, stride=1, padding=0):
    stride = (stride,) * 3 if isinstance(stride, int) else stride
    padding = (padding,) * 3 if isinstance(padding, int) else padding
    return (x_shape[0], w_shape[0]) + tuple((n + 2 * p - k) // s + 1
                                            for n, k, s, p in zip(x_shape[2:], w_shape[2:], stride, padding))


def _rf(layers):
    size, jump = np.ones(3, int), np.ones(3, int)
    for kernel, stride in layers:
        size += (np.array(kernel) - 1) * jump
        jump *= np.array(stride)
    return tuple(int(v) for v in size)


def _motion_kernel():
    return np.repeat(np.array([[0., -1., -1.], [0., 1., 0.], [0., 0., 0.]])[:, None, :], 3, axis=1)


def _gru(x, h, W, U, b_ih, b_hh):
    ir, iz, i_n = np.split(x @ W.T + b_ih, 3, axis=1)
    hr, hz, h_n = np.split(h @ U.T + b_hh, 3, axis=1)
    r, z = _sigmoid(ir + hr), _sigmoid(iz + hz)
    return (1 - z) * np.tanh(i_n + r * h_n) + z * h


def _weights(lstm):
    W, U = lstm.weight_ih_l0.detach().double().numpy(), lstm.weight_hh_l0.detach().double().numpy()
    b = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().double().numpy() if lstm.bias else np.zeros(W.shape[0])
    return W, U, b


def _pool(f, how):
    return {"mean": f.mean(1), "max": f.max(1), "last": f[:, -1]}[how]


def _lstm_wrong_order(x, h, c, W, U, b):   # i, f, o, g: a classic mistake
    zi, zf, zo, zg = np.split(x @ W.T + h @ U.T + b, 4, axis=1)
    c_new = _sigmoid(zf) * c + _sigmoid(zi) * np.tanh(zg)
    return _sigmoid(zo) * np.tanh(c_new), c_new


CASES = [
    (ch07.conv3d_output_shape, _out_shape,
     lambda x_shape, w_shape, stride=1, padding=0: _out_shape(x_shape, w_shape, stride, 0)),   # ignores padding
    (ch07.conv3d_loops, lambda x, w, b=None, stride=(1, 1, 1), padding=(0, 0, 0):
        conv3d_naive(x, w, b, stride=stride, padding=padding),
     lambda x, w, b=None, stride=(1, 1, 1), padding=(0, 0, 0):                                  # flips the kernel
        conv3d_naive(x, w[:, :, ::-1, ::-1, ::-1].copy(), b, stride=stride, padding=padding)),
    (ch07.rightward_motion_kernel, _motion_kernel, lambda: _motion_kernel()[:, :, ::-1]),      # detects leftward
    (ch07.receptive_field_size, _rf, lambda layers: tuple(1 + sum(k[a] - 1 for k, _ in layers) for a in range(3))),
    (ch07.conv_flops, lambda ci, co, k, o: 2 * ci * co * int(np.prod(k)) * int(np.prod(o)),
     lambda ci, co, k, o: ci * co * int(np.prod(k)) * int(np.prod(o))),                       # counts MACs
    (ch09.rnn_step, rnn_step, lambda x, h, W, U, b: np.tanh(x @ W.T + h @ U + b)),             # U not transposed
    (ch09.lstm_cell, lstm_cell, _lstm_wrong_order),
    (ch09.lstm_weights_from_torch, _weights,
     lambda lstm: (lstm.weight_ih_l0.detach().double().numpy(), lstm.weight_hh_l0.detach().double().numpy(),
                   lstm.bias_ih_l0.detach().double().numpy())),                                # forgets bias_hh
    (ch09.temporal_pool, _pool, lambda f, how: {"mean": f.mean(1), "max": np.maximum(f, 0).max(1),
                                                 "last": f[:, -1]}[how]),                       # max starts at 0
    (ch09.gru_cell, _gru, lambda x, h, W, U, b_ih, b_hh: _gru(x, h, W, U, b_ih + b_hh, np.zeros_like(b_hh))),
]
IDS = [check.__name__ for check, _, _ in CASES]


@pytest.mark.parametrize("check, right, wrong", CASES, ids=IDS)
def test_right_answer_passes_and_typical_mistake_fails(check, right, wrong, capsys):
    assert check(right).passed
    result = check(wrong)
    assert not result.passed and result.n_passed < len(result.cases)
    assert "❌" in capsys.readouterr().out


@pytest.mark.parametrize("check", [c for c, _, _ in CASES], ids=IDS)
def test_unfinished_exercise_is_reported_not_raised(check, capsys):
    def unfinished(*args, **kwargs):
        raise NotImplementedError

    result = check(unfinished)
    assert not result.passed and result.not_implemented
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("check", [c for c, _, _ in CASES], ids=IDS)
def test_strict_mode_raises_on_failure(check, monkeypatch):
    from course.checks import CheckFailed

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        check(lambda *args, **kwargs: None)
