"""course.explain: saliency, temporal occlusion and 3D Grad-CAM on a hand-built model with a known answer."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course.explain import frame_importance, grad_cam_3d, input_saliency, squeeze_motion, temporal_occlusion


class RedInTopLeft(nn.Module):
    """Class 0 score = red in the top-left quarter; class 1 score = green anywhere. Inputs (N, 3, T, 16, 16)."""

    def __init__(self):
        super().__init__()
        conv = nn.Conv3d(3, 2, 1, bias=False)
        with torch.no_grad():
            conv.weight.zero_()
            conv.weight[0, 0] = 1.0     # channel 0 sees red
            conv.weight[1, 1] = 1.0     # channel 1 sees green
        self.features = nn.Sequential(conv, nn.ReLU())

    def forward(self, x):
        a = self.features(x)
        red_top_left = a[:, 0, :, :8, :8].sum(dim=(1, 2, 3))
        green = a[:, 1].sum(dim=(1, 2, 3))
        return torch.stack([red_top_left, green], dim=1)


def _clip():
    """8 frames of 16 x 16: a red square in the top-left quarter in frame 5 only, a faint green square bottom-right always."""
    clip = torch.zeros(3, 8, 16, 16)
    clip[0, 5, 2:5, 2:5] = 1.0
    clip[1, :, 11:14, 11:14] = 0.05
    return clip


def test_grad_cam_highlights_the_region_and_frame_the_class_depends_on():
    model = RedInTopLeft()
    cam = grad_cam_3d(model, _clip(), "features", target=0)
    assert cam.shape == (8, 16, 16)
    assert cam.max() == pytest.approx(1.0)
    peak = torch.nonzero(cam == cam.max())[0].tolist()
    assert peak[0] == 5 and 2 <= peak[1] < 5 and 2 <= peak[2] < 5
    assert cam[:, 8:, 8:].max() < 0.05            # the green square does not count for class 0
    profile = frame_importance(cam)
    assert int(profile.argmax()) == 5


def test_grad_cam_for_the_other_class_and_by_module():
    model = RedInTopLeft()
    cam = grad_cam_3d(model, _clip(), model.features, target=1)
    assert cam[:, 11:14, 11:14].min() > 0.5 and cam[:, :8, :8].max() < 0.05


def test_saliency_is_exactly_where_the_evidence_is():
    model = RedInTopLeft()
    sal = input_saliency(model, _clip(), target=0)
    expected = torch.zeros(8, 16, 16)
    expected[5, 2:5, 2:5] = 1.0                   # d(sum of red)/d(red) = 1 where the ReLU is open
    assert torch.equal(sal, expected)
    assert frame_importance(sal).tolist() == pytest.approx([0, 0, 0, 0, 0, 1, 0, 0])


@pytest.mark.parametrize("fill", ["mean", "zero", "previous"])
def test_occlusion_only_the_frame_with_the_evidence_matters(fill):
    model = RedInTopLeft()
    drops = temporal_occlusion(model, _clip(), target=0, fill=fill)
    assert drops.shape == (8,)
    assert int(drops.argmax()) == 5 and drops[5] > 0.5
    others = torch.cat([drops[:5], drops[6:]])
    assert others.abs().max() < 0.05 if fill != "mean" else others.max() < drops[5] / 4


def test_default_target_is_the_prediction_and_mode_restored():
    model = RedInTopLeft().train()
    assert torch.equal(input_saliency(model, _clip()), input_saliency(model, _clip(), target=0))
    assert model.training


def test_frame_importance_known_values():
    m = torch.zeros(4, 2, 2)
    m[1] = 1.0
    m[3, 0, 0] = 4.0
    assert frame_importance(m).tolist() == pytest.approx([0, 0.5, 0, 0.5])
    assert frame_importance(torch.zeros(3, 2, 2)).tolist() == [0, 0, 0]


def test_bad_input():
    model = RedInTopLeft()
    with pytest.raises(ValueError, match="clip"):
        input_saliency(model, torch.zeros(1, 3, 8, 16, 16))
    with pytest.raises(TypeError, match="clip"):
        grad_cam_3d(model, torch.zeros(3, 8, 16, 16, dtype=torch.long), "features")
    with pytest.raises(TypeError, match="model"):
        temporal_occlusion(lambda x: x, _clip())
    with pytest.raises(ValueError, match="target"):
        input_saliency(model, _clip(), target=-1)
    with pytest.raises(ValueError, match="only 2 classes"):
        temporal_occlusion(model, _clip(), target=5)
    with pytest.raises(ValueError, match="fill"):
        temporal_occlusion(model, _clip(), fill="blur")
    with pytest.raises(ValueError, match="no such submodule"):
        grad_cam_3d(model, _clip(), "conv9")
    with pytest.raises(ValueError, match="not part of the model"):
        grad_cam_3d(model, _clip(), nn.ReLU())
    with pytest.raises(TypeError, match="layer"):
        grad_cam_3d(model, _clip(), 3)
    with pytest.raises(ValueError, match="C', T', H', W'"):
        grad_cam_3d(nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 16 * 16, 2)), _clip(), "0")
    with pytest.raises(ValueError, match="non-negative"):
        frame_importance(-torch.ones(2, 2, 2))
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        frame_importance(torch.ones(2, 2))


def test_occlusion_against_a_class_uses_the_logit_margin():
    model = RedInTopLeft()
    drops = temporal_occlusion(model, _clip(), target=0, against=1, fill="zero")
    assert drops[5] == pytest.approx(9.0 - 0.45)   # hiding frame 5: -9 red in logit 0, -9 * 0.05 green in logit 1
    assert torch.allclose(drops[:5], torch.full((5,), -0.45))   # elsewhere only the green goes: margin up
    with pytest.raises(ValueError, match="against"):
        temporal_occlusion(model, _clip(), target=0, against=-2)


def test_squeeze_motion_known_indices():
    clip = torch.arange(8.0).view(1, 8, 1, 1)
    out = squeeze_motion(clip, 4, 8)
    assert out.flatten().tolist() == [0, 0, 0, 0, 0, 2, 5, 7]
    assert torch.equal(squeeze_motion(clip, 0, 8), clip)
    with pytest.raises(ValueError, match="start"):
        squeeze_motion(clip, 6, 7)
    with pytest.raises(ValueError, match="clip"):
        squeeze_motion(torch.zeros(8), 0, 4)
