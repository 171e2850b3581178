"""The multimodal miniature (course.selfsup.multimodal): captions from content, held-out combinations, the CLIP
loss on a hand-computed case, recall@k."""
import math

import numpy as np
import pytest
import torch

from course.selfsup.multimodal import (COLOURS, HELD_OUT, VOCABULARY, Content, all_contents, captioned_clips,
                                       chance_recall_at_k, contrastive_loss, is_held_out, recall_at_k, render_clip,
                                       text_to_video_recall, tokenize, train_video_text)


def _shape_pixels(clip, colour):
    """(T, H, W) bool: pixels within 0.05 of ``colour`` in every channel."""
    rgb = torch.tensor(COLOURS[colour])[:, None, None, None]
    return ((clip - rgb).abs() < 0.05).all(dim=0)


# --------------------------------------------------------------------------------------------------------------------
# captions and content
# --------------------------------------------------------------------------------------------------------------------

def test_caption_says_the_content():
    assert Content("red", "square", "left").caption == "a red square moves left"
    assert len(all_contents()) == 64 and len(set(all_contents())) == 64
    with pytest.raises(ValueError, match="colour"):
        Content("purple", "square", "left")


@pytest.mark.parametrize("direction, axis, sign", [("left", 1, -1), ("right", 1, 1), ("up", 0, -1), ("down", 0, 1)])
@pytest.mark.parametrize("colour", list(COLOURS))
def test_rendered_clip_shows_the_captioned_colour_moving_the_captioned_way(colour, direction, axis, sign):
    clip = render_clip(Content(colour, "square", direction), index=3, clutter=0, noise=0.0)
    assert clip.shape == (3, 8, 32, 32)
    pixels = _shape_pixels(clip, colour)
    assert pixels[0].sum() > 20 and pixels[-1].sum() > 20, "the named colour is not on screen"
    centre = [torch.nonzero(pixels[t]).float().mean(dim=0)[axis] for t in (0, -1)]   # (row, column)
    assert sign * (centre[1] - centre[0]) > 3, f"{direction}: centre moved {centre[1] - centre[0]:.1f} px"
    for other in COLOURS:
        if other != colour:
            assert _shape_pixels(clip, other).sum() == 0


def test_rendered_shape_follows_the_content():
    a = render_clip(Content("red", "square", "left"), index=0, clutter=0, noise=0.0)
    b = render_clip(Content("red", "triangle", "left"), index=0, clutter=0, noise=0.0)
    # same draw, same colour, size and path: the triangle (inradius 0.5 r) covers about half the square (side 1.6 r)
    assert _shape_pixels(b, "red").sum() < 0.7 * _shape_pixels(a, "red").sum()


def test_held_out_combinations_never_appear_in_training_but_their_words_do():
    clips, contents = captioned_clips(150, split="train")
    assert clips.shape == (150, 3, 8, 32, 32)
    assert not any(is_held_out(c) for c in contents)
    assert not any(c.colour == "blue" and c.direction == "up" for c in contents)
    assert not any(c.colour == "yellow" and c.shape == "triangle" for c in contents)
    held = [c for c in all_contents() if is_held_out(c)]
    assert len(held) == 4 + 4                                             # blue * up, yellow triangle *
    train_words = {w for c in contents for w in c.caption.split()}
    assert {w for c in held for w in c.caption.split()} <= train_words
    _, test_contents = captioned_clips(128, split="test")
    assert sum(is_held_out(c) for c in test_contents) == 2 * 8             # every combination twice
    with pytest.raises(ValueError, match="include_held_out"):
        captioned_clips(4, split="train", include_held_out=True)


def test_clips_are_deterministic_and_splits_differ():
    a, _ = captioned_clips(3, split="train", seed=0)
    b, _ = captioned_clips(3, split="train", seed=0)
    c, _ = captioned_clips(3, split="test", seed=0)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_tokenize_maps_words_to_ids_and_rejects_unknown_words():
    ids = tokenize(["a red square moves left", "a blue plus moves up"])
    assert ids.shape == (2, 5) and ids.dtype == torch.long
    assert [VOCABULARY[i] for i in ids[1]] == "a blue plus moves up".split()
    with pytest.raises(ValueError, match="purple"):
        tokenize(["a purple square moves left"])
    with pytest.raises(ValueError, match="same number"):
        tokenize(["a red square moves left", "a red square"])
    with pytest.raises(TypeError, match="list"):
        tokenize("a red square moves left")


# --------------------------------------------------------------------------------------------------------------------
# the contrastive loss
# --------------------------------------------------------------------------------------------------------------------

def test_contrastive_loss_equals_the_hand_computed_value():
    video = torch.tensor([[1.0, 0.0], [0.0, 3.0]])                     # normalised: e1, e2
    text = torch.tensor([[2.0, 0.0], [1.0, 1.0]])                      # normalised: e1, (e1 + e2) / sqrt 2
    r = 1 / math.sqrt(2)
    # logits = 2 * [[1, r], [0, r]]
    rows = (-math.log(math.exp(2) / (math.exp(2) + math.exp(2 * r)))
            - math.log(math.exp(2 * r) / (1 + math.exp(2 * r)))) / 2
    cols = (-math.log(math.exp(2) / (math.exp(2) + 1)) - math.log(0.5)) / 2
    got = contrastive_loss(video, text, torch.tensor(math.log(2.0)))
    assert got.item() == pytest.approx((rows + cols) / 2, rel=1e-6)


def test_contrastive_loss_is_symmetric_caps_the_scale_and_rewards_matching_pairs():
    g = torch.Generator().manual_seed(0)
    v, t = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    assert contrastive_loss(v, t, 1.0).item() == pytest.approx(contrastive_loss(t, v, 1.0).item())
    assert contrastive_loss(v, t, 10.0).item() == pytest.approx(contrastive_loss(v, t, math.log(100)).item())
    assert contrastive_loss(v, v, 3.0) < contrastive_loss(v, v.roll(1, dims=0), 3.0)
    with pytest.raises(ValueError, match="same shape"):
        contrastive_loss(v, t[:3], 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        contrastive_loss(v[:1], t[:1], 1.0)


# --------------------------------------------------------------------------------------------------------------------
# recall@k
# --------------------------------------------------------------------------------------------------------------------

def test_recall_at_k_on_a_hand_made_case():
    similarity = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.1]])
    relevant = torch.tensor([[False, False, True], [True, False, False]])
    assert recall_at_k(similarity, relevant, 1) == 0.0
    assert recall_at_k(similarity, relevant, 2) == 1.0
    assert recall_at_k(similarity, torch.tensor([[True, False, False], [True, False, False]]), 1) == 0.5
    assert chance_recall_at_k(torch.tensor([[True, False, False, False]]), 1) == pytest.approx(0.25)
    assert chance_recall_at_k(torch.tensor([[True, False, False, False]]), 2) == pytest.approx(0.5)
    assert chance_recall_at_k(torch.tensor([[True, True, False, False]]), 1) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="at least one relevant"):
        recall_at_k(similarity, torch.zeros(2, 3, dtype=torch.bool), 1)
    with pytest.raises(ValueError, match="k"):
        recall_at_k(similarity, relevant, 4)
    with pytest.raises(ValueError, match="bool"):
        recall_at_k(similarity, relevant.float(), 1)


def test_training_is_deterministic_lowers_the_loss_and_retrieval_reports_seen_and_unseen_queries():
    clips, contents = captioned_clips(60, split="train", num_frames=8, size=16)
    state = torch.get_rng_state()
    a, history = train_video_text(clips, contents, epochs=5, batch_size=20, progress=False)
    assert torch.equal(torch.get_rng_state(), state)
    b, _ = train_video_text(clips, contents, epochs=5, batch_size=20, progress=False)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)
    assert history.losses[-1] < history.losses[0]
    assert len(history.temperatures) == 5 and history.temperatures[-1] != pytest.approx(0.07, abs=1e-6)
    test_clips, test_contents = captioned_clips(64, split="test", num_frames=8, size=16)
    report = text_to_video_recall(a, test_clips, test_contents)
    assert report["all"]["queries"] == 64 and report["unseen"]["queries"] == 8 and report["seen"]["queries"] == 56
    assert report["all"]["chance@1"] == pytest.approx(1 / 64)
    assert 0.0 <= report["unseen"]["recall@5"] <= 1.0
    with pytest.raises(ValueError, match="contents"):
        train_video_text(clips, contents[:-1], epochs=1)
    with pytest.raises(TypeError, match="model"):
        text_to_video_recall(torch.nn.Linear(2, 2), test_clips, test_contents)


def test_bad_content_arguments_are_rejected():
    with pytest.raises(TypeError, match="Content"):
        render_clip(("red", "square", "left"))
    with pytest.raises(ValueError, match="held_out"):
        is_held_out(Content("red", "square", "left"), held_out=({"size": "big"},))
    with pytest.raises(ValueError, match="num_clips"):
        captioned_clips(0)
    from course.selfsup.multimodal import SmallVideoEncoder
    with pytest.raises(ValueError, match=">= 8"):
        SmallVideoEncoder()(torch.rand(1, 3, 4, 16, 16))
    assert is_held_out(Content("blue", "plus", "up")) and not is_held_out(Content("blue", "plus", "down"), HELD_OUT)
    assert np.isclose(sum(is_held_out(c) for c in all_contents()), 8)
