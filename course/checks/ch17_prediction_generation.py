"""Checks for chapter 17 (prediction and generation).

References: :class:`course.models.ConvLSTMCell` (the cell by hand, checked against ``torch.nn.LSTMCell`` where the two
coincide), :mod:`course.train.prediction` (the copy-last-frame baseline, per-horizon-step MSE, PSNR), and the GAN
losses of :mod:`course.models` / the chapter's GAN code (added below by the GAN part of the chapter).
"""
from __future__ import annotations
