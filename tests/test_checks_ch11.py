"""Exercise checks of chapter 11: right answers pass, typical mistakes fail, unfinished code is reported, no crash."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course.checks import ch11_attention_fusion as ch11


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def _unfinished(*args):
    raise NotImplementedError


class _Adapter(nn.Module):
    def __init__(self, channels, reduction, zero=("up",)):
        super().__init__()
        self.down = nn.Conv3d(channels, channels // reduction, 1)
        self.up = nn.Conv3d(channels // reduction, channels, 1)
        for name in zero:
            nn.init.zeros_(getattr(self, name).weight)
            nn.init.zeros_(getattr(self, name).bias)

    def forward(self, x):
        return x + self.up(F.relu(self.down(x)))


@pytest.mark.parametrize("check,right,wrong", [
    (ch11.frame_differences, lambda x: x[:, :, 1:] - x[:, :, :-1], lambda x: x[:, :, :-1] - x[:, :, 1:]),
    (ch11.attention_weights, lambda q, k: torch.softmax(q.flatten(2).transpose(1, 2) @ k.flatten(2), dim=-1),
     lambda q, k: torch.softmax(q.flatten(2).transpose(1, 2) @ k.flatten(2), dim=1)),
    (ch11.fuse_levels, lambda maps: torch.cat([m.mean(dim=(2, 3, 4)) for m in maps], dim=1),
     lambda maps: torch.cat([m.amax(dim=(2, 3, 4)) for m in maps], dim=1)),
    (ch11.trainable_share,
     lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad) / sum(p.numel() for p in m.parameters()),
     lambda m: sum(1 for p in m.parameters() if p.requires_grad) / len(list(m.parameters()))),
    (ch11.adapter_module, lambda c, r: _Adapter(c, r), lambda c, r: _Adapter(c, r, zero=("up", "down"))),
])
def test_right_passes_wrong_fails_unfinished_is_reported(check, right, wrong):
    assert check(right)
    result = check(wrong)
    assert not result and not all(c.passed for c in result.cases)
    unfinished = check(_unfinished)
    assert not unfinished and any(c.not_implemented for c in unfinished.cases)


def test_adapter_check_catches_a_module_that_is_not_the_identity():
    result = ch11.adapter_module(lambda c, r: _Adapter(c, r, zero=()))
    assert not result and [c.passed for c in result.cases][:2] == [True, False]


def test_checks_do_not_crash_on_garbage():
    assert not ch11.adapter_module(lambda c, r: "not a module")
    assert not ch11.fuse_levels(lambda maps: 1 / 0)
    assert not ch11.attention_weights(42)


def test_strict_mode_raises(monkeypatch):
    from course.checks.core import CheckFailed

    monkeypatch.setenv("COURSE_STRICT_CHECKS", "1")
    with pytest.raises(CheckFailed):
        ch11.frame_differences(lambda x: x)
