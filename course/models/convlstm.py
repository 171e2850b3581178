"""ConvLSTM by hand, and an encoder-forecaster that predicts future frames (chapter 17).

Shi, Chen, Wang, Yeung, Wong and Woo (2015), *Convolutional LSTM Network: A Machine Learning Approach for
Precipitation Nowcasting* (NeurIPS 2015, arXiv:1506.04214). A ConvLSTM is an LSTM whose input, hidden state and cell
state are images (C, H, W) and whose matrix products are convolutions, so the state keeps *where* things are.

Unlike the paper, the cell has no peephole terms (``W_ci * c``): it is exactly PyTorch's ``nn.LSTMCell`` with the
products replaced by one convolution, which is what lets the tests check it against ``nn.LSTMCell``.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import torch
from torch import nn

from .blocks import check_input, check_positive_int, conv_stage

__all__ = ["ConvLSTMCell", "ConvLSTM", "ConvLSTMForecaster", "copy_lstm_cell_weights"]

State = tuple[torch.Tensor, torch.Tensor]


def _check_kernel(kernel_size, name: str) -> int:
    if (not isinstance(kernel_size, numbers.Integral) or isinstance(kernel_size, bool) or kernel_size < 1
            or kernel_size % 2 == 0):
        raise ValueError(f"{name}: expected an odd positive int (so that 'same' padding keeps H and W), "
                         f"got {kernel_size!r}")
    return int(kernel_size)


class ConvLSTMCell(nn.Module):
    """One ConvLSTM step: x (N, C_in, H, W) and state (h, c), each (N, C_hidden, H, W) -> the new (h, c).

    All four gates come from ONE convolution ``self.conv`` over ``torch.cat([x, h], dim=1)``, with ``4 * C_hidden``
    output channels in PyTorch's LSTM order: input gate i, forget gate f, cell candidate g, output gate o::

        i, f, g, o = conv([x, h]).chunk(4, dim=1)
        c' = sigmoid(f) * c + sigmoid(i) * tanh(g)
        h' = sigmoid(o) * tanh(c')

    ``kernel_size`` must be odd ("same" padding ``kernel_size // 2`` keeps H and W). ``state=None`` starts from zeros.
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int = 3):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "ConvLSTMCell(in_channels)")
        self.hidden_channels = check_positive_int(hidden_channels, "ConvLSTMCell(hidden_channels)")
        self.kernel_size = _check_kernel(kernel_size, "ConvLSTMCell(kernel_size)")
        self.conv = nn.Conv2d(self.in_channels + self.hidden_channels, 4 * self.hidden_channels, self.kernel_size,
                              padding=self.kernel_size // 2)

    def zero_state(self, x: torch.Tensor) -> State:
        """Zeros (h, c), each (N, C_hidden, H, W), for an input x (N, C_in, H, W)."""
        n, _, h, w = x.shape
        zeros = x.new_zeros(n, self.hidden_channels, h, w)
        return zeros, zeros.clone()

    def forward(self, x: torch.Tensor, state: State | None = None) -> State:
        check_input(x, 4, "(N, C_in, H, W)", "ConvLSTMCell", self.in_channels)
        if state is None:
            state = self.zero_state(x)
        if not isinstance(state, (tuple, list)) or len(state) != 2:
            raise TypeError("ConvLSTMCell.forward(state): expected None or a pair (h, c) of tensors "
                            "(N, C_hidden, H, W)")
        h, c = state
        expected = (x.shape[0], self.hidden_channels, x.shape[2], x.shape[3])
        for name, s in (("h", h), ("c", c)):
            if not isinstance(s, torch.Tensor) or tuple(s.shape) != expected:
                got = tuple(s.shape) if isinstance(s, torch.Tensor) else type(s).__name__
                raise ValueError(f"ConvLSTMCell.forward(state): expected {name} of shape {expected} "
                                 f"(N, C_hidden, H, W), got {got}")
        i, f, g, o = self.conv(torch.cat([x, h], dim=1)).chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, c


def copy_lstm_cell_weights(lstm_cell: nn.LSTMCell, conv_cell: ConvLSTMCell) -> ConvLSTMCell:
    """Copy an ``nn.LSTMCell``'s weights into a ``ConvLSTMCell`` with ``kernel_size=1`` (in place; returned).

    ``weight_ih`` (4H, D) becomes the first D input channels of the 1x1 kernel, ``weight_hh`` (4H, H) the last H,
    and the convolution's single bias is ``bias_ih + bias_hh``. Then, on 1x1 frames, both compute the same thing.
    """
    if not isinstance(lstm_cell, nn.LSTMCell):
        raise TypeError(f"copy_lstm_cell_weights(lstm_cell): expected an nn.LSTMCell, got {type(lstm_cell).__name__}")
    if not isinstance(conv_cell, ConvLSTMCell):
        raise TypeError(f"copy_lstm_cell_weights(conv_cell): expected a ConvLSTMCell, got {type(conv_cell).__name__}")
    if (conv_cell.kernel_size, conv_cell.in_channels, conv_cell.hidden_channels) != (
            1, lstm_cell.input_size, lstm_cell.hidden_size):
        raise ValueError(f"copy_lstm_cell_weights: expected a ConvLSTMCell({lstm_cell.input_size}, "
                         f"{lstm_cell.hidden_size}, kernel_size=1), got ConvLSTMCell({conv_cell.in_channels}, "
                         f"{conv_cell.hidden_channels}, kernel_size={conv_cell.kernel_size})")
    with torch.no_grad():
        weight = torch.cat([lstm_cell.weight_ih, lstm_cell.weight_hh], dim=1)
        conv_cell.conv.weight.copy_(weight[:, :, None, None])
        bias = torch.zeros_like(conv_cell.conv.bias)
        for b in (lstm_cell.bias_ih, lstm_cell.bias_hh):
            if b is not None:
                bias += b
        conv_cell.conv.bias.copy_(bias)
    return conv_cell


def _hidden_tuple(hidden_channels, name: str) -> tuple[int, ...]:
    if isinstance(hidden_channels, numbers.Integral) and not isinstance(hidden_channels, bool):
        hidden_channels = (hidden_channels,)
    if (not isinstance(hidden_channels, (tuple, list)) or not hidden_channels
            or not all(isinstance(h, numbers.Integral) and not isinstance(h, bool) and h > 0
                       for h in hidden_channels)):
        raise ValueError(f"{name}: expected a positive int or a non-empty sequence of them (one per layer), "
                         f"got {hidden_channels!r}")
    return tuple(int(h) for h in hidden_channels)


class ConvLSTM(nn.Module):
    """Stacked ConvLSTM cells run over a sequence: x (N, T, C_in, H, W) -> (outputs, states).

    ``hidden_channels``: an int (one layer) or one int per layer. ``outputs`` is the last layer's h at every step,
    (N, T, C_hidden_last, H, W); ``states`` is the list of each layer's last (h, c). ``state`` (optional): a list of
    one (h, c) per layer to start from (an encoder's last states, for a forecaster).
    """

    def __init__(self, in_channels: int, hidden_channels: int | Sequence[int], kernel_size: int = 3):
        super().__init__()
        self.in_channels = check_positive_int(in_channels, "ConvLSTM(in_channels)")
        self.hidden_channels = _hidden_tuple(hidden_channels, "ConvLSTM(hidden_channels)")
        kernel_size = _check_kernel(kernel_size, "ConvLSTM(kernel_size)")
        widths = (self.in_channels,) + self.hidden_channels
        self.cells = nn.ModuleList(ConvLSTMCell(widths[k], widths[k + 1], kernel_size)
                                   for k in range(len(self.hidden_channels)))

    def step(self, x: torch.Tensor, states: list[State | None]) -> tuple[torch.Tensor, list[State]]:
        """One time step through every layer: x (N, C_in, H, W) -> (top h, the new states)."""
        new = []
        for cell, state in zip(self.cells, states):
            h, c = cell(x, state)
            new.append((h, c))
            x = h
        return x, new

    def forward(self, x: torch.Tensor, state: list[State] | None = None) -> tuple[torch.Tensor, list[State]]:
        check_input(x, 5, "(N, T, C_in, H, W)", "ConvLSTM")
        if x.shape[2] != self.in_channels:
            raise ValueError(f"ConvLSTM.forward(x): expected {self.in_channels} channels in dim 2 (N, T, C_in, H, W), "
                             f"got shape {tuple(x.shape)}")
        states: list = [None] * len(self.cells) if state is None else list(state)
        if len(states) != len(self.cells):
            raise ValueError(f"ConvLSTM.forward(state): expected one (h, c) per layer ({len(self.cells)}), "
                             f"got {len(states)}")
        outputs = []
        for t in range(x.shape[1]):
            top, states = self.step(x[:, t], states)
            outputs.append(top)
        return torch.stack(outputs, dim=1), states


class ConvLSTMForecaster(nn.Module):
    """Encoder-forecaster (Shi et al. 2015): read ``T_in`` frames, then predict the next ``horizon`` frames.

    Clips use the course's layout (N, C, T, H, W). ``forward(past, horizon=10, future=None)``: past (N, C, T_in, H, W)
    -> logits (N, C, horizon, H, W); ``torch.sigmoid`` of them is the predicted frames in [0, 1] (logits so that the
    binary cross-entropy loss can use ``binary_cross_entropy_with_logits``).

    Each frame is first encoded by a stride-2 conv stage (H/2, W/2: 4x fewer positions for the recurrent part), an
    encoder ConvLSTM reads the past, and a forecaster ConvLSTM started from the encoder's last states produces one
    frame per step, decoded back to full size. The forecaster's input at step k is the previous frame: with
    ``future`` given (teacher forcing), the TRUE previous frame; without it, its OWN previous prediction (as at test
    time). H and W must be even.
    """

    def __init__(self, channels: int = 1, hidden_channels: int | Sequence[int] = (32, 32), *, kernel_size: int = 3,
                 embed_channels: int = 16):
        super().__init__()
        self.channels = check_positive_int(channels, "ConvLSTMForecaster(channels)")
        embed = check_positive_int(embed_channels, "ConvLSTMForecaster(embed_channels)")
        hidden = _hidden_tuple(hidden_channels, "ConvLSTMForecaster(hidden_channels)")
        self.embed = conv_stage(2, self.channels, embed, kernel_size=3, stride=2, padding=1, batch_norm=False)
        self.encoder = ConvLSTM(embed, hidden, kernel_size)
        self.forecaster = ConvLSTM(embed, hidden, kernel_size)
        self.decode = nn.Sequential(nn.ConvTranspose2d(hidden[-1], embed, 4, stride=2, padding=1),
                                    nn.ReLU(inplace=True), nn.Conv2d(embed, self.channels, 3, padding=1))

    def forward(self, past: torch.Tensor, horizon: int = 10, future: torch.Tensor | None = None) -> torch.Tensor:
        check_input(past, 5, "(N, C, T_in, H, W)", "ConvLSTMForecaster", self.channels)
        horizon = check_positive_int(horizon, "ConvLSTMForecaster.forward(horizon)")
        n, c, t_in, h, w = past.shape
        if h % 2 or w % 2:
            raise ValueError(f"ConvLSTMForecaster.forward(past): expected even H and W, got shape {tuple(past.shape)}")
        if future is not None:
            check_input(future, 5, "(N, C, T_out, H, W)", "ConvLSTMForecaster (future)", self.channels)
            if future.shape[0] != n or future.shape[2] < horizon - 1 or future.shape[3:] != past.shape[3:]:
                raise ValueError(f"ConvLSTMForecaster.forward(future): expected (N={n}, C, >= {horizon - 1}, {h}, {w}) "
                                 f"true future frames for teacher forcing, got shape {tuple(future.shape)}")

        frames = past.transpose(1, 2).reshape(n * t_in, c, h, w)
        embedded = self.embed(frames)                                   # (N*T_in, E, H/2, W/2)
        embedded = embedded.reshape(n, t_in, *embedded.shape[1:])
        _, states = self.encoder(embedded)
        previous = past[:, :, -1]
        outputs = []
        for k in range(horizon):
            top, states = self.forecaster.step(self.embed(previous), states)
            logits = self.decode(top)
            outputs.append(logits)
            previous = future[:, :, k] if future is not None else torch.sigmoid(logits)
        return torch.stack(outputs, dim=2)
