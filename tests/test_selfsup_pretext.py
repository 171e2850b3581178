"""course.selfsup.pretext: arrow of time, clip order, the fade shortcut and its block, the encoder."""
from __future__ import annotations

import pytest
import torch

from course.selfsup.pretext import (CLIP_ORDERS, ArrowOfTime, ClipOrder, add_fade, arrow_of_time_pair,
                                    frame_brightness, normalize_frames, pretext_accuracy, pretext_encoder, pretrain,
                                    reverse_clip, shuffle_subclips, split_subclips, unlabelled_clips)


def _numbered_clip(t=6, c=2, h=3, w=4):
    """A clip (C, T, H, W) whose every pixel in frame t equals t: frame order can be read off the values."""
    return torch.arange(t, dtype=torch.float32).view(1, t, 1, 1).expand(c, t, h, w).clone()


def test_reversed_clip_is_really_reversed():
    clip = torch.rand(3, 5, 4, 4)
    rev = reverse_clip(clip)
    for t in range(5):
        assert torch.equal(rev[:, t], clip[:, 4 - t])
    assert torch.equal(reverse_clip(clip[None])[0], rev)          # batched too
    assert torch.equal(reverse_clip(rev), clip)


def test_arrow_of_time_pair():
    clip = _numbered_clip()
    clips, labels = arrow_of_time_pair(clip)
    assert clips.shape == (2, *clip.shape) and labels.tolist() == [0, 1]
    assert clips[0, 0, :, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]
    assert clips[1, 0, :, 0, 0].tolist() == [5, 4, 3, 2, 1, 0]


def test_clip_orders_are_the_six_permutations_identity_first():
    assert len(CLIP_ORDERS) == 6 and len(set(CLIP_ORDERS)) == 6
    assert CLIP_ORDERS[0] == (0, 1, 2)
    assert all(sorted(o) == [0, 1, 2] for o in CLIP_ORDERS)


def test_split_and_shuffle_subclips():
    clip = _numbered_clip(t=7)                                     # 7 frames: 3 sub-clips of 2, frame 6 dropped
    parts = split_subclips(clip)
    assert parts.shape == (3, 2, 2, 3, 4)
    assert parts[:, 0, :, 0, 0].tolist() == [[0, 1], [2, 3], [4, 5]]
    shuffled = shuffle_subclips(clip, (2, 0, 1))
    assert shuffled[0, :, 0, 0].tolist() == [4, 5, 0, 1, 2, 3]
    index = CLIP_ORDERS.index((1, 2, 0))
    assert shuffle_subclips(clip, index)[0, :, 0, 0].tolist() == [2, 3, 4, 5, 0, 1]
    assert torch.equal(shuffle_subclips(clip, 0), clip[:, :6])


def test_pretext_datasets_labels_match_their_clips():
    clips = torch.stack([_numbered_clip(t=6) + 10 * i for i in range(12)])
    order = ClipOrder(clips, seed=3)
    assert order.num_classes == 6 and len(order) == 12
    for i in range(12):
        x, label = order[i]
        starts = x[0, ::2, 0, 0] - 10 * i                          # first frame of each sub-clip
        assert tuple(int(s) // 2 for s in starts) == CLIP_ORDERS[label]
    arrow = ArrowOfTime(clips, seed=3)
    labels = [arrow[i][1] for i in range(12)]
    assert set(labels) == {0, 1}                                   # both directions occur
    for i in range(12):
        x, label = arrow[i]
        assert (x[0, 0, 0, 0] > x[0, -1, 0, 0]) == (label == 1)
    x, y = arrow.tensors()
    assert x.shape == (12, 2, 6, 3, 4) and y.tolist() == labels
    assert ArrowOfTime(clips, seed=3).labels.tolist() == arrow.labels.tolist()   # reproducible


def test_fade_is_a_time_cue_and_normalize_frames_removes_it():
    torch.manual_seed(0)
    clips = torch.rand(4, 3, 8, 6, 6)
    faded = add_fade(clips, 0.5)
    brightness = frame_brightness(add_fade(torch.full((4, 3, 8, 6, 6), 0.6), 0.5))
    assert brightness.shape == (4, 8)
    assert (brightness[:, 1:] > brightness[:, :-1]).all()          # brighter frame after frame: tells the time order
    assert torch.allclose(brightness[:, 0], torch.full((4,), 0.3))   # the first frame at half its brightness
    assert torch.allclose(faded[:, :, -1], clips[:, :, -1])          # the last frame is untouched
    assert torch.allclose(normalize_frames(faded), normalize_frames(clips), atol=1e-4)
    normed = normalize_frames(clips)
    assert torch.allclose(normed.mean(dim=(1, 3, 4)), torch.zeros(4, 8), atol=1e-5)


def test_encoder_interface_and_pretraining_learns_the_shortcut():
    enc = pretext_encoder((4, 8), normalize=False)
    assert enc.embed_dim == 8 and enc(torch.rand(2, 3, 6, 16, 16)).shape == (2, 8)
    torch.manual_seed(0)
    clips = add_fade(torch.rand(64, 3, 6, 16, 16) * 0.5 + 0.25, 0.8)
    model, loss = pretrain(enc, ArrowOfTime(clips, seed=0), epochs=6, batch_size=16, lr=1e-2, progress=False)
    assert len(loss) == 6 and loss[-1] < loss[0]
    assert pretext_accuracy(model, ArrowOfTime(clips, seed=1)) > 0.9   # the fade alone gives the answer


def test_unlabelled_clips():
    clips = unlabelled_clips(3, num_frames=6, size=16)
    assert clips.shape == (3, 3, 6, 16, 16) and clips.dtype == torch.float32
    digits = unlabelled_clips(2, num_frames=6, size=24, source="digits")
    assert digits.shape == (2, 3, 6, 24, 24) and torch.equal(digits[:, 0], digits[:, 1])   # grey, as 3 channels


def test_bad_inputs():
    with pytest.raises(TypeError, match="reverse_clip\\(clip\\)"):
        reverse_clip([1, 2, 3])
    with pytest.raises(ValueError, match="arrow_of_time_pair\\(clip\\).*\\(C, T, H, W\\)"):
        arrow_of_time_pair(torch.rand(2, 3, 4, 5, 5))
    with pytest.raises(TypeError, match="floating-point"):
        reverse_clip(torch.zeros(3, 4, 5, 5, dtype=torch.uint8))
    with pytest.raises(ValueError, match="shuffle_subclips\\(order\\)"):
        shuffle_subclips(torch.rand(3, 6, 4, 4), (0, 0, 1))
    with pytest.raises(ValueError, match="shuffle_subclips\\(order\\)"):
        shuffle_subclips(torch.rand(3, 6, 4, 4), 6)
    with pytest.raises(ValueError, match="cannot make 3 sub-clips"):
        split_subclips(torch.rand(3, 2, 4, 4))
    with pytest.raises(ValueError, match="add_fade\\(strength\\)"):
        add_fade(torch.rand(3, 4, 4, 4), 1.5)
    with pytest.raises(ValueError, match="ClipOrder\\(clips\\)"):
        ClipOrder(torch.rand(3, 6, 4, 4))
    with pytest.raises(TypeError, match="pretrain\\(task\\)"):
        pretrain(pretext_encoder((4,)), [(torch.rand(3, 6, 8, 8), 0)], epochs=1)
    with pytest.raises(ValueError, match="unlabelled_clips\\(source\\)"):
        unlabelled_clips(2, source="cats")
    with pytest.raises(ValueError, match="ClipEncoder.forward\\(x\\)"):
        pretext_encoder((4,))(torch.rand(3, 6, 8, 8))
