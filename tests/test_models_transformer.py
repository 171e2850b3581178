"""Tests for course.models.transformer: tubelets, attention (by hand = PyTorch's), the three layouts, the
permutation property, attention-weight retrieval, the cost measures and benchmark, and bad input."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course.models import MultiHeadSelfAttention, TubeletEmbedding, VideoTransformer, scaled_dot_product_attention
from course.models.transformer import attention_cost, attention_products

ROOT = Path(__file__).resolve().parent.parent
SMALL = {"input_size": (4, 16, 16), "tubelet": (1, 8, 8), "dim": 16, "depth": 2, "heads": 2}


def small(**kwargs):
    torch.manual_seed(0)
    return VideoTransformer(5, **{**SMALL, **kwargs}).eval()


# --------------------------------------------------------------------------------------------------- attention by hand

def test_scaled_dot_product_attention_matches_pytorch():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 3, 7, 8), torch.randn(2, 3, 5, 8), torch.randn(2, 3, 5, 4)
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v), rtol=1e-5, atol=1e-6)
    assert weights.shape == (2, 3, 7, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 7))


def test_multi_head_attention_matches_nn_multiheadattention_with_copied_weights():
    torch.manual_seed(0)
    dim, heads = 12, 3
    ours = MultiHeadSelfAttention(dim, heads)
    theirs = nn.MultiheadAttention(dim, heads, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(ours.qkv.weight)
        theirs.in_proj_bias.copy_(ours.qkv.bias)
        theirs.out_proj.weight.copy_(ours.proj.weight)
        theirs.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(4, 9, dim)
    expected, expected_weights = theirs(x, x, x, average_attn_weights=False)
    for fused in (True, False):
        ours.fused = fused
        torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-6)
    ours.keep_weights = True
    ours(x)
    torch.testing.assert_close(ours.last_weights, expected_weights, rtol=1e-5, atol=1e-6)


def test_fused_and_by_hand_attention_give_the_same_logits():
    model, x = small(attention="divided"), torch.rand(3, 3, 4, 16, 16)
    fused = model(x)
    model.fused_attention = False
    assert not model.fused_attention
    torch.testing.assert_close(model(x), fused, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------------ tubelets, shapes

def test_tubelet_embedding_is_a_linear_map_of_each_flattened_tubelet():
    torch.manual_seed(0)
    embed = TubeletEmbedding(3, 10, tubelet=(2, 4, 4))
    x = torch.rand(2, 3, 4, 8, 12)
    tokens = embed(x)
    assert tokens.shape == (2, 2, 2 * 3, 10) and embed.grid((4, 8, 12)) == (2, 2, 3)
    # token (t=1, row 0, col 2) = W . flatten(x[:, :, 2:4, 0:4, 8:12]) + b
    patch = x[:, :, 2:4, 0:4, 8:12].reshape(2, -1)
    expected = patch @ embed.proj.weight.reshape(10, -1).T + embed.proj.bias
    torch.testing.assert_close(tokens[:, 1, 2], expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("attention", ["joint", "divided", "space_only"])
@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_every_layout_and_pooling_gives_logits_and_trains(attention, pooling):
    model = small(attention=attention, pooling=pooling).train()
    x = torch.rand(2, 3, 4, 16, 16)
    logits = model(x)
    assert logits.shape == (2, 5)
    F.cross_entropy(logits, torch.tensor([0, 3])).backward()
    assert model.embed.proj.weight.grad.abs().sum() > 0
    assert model.num_tokens == 4 * 2 * 2 and model.grid == (4, 2, 2)


def test_input_normalisation_and_conv_stem():
    x = torch.rand(2, 3, 4, 16, 16)
    plain = small(input_mean=None, input_std=None)
    centred = small()
    torch.testing.assert_close(centred.tokens(x), plain.tokens((x - 0.45) / 0.225))
    assert "input_mean" not in centred.state_dict()                     # fixed statistics, not weights
    stem = small(stem_channels=8)
    assert stem(x).shape == (2, 5) and isinstance(stem.embed.stem[0], nn.Conv3d)


def test_divided_has_one_more_attention_per_block():
    joint = sum(p.numel() for p in small(attention="joint").parameters())
    divided = sum(p.numel() for p in small(attention="divided").parameters())
    dim = SMALL["dim"]
    assert divided - joint == SMALL["depth"] * (4 * dim * dim + 4 * dim + 2 * dim)   # qkv + proj + LayerNorm


# -------------------------------------------------------------------------------------------- the permutation lesson

def _reverse(x):
    return x.flip(2)   # dim 2 is time


def test_joint_attention_without_temporal_position_cannot_see_time_order():
    model = small(attention="joint", pooling="mean", temporal_position=False)
    x = torch.rand(3, 3, 4, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(_reverse(x)), model(x), rtol=1e-5, atol=1e-5)
        shuffled = x[:, :, torch.tensor([2, 0, 3, 1])]
        torch.testing.assert_close(model(shuffled), model(x), rtol=1e-5, atol=1e-5)


def _relative_change_when_reversed(model, x):
    with torch.no_grad():
        logits = model(x)
        return ((model(_reverse(x)) - logits).abs().max() / logits.abs().max()).item()


@pytest.mark.parametrize("change", [{"temporal_position": True}, {"tubelet": (2, 8, 8)}, {"pooling": "cls"}])
def test_temporal_position_or_two_frame_tubelets_break_the_symmetry(change):
    kwargs = {"attention": "joint", "pooling": "mean", "temporal_position": False, **change}
    model = small(**kwargs)
    with torch.no_grad():
        model.head.weight.normal_()                 # larger than the init's 0.02, so differences are far above rounding
        if model.time_position is not None:
            model.time_position.normal_()
    x = torch.rand(3, 3, 4, 16, 16)
    change_when_reversed = _relative_change_when_reversed(model, x)
    if change == {"pooling": "cls"}:       # a class token alone does not help: attention is still order-blind
        assert change_when_reversed < 1e-5
    else:
        assert change_when_reversed > 1e-4            # order-blind models stay below 1e-6


# ------------------------------------------------------------------------------------------------- attention retrieval

def test_attention_weights_have_documented_shapes_and_sum_to_one():
    x = torch.rand(2, 3, 4, 16, 16)
    joint = small(attention="joint").attention_weights(x)
    assert len(joint) == 2 and joint[0]["joint"].shape == (2, 2, 17, 17)
    divided = small(attention="divided").attention_weights(x, layers=1)
    assert len(divided) == 1
    assert divided[0]["time"].shape == (2, 4, 2, 4, 4) and divided[0]["space"].shape == (2, 4, 2, 5, 5)
    space = small(attention="space_only", pooling="mean").attention_weights(x, layers=[-1])
    assert space[0]["space"].shape == (2, 4, 2, 4, 4) and "time" not in space[0]
    for w in (joint[1]["joint"], divided[0]["time"], divided[0]["space"], space[0]["space"]):
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


def test_attention_weights_are_those_of_the_forward_pass_and_leave_the_model_unchanged():
    model = small(attention="joint", pooling="mean")
    x = torch.rand(1, 3, 4, 16, 16)
    before = model(x)
    weights = model.attention_weights(x, layers=0)[0]["joint"]
    block = model.blocks[0]
    assert block.attn.fused and not block.attn.keep_weights and block.attn.last_weights is None
    torch.testing.assert_close(model(x), before)
    # recompute layer 0's weights by hand from its input tokens
    tokens = block.norm_attn(model.tokens(x).reshape(1, 16, -1))
    q, k, _ = block.attn.qkv(tokens).reshape(1, 16, 3, 2, 8).permute(2, 0, 3, 1, 4)
    torch.testing.assert_close(weights, torch.softmax(q @ k.transpose(-1, -2) / 8 ** 0.5, -1), rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------------------------- costs

def test_divided_over_joint_flop_ratio_falls_as_clips_get_longer():
    ratios = [attention_cost(t, size=32, attention="divided")["flops"] / attention_cost(t, size=32)["flops"]
              for t in (4, 8, 16)]
    assert all(b < a for a, b in zip(ratios, ratios[1:])), ratios
    assert ratios[-1] < 0.8 * ratios[0]


@pytest.mark.parametrize("attention", ["joint", "divided", "space_only"])
def test_measured_attention_flops_follow_the_formula(attention):
    dim, depth = 32, 2
    for frames in (2, 6):
        cost = attention_cost(frames, size=32, dim=dim, depth=depth, heads=4, attention=attention)
        pairs = attention_products(frames, 16, attention)   # 32 / 8 = 4 x 4 tokens per frame
        assert cost["attention_flops"] == 2 * 2 * dim * depth * pairs          # q.k and w*v, 2 FLOPs per MAC
        assert cost["tokens"] == frames * 16


def test_attention_cost_benchmark_smoke(tmp_path, capsys, benchmark_script):
    script = benchmark_script("attention_cost")
    assert script.main(["--frames", "2", "4", "--size", "16", "--no-models", "--no-memory"]) == 0
    out = capsys.readouterr().out
    assert "falls as T grows: yes" in out and "divided GFLOPs" in out
    peak = script.cpu_peak_bytes("joint", 2, 16)          # one fresh process: its peak RSS growth in bytes
    assert peak is None or peak >= 0


# --------------------------------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("kwargs, match", [
    ({"attention": "axial"}, "attention="),
    ({"pooling": "max"}, "pooling="),
    ({"heads": 3}, "heads=3"),
    ({"input_size": (4, 12, 16)}, "input_size"),
    ({"tubelet": (0, 8, 8)}, "tubelet"),
    ({"dim": -4}, "dim"),
    ({"depth": 0}, "depth"),
    ({"dropout": 1.5}, "dropout"),
    ({"input_std": (0.2, 0.0, 0.2)}, "input_std"),
    ({"input_mean": (0.5,)}, "input_mean"),
    ({"stem_channels": -1}, "stem_channels"),
])
def test_bad_constructor_arguments_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VideoTransformer(5, **{**SMALL, **kwargs})


def test_bad_inputs_are_clear_errors():
    model = small()
    with pytest.raises(TypeError, match="temporal_position"):
        VideoTransformer(5, **SMALL, temporal_position="yes")
    with pytest.raises(ValueError, match=r"5 dims \(N, C, T, H, W\)"):
        model(torch.rand(3, 4, 16, 16))
    with pytest.raises(ValueError, match="input_size"):
        model(torch.rand(1, 3, 8, 16, 16))
    with pytest.raises(ValueError, match="channels"):
        model(torch.rand(1, 1, 4, 16, 16))
    with pytest.raises(TypeError, match="tensor"):
        model([[1.0]])
    with pytest.raises(ValueError, match="layers"):
        model.attention_weights(torch.rand(1, 3, 4, 16, 16), layers=[5])
    with pytest.raises(ValueError, match="multiple of the tubelet"):
        TubeletEmbedding(3, 8, tubelet=(2, 4, 4))(torch.rand(1, 3, 3, 8, 8))
    with pytest.raises(ValueError, match="in_channels"):
        TubeletEmbedding(0, 8)
    with pytest.raises(ValueError, match="share d"):
        scaled_dot_product_attention(torch.rand(2, 3), torch.rand(2, 4), torch.rand(2, 4))
    with pytest.raises(ValueError, match="attention="):
        attention_products(4, 4, "axial")
    with pytest.raises(TypeError, match="fused_attention"):
        model.fused_attention = 1
