"""Tests for course.models.convlstm: the ConvLSTM cell against nn.LSTMCell, the stacked ConvLSTM, the forecaster."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course.models import ConvLSTM, ConvLSTMCell, ConvLSTMForecaster, copy_lstm_cell_weights


def _lstm_pair(d=3, h=5, seed=0):
    torch.manual_seed(seed)
    lstm = nn.LSTMCell(d, h)
    cell = copy_lstm_cell_weights(lstm, ConvLSTMCell(d, h, kernel_size=1))
    return lstm, cell


def _run_both(lstm, cell, steps=4, n=6, seed=1):
    g = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, n, lstm.input_size, generator=g)
    h0 = torch.randn(n, lstm.hidden_size, generator=g)
    c0 = torch.randn(n, lstm.hidden_size, generator=g)
    state_l, state_c = (h0, c0), (h0[:, :, None, None], c0[:, :, None, None])
    for x in xs:
        state_l = lstm(x, state_l)
        state_c = cell(x[:, :, None, None], state_c)
    return state_l, tuple(s[:, :, 0, 0] for s in state_c)


def test_kernel_1_on_1x1_frames_equals_lstm_cell():
    lstm, cell = _lstm_pair()
    (h_l, c_l), (h_c, c_c) = _run_both(lstm, cell)
    torch.testing.assert_close(h_c, h_l, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(c_c, c_l, rtol=1e-5, atol=1e-6)


class _WrongOrderCell(ConvLSTMCell):
    """The same cell with the gates read in the order (i, g, f, o): the equivalence must catch it."""

    def forward(self, x, state=None):
        h, c = self.zero_state(x) if state is None else state
        i, g, f, o = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c


def test_the_equivalence_detects_a_wrong_gate_order():
    torch.manual_seed(0)
    lstm = nn.LSTMCell(3, 5)
    wrong = copy_lstm_cell_weights(lstm, _WrongOrderCell(3, 5, kernel_size=1))
    (h_l, _), (h_w, _) = _run_both(lstm, wrong)
    assert not torch.allclose(h_w, h_l, atol=1e-3)


def test_cell_has_one_conv_over_x_and_h():
    cell = ConvLSTMCell(2, 7, kernel_size=3)
    convs = [m for m in cell.modules() if isinstance(m, nn.Conv2d)]
    assert convs == [cell.conv]
    assert cell.conv.in_channels == 9 and cell.conv.out_channels == 28 and cell.conv.padding == (1, 1)


def test_cell_shapes_state_and_locality():
    torch.manual_seed(0)
    cell = ConvLSTMCell(2, 4, kernel_size=3)
    x = torch.randn(3, 2, 9, 11)
    h, c = cell(x)
    assert h.shape == c.shape == (3, 4, 9, 11)
    h2, _ = cell(x, (h, c))
    assert not torch.allclose(h2, h)
    # a 3x3 kernel: one step from a zero state sees only the 3x3 neighbourhood of each position
    x2 = x.clone()
    x2[:, :, 0, 0] += 5.0
    h3, _ = cell(x2)
    assert torch.allclose(h3[:, :, 3:, 3:], h[:, :, 3:, 3:])
    assert not torch.allclose(h3[:, :, :2, :2], h[:, :, :2, :2])


@pytest.mark.parametrize("args, match", [
    ((0, 4, 3), "in_channels"), ((2, 0, 3), "hidden_channels"), ((2, 4, 2), "odd"), ((2, 4, 3.0), "kernel_size"),
])
def test_cell_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        ConvLSTMCell(*args)


def test_cell_bad_inputs():
    cell = ConvLSTMCell(2, 4)
    with pytest.raises(TypeError, match="torch.Tensor"):
        cell([[1.0]])
    with pytest.raises(ValueError, match="4 dims"):
        cell(torch.zeros(1, 2, 5))
    with pytest.raises(ValueError, match="2 channels"):
        cell(torch.zeros(1, 3, 5, 5))
    with pytest.raises(TypeError, match="floating-point"):
        cell(torch.zeros(1, 2, 5, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"h of shape \(1, 4, 5, 5\)"):
        cell(torch.zeros(1, 2, 5, 5), (torch.zeros(1, 4, 4, 4), torch.zeros(1, 4, 5, 5)))
    with pytest.raises(TypeError, match="pair"):
        cell(torch.zeros(1, 2, 5, 5), torch.zeros(1, 4, 5, 5))


def test_copy_weights_bad_inputs():
    with pytest.raises(TypeError, match="nn.LSTMCell"):
        copy_lstm_cell_weights(nn.LSTM(3, 5), ConvLSTMCell(3, 5, 1))
    with pytest.raises(ValueError, match="kernel_size=1"):
        copy_lstm_cell_weights(nn.LSTMCell(3, 5), ConvLSTMCell(3, 5, 3))


def test_convlstm_stack_shapes_and_states():
    torch.manual_seed(0)
    net = ConvLSTM(1, (4, 6), kernel_size=3)
    x = torch.randn(2, 5, 1, 8, 8)
    out, states = net(x)
    assert out.shape == (2, 5, 6, 8, 8)
    assert [s[0].shape[1] for s in states] == [4, 6]
    torch.testing.assert_close(out[:, -1], states[-1][0])
    # resuming from the states equals running the whole sequence
    out_a, states_a = net(x[:, :3])
    out_b, _ = net(x[:, 3:], states_a)
    torch.testing.assert_close(torch.cat([out_a, out_b], dim=1), out, rtol=1e-5, atol=1e-6)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_convlstm_bad_inputs():
    net = ConvLSTM(1, 4)
    with pytest.raises(ValueError, match="5 dims"):
        net(torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="1 channels in dim 2"):
        net(torch.zeros(2, 5, 3, 8, 8))
    with pytest.raises(ValueError, match="one .h, c. per layer"):
        net(torch.zeros(2, 5, 1, 8, 8), [None, None])
    with pytest.raises(ValueError, match="hidden_channels"):
        ConvLSTM(1, ())


def test_forecaster_shapes_teacher_forcing_and_causality():
    torch.manual_seed(0)
    model = ConvLSTMForecaster(1, (8,), embed_channels=4).eval()
    past, future = torch.rand(2, 1, 6, 16, 16), torch.rand(2, 1, 4, 16, 16)
    with torch.no_grad():
        free = model(past, 4)
        forced = model(past, 4, future=future)
        assert free.shape == forced.shape == (2, 1, 4, 16, 16)
        torch.testing.assert_close(free[:, :, 0], forced[:, :, 0])        # step 1 sees only the past either way
        assert not torch.allclose(free[:, :, 1:], forced[:, :, 1:])
        changed = future.clone()
        changed[:, :, 2:] = 0.0                                            # frames after step 2 cannot matter
        torch.testing.assert_close(model(past, 4, future=changed)[:, :, :3], forced[:, :, :3])


def test_forecaster_bad_inputs():
    model = ConvLSTMForecaster(1, 4)
    with pytest.raises(ValueError, match="even H and W"):
        model(torch.zeros(1, 1, 3, 15, 16))
    with pytest.raises(ValueError, match="1 channels"):
        model(torch.zeros(1, 3, 3, 16, 16))
    with pytest.raises(ValueError, match="horizon"):
        model(torch.zeros(1, 1, 3, 16, 16), 0)
    with pytest.raises(ValueError, match="teacher forcing"):
        model(torch.zeros(1, 1, 3, 16, 16), 4, future=torch.zeros(1, 1, 2, 16, 16))
