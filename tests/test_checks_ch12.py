"""Exercise checks of chapter 12: right answers pass, typical mistakes fail, unfinished code is reported."""
from __future__ import annotations

import pytest
import torch

from course.checks import ch12_video_transformers as ch12


@pytest.fixture(autouse=True)
def _lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def _attention(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5, dim=-1) @ v


def _mha(x, w_in, b_in, w_out, b_out, heads):
    B, L, D = x.shape
    q, k, v = (x @ w_in.T + b_in).chunk(3, dim=-1)
    split = lambda t: t.reshape(B, L, heads, D // heads).transpose(1, 2)   # noqa: E731
    out = _attention(split(q), split(k), split(v)).transpose(1, 2).reshape(B, L, D)
    return out @ w_out.T + b_out


def _tubelets(clips, tubelet):
    t, h, w = tubelet
    N, C, T, H, W = clips.shape
    x = clips.reshape(N, C, T // t, t, H // h, h, W // w, w).permute(0, 2, 4, 6, 1, 3, 5, 7)
    return x.reshape(N, -1, C * t * h * w)


def _unfinished(*args):
    raise NotImplementedError


def test_attention_check():
    assert ch12.attention(_attention).passed
    assert not ch12.attention(lambda q, k, v: torch.softmax(q @ k.transpose(-2, -1), -1) @ v).passed  # no scale
    result = ch12.attention(_unfinished)
    assert not result.passed and result.not_implemented


def test_multi_head_attention_check():
    assert ch12.multi_head_attention(_mha).passed
    one_head = lambda x, wi, bi, wo, bo, heads: _mha(x, wi, bi, wo, bo, 1)   # noqa: E731 — ignores heads
    result = ch12.multi_head_attention(one_head)
    assert not result.passed and result.n_passed == 2          # only the one-head and single-token cases pass
    assert not ch12.multi_head_attention(_unfinished).passed


def test_tubelet_vectors_check():
    assert ch12.tubelet_vectors(_tubelets).passed
    def wrong_order(clips, tubelet):   # flattens each tubelet as (t, h, w, c): not the Conv3d weight order
        t, h, w = tubelet
        N, C, T, H, W = clips.shape
        x = clips.reshape(N, C, T // t, t, H // h, h, W // w, w).permute(0, 2, 4, 6, 3, 5, 7, 1)
        return x.reshape(N, -1, C * t * h * w)
    result = ch12.tubelet_vectors(wrong_order)
    assert not result.passed and not result.cases[-1].passed
    assert not ch12.tubelet_vectors(_unfinished).passed


def test_permutation_lesson_check():
    blind = {"tubelet": (1, 8, 8), "temporal_position": False, "attention": "joint", "pooling": "mean"}
    assert ch12.permutation_lesson(lambda: dict(blind), lambda: {**blind, "temporal_position": True}).passed
    # two-frame tubelets see order too: a valid fix
    assert ch12.permutation_lesson(lambda: dict(blind), lambda: {**blind, "tubelet": (2, 8, 8)}).passed
    # temporal embeddings left on: not order-blind
    result = ch12.permutation_lesson(lambda: {**blind, "temporal_position": True}, lambda: dict(blind))
    assert not result.passed and not result.cases[2].passed
    # a "fix" that changes nothing relevant
    result = ch12.permutation_lesson(lambda: dict(blind), lambda: {**blind, "spatial_position": False})
    assert not result.passed and not result.cases[-1].passed
    result = ch12.permutation_lesson(_unfinished, _unfinished)
    assert not result.passed and result.not_implemented
