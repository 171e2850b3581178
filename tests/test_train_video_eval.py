"""course.train.video_eval: evaluate_videos (clip vs video accuracy), MultiClipDataset, clip_starts, crop_boxes."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course.train import MultiClipDataset, clip_starts, crop_boxes, evaluate_videos


class LogitsFromInput(nn.Module):
    """Returns the clip itself as logits: clips (N, K, 1, 1, 1) -> logits (N, K), so tests choose the scores."""

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x.flatten(1) + self.dummy


def _triples(logits, labels, ids, batch_size=2):
    clips = torch.as_tensor(logits, dtype=torch.float32)[:, :, None, None, None]
    return DataLoader(TensorDataset(clips, torch.as_tensor(labels), torch.as_tensor(ids)), batch_size=batch_size)


def test_video_average_of_softmax_by_hand():
    # video 7 (label 0): clips say 1, 1, then a confident 0 -> clip accuracy 1/3 but the video is right
    # video 3 (label 1): one clip, right
    logits = [[0.0, 1.0], [0.0, 1.0], [5.0, 0.0], [0.0, 2.0]]
    out = evaluate_videos(LogitsFromInput(), _triples(logits, [0, 0, 0, 1], [7, 7, 7, 3]), progress=False)
    p_wrong = 1 / (1 + math.e)            # softmax([0, 1])[0]
    p_conf = 1 / (1 + math.exp(-5.0))     # softmax([5, 0])[0]
    expected_v7 = (2 * p_wrong + p_conf) / 3
    assert out["video_ids"].tolist() == [3, 7]
    assert out["video_labels"].tolist() == [1, 0]
    assert out["video_probs"].shape == (2, 2)
    assert out["video_probs"][1, 0].item() == pytest.approx(expected_v7, rel=1e-6)
    assert out["video_probs"].sum(dim=1).tolist() == pytest.approx([1.0, 1.0])
    assert out["clip_accuracy"] == pytest.approx(2 / 4)
    assert out["video_accuracy"] == pytest.approx(1.0)
    assert isinstance(out["clip_accuracy"], float) and isinstance(out["video_accuracy"], float)


def test_order_and_batching_do_not_matter():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(30, 4, generator=g)
    ids = torch.arange(30) // 3
    labels = torch.randint(0, 4, (10,), generator=g)[ids]
    a = evaluate_videos(LogitsFromInput(), _triples(logits, labels, ids, batch_size=4), progress=False)
    perm = torch.randperm(30, generator=g)
    b = evaluate_videos(LogitsFromInput(), _triples(logits[perm], labels[perm], ids[perm], batch_size=7),
                        progress=False)
    assert torch.allclose(a["video_probs"], b["video_probs"], atol=1e-6)
    assert a["video_accuracy"] == b["video_accuracy"] and a["clip_accuracy"] == b["clip_accuracy"]
    manual = torch.softmax(logits, 1).reshape(10, 3, 4).mean(1)
    assert torch.allclose(a["video_probs"], manual, atol=1e-6)


def test_restores_train_mode():
    model = LogitsFromInput().train()
    evaluate_videos(model, _triples([[1.0, 0.0]], [0], [0]), progress=False)
    assert model.training


def test_inconsistent_labels_rejected():
    with pytest.raises(ValueError, match="different labels"):
        evaluate_videos(LogitsFromInput(), _triples([[1.0, 0.0], [1.0, 0.0]], [0, 1], [5, 5]), progress=False)


@pytest.mark.parametrize("loader, error, match", [
    ([(torch.zeros(2, 2, 1, 1, 1), torch.zeros(2, dtype=torch.long))], TypeError, "video_ids"),
    ([(torch.zeros(2, 2, 1, 1, 1), torch.zeros(2, dtype=torch.long), torch.zeros(2))], ValueError, "video_ids"),
    ([(torch.zeros(2, 2, 1, 1, 1), torch.zeros(3, dtype=torch.long), torch.zeros(2, dtype=torch.long))],
     ValueError, "labels"),
    ([], ValueError, "no batches"),
    (5, TypeError, "loader"),
])
def test_bad_loader(loader, error, match):
    with pytest.raises(error, match=match):
        evaluate_videos(LogitsFromInput(), loader, progress=False)


def test_bad_model_and_progress():
    with pytest.raises(TypeError, match="model"):
        evaluate_videos(lambda x: x, _triples([[1.0, 0.0]], [0], [0]))
    with pytest.raises(TypeError, match="progress"):
        evaluate_videos(LogitsFromInput(), _triples([[1.0, 0.0]], [0], [0]), progress="yes")
    with pytest.raises(ValueError, match=r"logits \(N, K\)"):
        evaluate_videos(nn.Identity(), _triples([[1.0, 0.0]], [0], [0]), progress=False)


def test_clip_starts_and_crop_boxes_known_values():
    assert clip_starts(32, 16, 3).tolist() == [0, 8, 16]
    assert clip_starts(32, 16, 1).tolist() == [8]
    assert clip_starts(16, 16, 4).tolist() == [0, 0, 0, 0]
    assert crop_boxes(40, 40, 32, 1) == [(4, 4)]
    assert crop_boxes(40, 50, 32, 3) == [(4, 0), (4, 9), (4, 18)]
    assert crop_boxes(50, 40, 32, 3) == [(0, 4), (9, 4), (18, 4)]
    assert crop_boxes(40, 40, 32, 5) == [(0, 0), (0, 8), (8, 0), (8, 8), (4, 4)]
    with pytest.raises(ValueError, match="clip_len"):
        clip_starts(8, 16, 2)
    with pytest.raises(ValueError, match="num_crops"):
        crop_boxes(40, 40, 32, 2)
    with pytest.raises(ValueError, match="crop_size"):
        crop_boxes(20, 40, 32, 1)


def test_multi_clip_dataset_items():
    # video v: pixel value = 100 * v + frame index, so each clip says where it came from
    frames = torch.arange(32, dtype=torch.float32)
    videos = [(frames.view(1, 32, 1, 1).expand(1, 32, 6, 6) + 100 * v, v % 2) for v in range(3)]
    ds = MultiClipDataset(videos, clip_len=16, num_clips=3, crop_size=4, num_crops=5)
    assert len(ds) == 3 * 3 * 5
    clip, label, vid = ds[1 * 15 + 2 * 5 + 4]          # video 1, clip 2, centre crop
    assert (vid, label) == (1, 1)
    assert clip.shape == (1, 16, 4, 4)
    assert clip[0, :, 0, 0].tolist() == [100 + 16 + t for t in range(16)]
    assert ds[-1][2] == 2
    batch = next(iter(DataLoader(ds, batch_size=15)))
    assert batch[0].shape == (15, 1, 16, 4, 4) and batch[2].dtype == torch.int64
    assert torch.all(batch[2] == 0)


def test_multi_clip_dataset_bad_input():
    videos = [(torch.zeros(3, 8, 4, 4), 0)]
    with pytest.raises(ValueError, match="crop_size"):
        MultiClipDataset(videos, clip_len=4, num_crops=3)
    with pytest.raises(ValueError, match="num_crops"):
        MultiClipDataset(videos, clip_len=4, crop_size=2, num_crops=4)
    with pytest.raises(ValueError, match="clip_len"):
        MultiClipDataset(videos, clip_len=0)
    with pytest.raises(TypeError, match="videos"):
        MultiClipDataset(3, clip_len=4)
    with pytest.raises(ValueError, match="empty"):
        MultiClipDataset([], clip_len=4)
    with pytest.raises(IndexError):
        MultiClipDataset(videos, clip_len=4)[1]
    with pytest.raises(ValueError, match="clip_len"):
        MultiClipDataset(videos, clip_len=16)[0]


def test_end_to_end_with_a_real_model_gives_valid_probabilities():
    torch.manual_seed(0)
    videos = TensorDataset(torch.rand(4, 3, 24, 8, 8), torch.tensor([0, 1, 2, 0]))
    loader = DataLoader(MultiClipDataset(videos, clip_len=8, num_clips=3), batch_size=5)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8 * 8, 3))
    out = evaluate_videos(model, loader, device="cpu", progress=False)
    assert out["video_probs"].shape == (4, 3)
    assert np.allclose(out["video_probs"].sum(1).numpy(), 1.0, atol=1e-6)
    assert out["video_ids"].tolist() == [0, 1, 2, 3]
    assert 0.0 <= out["clip_accuracy"] <= 1.0 and 0.0 <= out["video_accuracy"] <= 1.0
