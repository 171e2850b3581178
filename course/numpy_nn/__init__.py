"""Reference NumPy ops, naive and fast side by side (Part I: chapters 01–03; conv3d and the LSTM cell: 07, 09)."""
from .conv2d import conv2d, conv2d_backward, conv2d_naive, im2col, output_size  # noqa: F401  (chapters 01-02)
from .pool2d import (avg_pool2d, avg_pool2d_backward, global_avg_pool2d, global_avg_pool2d_backward,  # noqa: F401
                     max_pool2d, max_pool2d_backward)  # (chapter 03)
from .gradcheck import numerical_gradient, relative_error  # noqa: F401  (chapter 02)
from .conv3d import conv3d, conv3d_naive, max_pool3d  # noqa: F401  (chapter 07)
from .rnn import LSTM_GATE_ORDER, lstm_cell, rnn_step  # noqa: F401  (chapter 09)
