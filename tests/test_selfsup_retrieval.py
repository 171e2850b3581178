"""course.selfsup.retrieval: nearest neighbours by cosine similarity and recall@k on hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.selfsup.pretext import pretext_encoder
from course.selfsup.retrieval import PixelEncoder, nearest_neighbours, recall_at_k, retrieval_table

# four 2-d embeddings at angles 0, 10, 90 and 100 degrees: two tight pairs, far apart
ANGLES = np.radians([0, 10, 90, 100])
POINTS = np.stack([np.cos(ANGLES), np.sin(ANGLES)], axis=1)


def test_nearest_neighbours_leave_one_out_by_hand():
    found = nearest_neighbours(POINTS, k=2)
    assert found.tolist() == [[1, 2], [0, 2], [3, 1], [2, 1]]
    scaled = POINTS * np.array([[1.0], [5.0], [0.1], [3.0]])        # cosine: the length does not matter
    assert nearest_neighbours(scaled, k=2).tolist() == found.tolist()


def test_nearest_neighbours_with_a_gallery():
    found = nearest_neighbours(POINTS[[0, 3]], POINTS[[1, 2]], k=1)
    assert found.tolist() == [[0], [1]]


def test_recall_at_k_by_hand():
    # labels chosen so that query 0's nearest (1) is wrong but its second nearest (2) is right
    labels = np.array([0, 1, 0, 1])
    recalls = recall_at_k(POINTS, labels, ks=(1, 2))
    # nearest: 0->1 (miss), 1->0 (miss), 2->3 (miss), 3->2 (miss); second: 0->2 hit, 1->2 miss, 2->1 miss, 3->1 hit
    assert recalls == {1: 0.0, 2: 0.5}
    assert recall_at_k(POINTS, np.array([0, 0, 1, 1]), ks=(1,)) == {1: 1.0}
    gallery = recall_at_k(POINTS[[0, 2]], [0, 1], POINTS[[1, 3]], [0, 0], ks=(1,))
    assert gallery == {1: 0.5}


def test_recall_grows_with_k_and_reaches_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, 30)
    r = recall_at_k(x, y, ks=(1, 5, 29))
    assert r[1] <= r[5] <= r[29] == 1.0


def test_retrieval_table_with_encoders():
    torch.manual_seed(0)
    clips = torch.rand(12, 3, 6, 16, 16) * 0.2
    clips[:6, ..., :8] += 1.0                                     # class 0 bright on the left, class 1 on the right:
    clips[6:, ..., 8:] += 1.0                                     # the raw pixels find each clip's class
    labels = torch.tensor([0] * 6 + [1] * 6)
    rows = retrieval_table({"pixels": PixelEncoder((3, 6, 16, 16)), "random": pretext_encoder((4, 8))},
                           clips, labels)
    assert [r["encoder"] for r in rows] == ["pixels", "random"]
    assert rows[0]["embed_dim"] == 3 * 6 * 16 * 16 and rows[1]["embed_dim"] == 8
    assert rows[0]["recall@1"] == 1.0 and 0 <= rows[1]["recall@5"] <= 1


def test_bad_inputs():
    with pytest.raises(ValueError, match="nearest_neighbours\\(k\\)"):
        nearest_neighbours(POINTS, k=4)                             # only 3 others to choose from
    with pytest.raises(ValueError, match="nearest_neighbours\\(gallery\\)"):
        nearest_neighbours(POINTS, np.zeros((3, 5)), k=1)
    with pytest.raises(ValueError, match="nearest_neighbours\\(queries\\)"):
        nearest_neighbours(np.zeros(4), k=1)
    with pytest.raises(ValueError, match="NaN"):
        nearest_neighbours(np.array([[np.nan, 1.0], [1.0, 0.0]]), k=1)
    with pytest.raises(ValueError, match="recall_at_k\\(query_labels\\)"):
        recall_at_k(POINTS, [0, 1], ks=(1,))
    with pytest.raises(ValueError, match="recall_at_k\\(query_labels\\)"):
        recall_at_k(POINTS, np.array([0.0, 1.0, 0.0, 1.0]), ks=(1,))
    with pytest.raises(ValueError, match="give both or neither"):
        recall_at_k(POINTS, [0, 1, 0, 1], POINTS)
    with pytest.raises(ValueError, match="recall_at_k\\(ks\\)"):
        recall_at_k(POINTS, [0, 1, 0, 1], ks=[])
    with pytest.raises(ValueError, match="PixelEncoder\\(input_size\\)"):
        PixelEncoder((3, 4, 4))
    with pytest.raises(ValueError, match="PixelEncoder.forward\\(x\\)"):
        PixelEncoder((3, 2, 4, 4))(torch.rand(2, 3, 2, 4, 5))
    with pytest.raises(ValueError, match="retrieval_table\\(encoders\\)"):
        retrieval_table({}, torch.rand(2, 3, 2, 4, 4), [0, 1])
