"""Tests for course.models.c3d: the paper's C3D (parameter count, shape after every stage) and the small C3D."""
from __future__ import annotations

import pytest
import torch

from course.models import C3D, C3D_WIDTHS, c3d_small, count_parameters, layer_table

PAPER_SHAPES = {  # Tran et al. 2015, input 3 x 16 x 112 x 112
    "conv1": (64, 16, 112, 112), "pool1": (64, 16, 56, 56),
    "conv2": (128, 16, 56, 56), "pool2": (128, 8, 28, 28),
    "conv3a": (256, 8, 28, 28), "conv3b": (256, 8, 28, 28), "pool3": (256, 4, 14, 14),
    "conv4a": (512, 4, 14, 14), "conv4b": (512, 4, 14, 14), "pool4": (512, 2, 7, 7),
    "conv5a": (512, 2, 7, 7), "conv5b": (512, 2, 7, 7), "pool5": (512, 1, 4, 4),
    "fc6": (4096,), "fc7": (4096,), "fc8": (101,),
}


def _meta_c3d(**kwargs):
    with torch.device("meta"):  # no memory, no compute: shapes only
        return C3D(**kwargs)


def test_paper_c3d_has_78_409_573_parameters():
    assert count_parameters(_meta_c3d()) == 78_409_573


def test_paper_c3d_parameter_count_by_hand():
    convs = [3] + list(C3D_WIDTHS)
    conv_params = sum(cin * cout * 27 + cout for cin, cout in zip(convs[:-1], convs[1:]))
    fc_params = (8192 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 101 + 101)
    assert count_parameters(_meta_c3d()) == conv_params + fc_params


def test_paper_c3d_shape_after_every_stage():
    rows = layer_table(_meta_c3d(), (1, 3, 16, 112, 112))
    assert [r.name for r in rows] == list(PAPER_SHAPES)
    for row in rows:
        assert row.output_shape == PAPER_SHAPES[row.name], row.name
    assert _meta_c3d().feature_shape == (512, 1, 4, 4)


def test_paper_c3d_layers():
    m = _meta_c3d()
    convs = [mod for mod in m.features.modules() if isinstance(mod, torch.nn.Conv3d)]
    assert [c.out_channels for c in convs] == list(C3D_WIDTHS)
    assert all(c.kernel_size == (3, 3, 3) and c.padding == (1, 1, 1) for c in convs)
    assert m.features.pool1.kernel_size == (1, 2, 2)
    assert m.features.pool5.padding == (0, 1, 1)
    assert [mod.p for mod in m.classifier.modules() if isinstance(mod, torch.nn.Dropout)] == [0.5, 0.5]
    assert not any(isinstance(mod, torch.nn.BatchNorm3d) for mod in m.modules())


def test_num_classes_and_in_channels_change_only_what_they_should():
    base = count_parameters(_meta_c3d())
    assert count_parameters(_meta_c3d(num_classes=51)) == base - 50 * 4097
    assert count_parameters(_meta_c3d(in_channels=1)) == base - 2 * 27 * 64


def test_small_c3d_same_structure_and_runs_on_cpu():
    m = c3d_small(10)
    rows = layer_table(m, (1, 3, 16, 32, 32))
    assert [r.name for r in rows] == list(PAPER_SHAPES)
    assert rows[-1].output_shape == (10,)
    assert dict((r.name, r.output_shape) for r in rows)["pool5"] == m.feature_shape
    out = m(torch.rand(2, 3, 16, 32, 32))
    assert out.shape == (2, 10) and torch.isfinite(out).all()
    assert count_parameters(m) < count_parameters(_meta_c3d()) / 20
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())


def test_extract_features():
    m = c3d_small(10).eval()
    x = torch.rand(2, 3, 16, 32, 32)
    assert m.extract_features(x).shape == (2, 256) and m.extract_features(x, "fc7").shape == (2, 256)
    with pytest.raises(ValueError, match="layer"):
        m.extract_features(x, "fc8")


def test_bad_inputs_are_named():
    m = c3d_small(10)
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        m(torch.rand(1, 3, 16, 64, 64))
    with pytest.raises(ValueError, match="5 dims"):
        m(torch.rand(3, 16, 32, 32))
    with pytest.raises(ValueError, match="channels"):
        m(torch.rand(1, 1, 16, 32, 32))
    with pytest.raises(TypeError, match="floating"):
        m(torch.zeros(1, 3, 16, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="num_classes"):
        C3D(0)
    with pytest.raises(ValueError, match="dropout"):
        C3D(dropout=1.5)
    with pytest.raises(ValueError, match="widths"):
        C3D(widths=(8, 16))
    with pytest.raises(ValueError, match="input_size"):
        C3D(input_size=(8, 112, 112))
