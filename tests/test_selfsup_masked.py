"""Masked tube autoencoding (course.selfsup.masked): masks, patches and targets, the encoder's visible-only input,
the masked loss, the copy baseline, the compute measurement and deterministic pretraining."""
import math

import pytest
import torch

from course.models import TubeletEmbedding
from course.selfsup.masked import (MaskedAutoencoder, MaskedVideoEncoder, copy_nearest_visible, encoder_cost,
                                   make_mask, masked_loss, normalise_patches, num_masked, patchify, pretrain_mae,
                                   reconstruction_report, train_masked_autoencoder, unpatchify)

GRID = (8, 4, 4)          # 16 x 32 x 32 clips in (2, 8, 8) tubelets
TUBELET = (2, 8, 8)


def _clips(n=4, seed=0):
    return torch.rand(n, 3, 16, 32, 32, generator=torch.Generator().manual_seed(seed))


def _small_encoder(**kwargs):
    torch.manual_seed(0)
    return MaskedVideoEncoder(dim=16, depth=1, heads=2, **kwargs)


# --------------------------------------------------------------------------------------------------------------------
# masks
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("ratio", [0.5, 0.75, 0.9])
def test_tube_mask_is_the_same_in_every_token_frame_and_differs_between_clips(ratio):
    mask = make_mask(6, GRID, ratio, masking="tube", generator=torch.Generator().manual_seed(1))
    frames = mask.view(6, GRID[0], -1)
    assert (frames == frames[:, :1]).all()
    assert len({tuple(m.tolist()) for m in frames[:, 0]}) > 1, "every clip drew the same positions"


def test_random_mask_is_not_a_tube():
    mask = make_mask(4, GRID, 0.75, masking="random", generator=torch.Generator().manual_seed(0)).view(4, 8, 16)
    assert not (mask == mask[:, :1]).all()


@pytest.mark.parametrize("ratio, masking, hidden", [
    (0.75, "tube", 8 * 12),            # 12 of 16 positions in each of 8 token frames
    (0.9, "tube", 8 * 14),             # round(14.4) = 14 positions
    (0.75, "random", 96),              # round(0.75 * 128)
    (0.9, "random", 115),              # round(115.2)
])
def test_exact_number_of_visible_tokens(ratio, masking, hidden):
    assert num_masked(GRID, ratio, masking) == hidden
    mask = make_mask(5, GRID, ratio, masking=masking, generator=torch.Generator().manual_seed(3))
    assert mask.shape == (5, 128) and mask.dtype == torch.bool
    assert ((~mask).sum(dim=1) == 128 - hidden).all()


def test_masks_are_reproducible_from_a_generator():
    a = make_mask(3, GRID, 0.9, generator=torch.Generator().manual_seed(7))
    b = make_mask(3, GRID, 0.9, generator=torch.Generator().manual_seed(7))
    c = make_mask(3, GRID, 0.9, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kwargs, match", [
    (dict(batch=2, grid=GRID, ratio=0.0), "ratio"),
    (dict(batch=2, grid=GRID, ratio=1.0), "ratio"),
    (dict(batch=2, grid=GRID, ratio=0.99), "visible"),          # round(15.84) = 16 of 16 positions hidden
    (dict(batch=2, grid=GRID, ratio=0.9, masking="tubes"), "masking"),
    (dict(batch=0, grid=GRID, ratio=0.9), "batch"),
    (dict(batch=2, grid=(8, 4), ratio=0.9), "grid"),
    (dict(batch=2, grid=GRID, ratio=0.9, generator=3), "generator"),
])
def test_make_mask_rejects_bad_input(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make_mask(**kwargs)


# --------------------------------------------------------------------------------------------------------------------
# patches and normalised targets
# --------------------------------------------------------------------------------------------------------------------

def test_patchify_round_trip_and_token_order_match_the_tubelet_embedding():
    x = _clips(2)
    patches = patchify(x, TUBELET)
    assert patches.shape == (2, 128, 2 * 8 * 8 * 3)
    assert torch.equal(unpatchify(patches, TUBELET, (16, 32, 32)), x)
    # an embedding whose output channel o copies voxel o of the tubelet (order t, h, w, C) gives the patches back
    embed = TubeletEmbedding(3, 384, TUBELET)
    with torch.no_grad():
        embed.proj.bias.zero_()
        weight = torch.zeros(384, 3, 2, 8, 8)
        for o in range(384):
            t, rest = divmod(o, 8 * 8 * 3)
            h, rest = divmod(rest, 8 * 3)
            w, c = divmod(rest, 3)
            weight[o, c, t, h, w] = 1.0
        embed.proj.weight.copy_(weight)
        torch.testing.assert_close(embed(x).flatten(1, 2), patches)


def test_normalised_targets_have_zero_mean_and_unit_std_per_patch_and_channel():
    patches = patchify(_clips(2) * 0.3 + 0.2, TUBELET)
    normalised, mean, std = normalise_patches(patches)
    per = normalised.reshape(2, 128, -1, 3)
    torch.testing.assert_close(per.mean(dim=2), torch.zeros(2, 128, 3), atol=1e-5, rtol=0)
    torch.testing.assert_close(per.std(dim=2, unbiased=False), torch.ones(2, 128, 3), atol=1e-3, rtol=0)
    torch.testing.assert_close((per * std + mean).reshape(patches.shape), patches)
    flat, _, _ = normalise_patches(torch.full((1, 2, 12), 0.7))
    assert torch.equal(flat, torch.zeros(1, 2, 12))


def test_model_targets_are_the_normalised_patches_of_the_input():
    x = _clips(2)
    model = MaskedAutoencoder(_small_encoder(), mask_ratio=0.75, decoder_dim=16, heads=2)
    out = model(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out["target"], normalise_patches(patchify(x, TUBELET))[0])


def test_pixel_targets_are_the_patches_normalised_like_the_input():
    x = _clips(2)
    model = MaskedAutoencoder(_small_encoder(), mask_ratio=0.75, decoder_dim=16, heads=2, target="pixels")
    out = model(x, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(out["target"], (patchify(x, TUBELET) - 0.45) / 0.225)
    with pytest.raises(ValueError, match="target"):
        MaskedAutoencoder(_small_encoder(), target="pixel")
    with pytest.raises(ValueError, match="target_eps"):
        MaskedAutoencoder(_small_encoder(), target_eps=0)


@pytest.mark.parametrize("target", ["patch", "pixels"])
def test_reconstruct_keeps_visible_tubelets_and_paints_hidden_ones(target):
    model = MaskedAutoencoder(_small_encoder(), mask_ratio=0.75, decoder_dim=16, heads=2, target=target)
    x = _clips(2)
    mask = make_mask(2, GRID, 0.75, generator=torch.Generator().manual_seed(0))
    painted = patchify(model.reconstruct(x, mask), TUBELET)
    original = patchify(x, TUBELET)
    torch.testing.assert_close(painted[~mask], original[~mask])
    assert not torch.allclose(painted[mask], original[mask])


# --------------------------------------------------------------------------------------------------------------------
# the encoder sees only visible tokens; the loss counts hidden tokens only
# --------------------------------------------------------------------------------------------------------------------

def test_encoder_blocks_receive_only_the_visible_tokens():
    encoder = _small_encoder()
    seen = []
    encoder.blocks[0].register_forward_pre_hook(lambda module, args: seen.append(tuple(args[0].shape)))
    mask = make_mask(3, GRID, 0.9, generator=torch.Generator().manual_seed(0))
    features = encoder.encode(_clips(3), mask)
    assert seen == [(3, 1, 128 - 112, 16)]
    assert features.shape == (3, 16, 16)


def test_visible_tokens_equal_the_full_embedding_at_the_visible_places():
    encoder = _small_encoder()
    x = _clips(2)
    mask = make_mask(2, GRID, 0.9, masking="random", generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = torch.stack([encoder.tokens(x)[i][~mask[i]] for i in range(2)])
        torch.testing.assert_close(encoder.visible_tokens(x, mask), expected)


def test_hidden_pixels_do_not_change_the_encoding_and_visible_pixels_do():
    encoder = _small_encoder().eval()
    x = _clips(2)
    mask = make_mask(2, GRID, 0.75, generator=torch.Generator().manual_seed(0))
    pixel_mask = unpatchify(mask[..., None].expand(-1, -1, 384).float(), TUBELET, (16, 32, 32)).bool()
    with torch.no_grad():
        before = encoder.encode(x, mask)
        hidden_changed = encoder.encode(torch.where(pixel_mask, torch.rand_like(x), x), mask)
        visible_changed = encoder.encode(torch.where(pixel_mask, x, torch.rand_like(x)), mask)
    torch.testing.assert_close(hidden_changed, before)
    assert not torch.allclose(visible_changed, before)


def test_position_embeddings_share_the_spatial_half_across_frames_and_the_time_half_across_positions():
    from course.selfsup.masked import sinusoid_positions

    table = sinusoid_positions(GRID, 16)[0].reshape(8, 16, 16)          # (t, s, channels)
    assert (table[:, :, 8:] == table[:1, :, 8:]).all()                   # spatial half: the same in every frame
    assert (table[:, :, :8] == table[:, :1, :8]).all()                   # time half: the same at every position
    assert len({tuple(row.tolist()) for row in table.reshape(128, 16)}) == 128   # every token distinct
    with pytest.raises(ValueError, match="dim"):
        sinusoid_positions(GRID, 10)


def test_encoder_interface_maps_clips_to_embeddings():
    encoder = _small_encoder()
    assert encoder.embed_dim == 16
    assert encoder(_clips(3)).shape == (3, 16)


def test_masked_loss_counts_hidden_tokens_only():
    target = torch.zeros(2, 4, 3)
    prediction = torch.zeros(2, 4, 3)
    mask = torch.tensor([[True, False, False, True], [False, False, True, False]])
    prediction[0, 0] = 1.0          # hidden: squared error 1 per value
    prediction[1, 2] = 2.0          # hidden: squared error 4 per value
    prediction[0, 1] = 100.0        # visible: must not count
    assert masked_loss(prediction, target, mask).item() == pytest.approx((1 + 0 + 4) / 3)


def test_model_loss_ignores_the_decoder_output_at_visible_tokens():
    model = MaskedAutoencoder(_small_encoder(), mask_ratio=0.75, decoder_dim=16, heads=2)
    x = _clips(2)
    mask = make_mask(2, GRID, 0.75, generator=torch.Generator().manual_seed(0))
    out = model(x, mask)
    spoiled = torch.where(mask[..., None], out["prediction"], torch.full_like(out["prediction"], 50.0))
    assert masked_loss(spoiled, out["target"], mask).item() == pytest.approx(out["loss"].item())
    # and gradients reach the decoder only through the hidden tokens' predictions
    grad = torch.autograd.grad(out["loss"], out["prediction"])[0]
    assert (grad[~mask] == 0).all() and (grad[mask] != 0).any()


def test_masked_loss_and_encode_reject_bad_input():
    p = torch.zeros(1, 4, 3)
    with pytest.raises(ValueError, match="mask"):
        masked_loss(p, p, torch.zeros(1, 4))                       # not bool
    with pytest.raises(ValueError, match="no token is hidden"):
        masked_loss(p, p, torch.zeros(1, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="same shape"):
        masked_loss(p, torch.zeros(1, 4, 2), torch.ones(1, 4, dtype=torch.bool))
    encoder = _small_encoder()
    uneven = torch.zeros(2, 128, dtype=torch.bool)
    uneven[0, :10] = True
    with pytest.raises(ValueError, match="same number"):
        encoder.encode(_clips(2), uneven)
    with pytest.raises(ValueError, match=r"\(N, 3, \*\(16, 32, 32\)\)"):
        encoder(torch.rand(1, 3, 8, 32, 32))
    with pytest.raises(TypeError, match="clips"):
        encoder(torch.rand(3, 16, 32, 32).numpy())
    with pytest.raises(ValueError, match="tubelet"):
        patchify(torch.rand(1, 3, 15, 32, 32), TUBELET)
    with pytest.raises(ValueError, match="input_size"):
        MaskedVideoEncoder(input_size=(16, 30, 32))


# --------------------------------------------------------------------------------------------------------------------
# the copy baseline, the cost, pretraining
# --------------------------------------------------------------------------------------------------------------------

def test_copy_baseline_copies_the_nearest_visible_frame_and_cannot_under_tube_masking():
    grid = (4, 1, 2)
    target = torch.arange(8 * 2, dtype=torch.float32).reshape(1, 8, 2)     # token l has values (2l, 2l + 1)
    mask = torch.tensor([[False, True, True, True, True, True, True, False]])  # (t, s) -> l = 2 t + s
    got = copy_nearest_visible(target, mask, grid)
    # position 0 is visible at t=0 only; position 1 at t=3 only
    for t in (1, 2, 3):
        assert torch.equal(got[0, 2 * t], target[0, 0])
    for t in (0, 1, 2):
        assert torch.equal(got[0, 2 * t + 1], target[0, 7])
    tube = make_mask(3, GRID, 0.75, masking="tube", generator=torch.Generator().manual_seed(0))
    target = torch.randn(3, 128, 5)
    assert (copy_nearest_visible(target, tube, GRID)[tube] == 0).all()


def test_copy_baseline_breaks_ties_towards_the_earlier_frame():
    target = torch.tensor([[[1.0], [2.0], [3.0]]])                        # grid (3, 1, 1)
    got = copy_nearest_visible(target, torch.tensor([[False, True, False]]), (3, 1, 1))
    assert got[0, 1, 0] == 1.0


def test_reconstruction_report_copy_beats_mean_pixel_on_static_clips_under_random_masking_only():
    static = torch.rand(4, 3, 1, 32, 32, generator=torch.Generator().manual_seed(0)).expand(4, 3, 16, 32, 32)
    model = MaskedAutoencoder(_small_encoder(), mask_ratio=0.75, decoder_dim=16, heads=2)
    random = reconstruction_report(model, static.contiguous(), mask_ratio=0.75, masking="random")
    tube = reconstruction_report(model, static.contiguous(), mask_ratio=0.75, masking="tube")
    # a static clip: every hidden token whose position shows in some frame is copied exactly; only positions hidden
    # in all 8 token frames (about 0.75 ** 8 = 10% of them) cost anything
    assert random["copy"] < 0.3 * random["mean_pixel"]
    assert tube["copy"] == pytest.approx(tube["mean_pixel"])
    assert tube["visible_tokens"] == 32


def test_copy_baseline_falls_back_on_the_given_prediction_and_the_pixel_mean_baseline_is_the_visible_mean():
    target = torch.randn(2, 128, 6)
    tube = make_mask(2, GRID, 0.75, generator=torch.Generator().manual_seed(0))
    fallback = torch.full((2, 1, 6), 3.0)
    assert (copy_nearest_visible(target, tube, GRID, fallback=fallback)[tube] == 3.0).all()
    # a clip whose visible pixels are all 0.2 and hidden ones 0.8: the mean baseline predicts 0.2 -> error 0.6 ** 2
    model = MaskedAutoencoder(_small_encoder(), mask_ratio=0.75, decoder_dim=16, heads=2, target="pixels")
    report_mask = make_mask(1, GRID, 0.75, generator=torch.Generator().manual_seed(0))   # what the report draws
    pixel_mask = unpatchify(report_mask[..., None].expand(-1, -1, 384).float(), TUBELET, (16, 32, 32)).bool()
    clip = torch.where(pixel_mask, 0.8, 0.2).expand(1, 3, 16, 32, 32).contiguous()
    report = reconstruction_report(model, clip, mask_ratio=0.75, masking="tube", seed=0)
    assert report["mean_pixel"] == pytest.approx((0.6 / 0.225) ** 2, rel=1e-5)
    assert report["copy"] == pytest.approx(report["mean_pixel"])


def test_encoder_cost_counts_fewer_flops_on_visible_tokens():
    cost = encoder_cost(_small_encoder(), mask_ratio=0.9, masking="tube", batch=2, repeats=1)
    assert cost["tokens"] == 128 and cost["visible_tokens"] == 16
    assert cost["flops_full"] > 7.5 * cost["flops_visible"] > 0      # 8x fewer tokens: linear parts 8x, attention 64x
    assert cost["flop_ratio"] == pytest.approx(cost["flops_full"] / cost["flops_visible"])
    with pytest.raises(TypeError, match="encoder"):
        encoder_cost(torch.nn.Linear(2, 2), mask_ratio=0.9)


def test_pretraining_is_deterministic_given_a_seed_and_lowers_the_loss():
    clips = _clips(8, seed=1)
    kwargs = dict(mask_ratio=0.75, epochs=6, batch_size=4, dim=16, depth=1, heads=2, decoder_dim=16, progress=False,
                  lr=3e-3)
    state = torch.get_rng_state()
    a, history = train_masked_autoencoder(clips, seed=0, **kwargs)
    assert torch.equal(torch.get_rng_state(), state), "pretraining changed the global random state"
    b = pretrain_mae(clips, seed=0, **kwargs)
    c = pretrain_mae(clips, seed=1, **kwargs)
    assert isinstance(b, MaskedVideoEncoder)
    for (name, pa), pb in zip(a.encoder.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.encoder.embed.proj.weight, c.embed.proj.weight)
    assert len(history.losses) == 6 and history.losses[-1] < history.losses[0]
    assert all(math.isfinite(v) for v in history.losses)


def test_pretraining_takes_a_dataset_of_clip_label_pairs_and_rejects_other_input():
    pairs = [(c, 0) for c in _clips(4)]
    encoder = pretrain_mae(pairs, mask_ratio=0.75, epochs=1, batch_size=4, dim=16, depth=1, heads=2,
                           decoder_dim=16, progress=False)
    assert encoder(_clips(1)).shape == (1, 16)
    with pytest.raises(TypeError, match="data"):
        pretrain_mae(42, mask_ratio=0.9, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        pretrain_mae(_clips(2), mask_ratio=0.9, epochs=0)
    with pytest.raises(ValueError, match="ratio"):
        pretrain_mae(_clips(2), mask_ratio=1.5, epochs=1)
