"""course.efficiency.quantize and size: eager int8 of the shipped small C3D keeps its accuracy and shrinks it ~4x."""
from __future__ import annotations

import pytest
import torch

from course.data import MovingShapes
from course.efficiency import count_params, quantizable_layers, quantize_eager, saved_bytes
from course.models import c3d_small, load_pretrained


@pytest.fixture(scope="module")
def data():
    model = load_pretrained("c3d_small_moving_shapes")
    test, train = MovingShapes("test", num_clips=48), MovingShapes("train", num_clips=32)
    x = torch.stack([test[i][0] for i in range(len(test))])
    y = torch.tensor([test[i][1] for i in range(len(test))])
    calibration = torch.stack([train[i][0] for i in range(len(train))])
    return model, x, y, calibration


def _accuracy(model, x, y):
    with torch.inference_mode():
        return float((model(x).argmax(1) == y).float().mean())


def test_int8_keeps_accuracy_and_is_about_four_times_smaller(data):
    model, x, y, calibration = data
    q = quantize_eager(model, calibration)
    assert "QuantizedConvReLU3d" in str(q)                              # a real int8 Conv3d, BN folded in
    fp32, int8 = _accuracy(model, x, y), _accuracy(q, x, y)
    assert fp32 > 0.9 and int8 >= fp32 - 2 / len(y)
    ratio = saved_bytes(model) / saved_bytes(q)
    assert 3.5 < ratio < 4.2
    assert saved_bytes(model, dtype=torch.float16) < 0.55 * saved_bytes(model)
    assert count_params(q) >= 0.98 * sum(p.numel() for p in model.parameters() if p.ndim > 1)
    assert model.features.conv1.conv.weight.dtype == torch.float32       # the original is untouched


def test_quantizing_one_layer_leaves_the_others_float(data):
    model, x, y, calibration = data
    names = quantizable_layers(model)
    assert names[:3] == ["conv1", "conv2", "conv3a"] and names[-1] == "fc8"
    q = quantize_eager(model, calibration[:8], layers=["conv3a"])
    text = str(q)
    assert text.count("QuantizedConvReLU3d") == 1 and "Conv3d(" in text
    with torch.inference_mode():
        assert q(x[:4]).shape == (4, 10)


def test_bad_arguments_are_rejected(data):
    model, _, _, calibration = data
    with pytest.raises(TypeError, match=r"quantize_eager\(model\)"):
        quantize_eager(torch.nn.Linear(2, 2), calibration)
    with pytest.raises(ValueError, match=r"quantize_eager\(calibration\)"):
        quantize_eager(model, calibration[0])
    with pytest.raises(ValueError, match=r"quantize_eager\(layers\)"):
        quantize_eager(model, calibration, layers=["conv9"])
    with pytest.raises(ValueError, match=r"quantize_eager\(backend\)"):
        quantize_eager(model, calibration, backend="no-such-engine")
    with pytest.raises(ValueError, match=r"saved_bytes\(dtype\)"):
        saved_bytes(c3d_small(), dtype=torch.int8)
    with pytest.raises(TypeError, match=r"count_params\(model\)"):
        count_params("model")
