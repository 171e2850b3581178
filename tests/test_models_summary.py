"""Tests for course.models.summary: count_parameters, count_flops, layer_table."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course.models import count_flops, count_parameters, format_layer_table, layer_table


def test_count_parameters_trainable_only():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert count_parameters(m) == 3 * 4 + 4 + 4 * 2 + 2
    m[0].requires_grad_(False)
    assert count_parameters(m, trainable_only=True) == 4 * 2 + 2


def test_count_flops_conv3d_matches_formula():
    conv = nn.Conv3d(2, 4, 3, padding=1)
    flops = count_flops(conv, (1, 2, 5, 6, 7))
    assert flops == 2 * (4 * 5 * 6 * 7) * (2 * 27)   # multiply-add = 2 FLOPs per weight per output voxel


def test_count_flops_linear_and_mode_restored():
    m = nn.Sequential(nn.Linear(10, 20), nn.Dropout(0.5)).train()
    assert count_flops(m, (3, 10)) == 2 * 3 * 10 * 20
    assert m.training


def test_layer_table_named_children():
    m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten())
    rows = layer_table(m, (1, 1, 5, 5))
    assert [r.output_shape for r in rows] == [(3, 3, 3), (3, 3, 3), (27,)]
    assert rows[0].parameters == 3 * 9 + 3
    text = format_layer_table(rows, input_shape=(1, 1, 5, 5))
    assert "total" in text and "30" in text


def test_bad_arguments():
    with pytest.raises(TypeError, match="nn.Module"):
        count_parameters("model")
    with pytest.raises(ValueError, match="input_shape"):
        count_flops(nn.Linear(2, 2), (0, 2))
    with pytest.raises(ValueError, match="no submodule"):
        layer_table(nn.Linear(2, 2), (1, 2), stages=["fc9"])
