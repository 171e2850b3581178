"""Video search by clip embeddings (chapter 18): nearest neighbours and recall@k.

A query clip is answered with the gallery clips whose embeddings are closest (cosine similarity, scikit-learn's
``NearestNeighbors``). A neighbour is *relevant* when it has the query's class; recall@k is the fraction of queries
with at least one relevant clip among their k nearest neighbours. With no separate gallery, every held-out clip is a
query and all the others are its gallery (leave-one-out).

Encoders follow the chapter's interface (clips (N, C, T, H, W) -> embeddings (N, D), attribute ``embed_dim``);
:class:`PixelEncoder` is the no-learning baseline: the raw pixels, flattened.
"""
from __future__ import annotations

import numbers
from typing import Sequence

import numpy as np
import torch
from torch import nn

__all__ = ["PixelEncoder", "nearest_neighbours", "recall_at_k", "retrieval_table"]


def _as_matrix(x, name: str, fn: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0 or not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{fn}({name}): expected a non-empty 2-d array of embeddings (N, D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{fn}({name}): embeddings contain NaN or infinity")
    return x.astype(np.float64)


def _as_labels(y, n: int, name: str, fn: str) -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    y = np.asarray(y)
    if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{fn}({name}): expected {n} int labels (one per embedding), got shape {y.shape} "
                         f"dtype {y.dtype}")
    return y


def nearest_neighbours(queries, gallery=None, *, k: int = 5) -> np.ndarray:
    """Indices (N, k) of the ``k`` gallery embeddings most similar (cosine) to each query, nearest first.

    ``queries`` (N, D), ``gallery`` (M, D); ``gallery=None``: the queries themselves, each query's own index left out.
    """
    from sklearn.neighbors import NearestNeighbors

    q = _as_matrix(queries, "queries", "nearest_neighbours")
    leave_one_out = gallery is None
    g = q if leave_one_out else _as_matrix(gallery, "gallery", "nearest_neighbours")
    if g.shape[1] != q.shape[1]:
        raise ValueError(f"nearest_neighbours(gallery): expected dimension {q.shape[1]} like the queries, got "
                         f"shape {g.shape}")
    available = len(g) - (1 if leave_one_out else 0)
    if not isinstance(k, numbers.Integral) or isinstance(k, bool) or not 1 <= k <= available:
        raise ValueError(f"nearest_neighbours(k): expected an int in [1, {available}] (gallery size"
                         f"{' minus the query' if leave_one_out else ''}), got {k!r}")
    index = NearestNeighbors(n_neighbors=k + leave_one_out, metric="cosine", algorithm="brute").fit(g)
    _, found = index.kneighbors(q)
    if not leave_one_out:
        return found
    # drop each query's own index (ties may put it anywhere among the nearest, so remove it by value)
    return np.stack([row[row != i][:k] for i, row in enumerate(found)])


def recall_at_k(queries, query_labels, gallery=None, gallery_labels=None, *, ks: Sequence[int] = (1, 5)) -> dict:
    """Recall@k for each k in ``ks``: the fraction of queries with a same-class clip among their k nearest neighbours.

    ``queries`` (N, D) with ``query_labels`` (N,); ``gallery`` (M, D) with ``gallery_labels`` (M,), or both None for
    leave-one-out among the queries. Returns ``{k: recall}``.
    """
    q = _as_matrix(queries, "queries", "recall_at_k")
    qy = _as_labels(query_labels, len(q), "query_labels", "recall_at_k")
    if (gallery is None) != (gallery_labels is None):
        raise ValueError("recall_at_k(gallery, gallery_labels): give both or neither")
    if gallery is None:
        gy = qy
    else:
        gallery = _as_matrix(gallery, "gallery", "recall_at_k")
        gy = _as_labels(gallery_labels, len(gallery), "gallery_labels", "recall_at_k")
    ks = list(ks)
    if not ks or not all(isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in ks):
        raise ValueError(f"recall_at_k(ks): expected a non-empty list of ints, got {ks!r}")
    found = nearest_neighbours(q, gallery, k=max(ks))
    hits = gy[found] == qy[:, None]          # (N, max k): is the j-th neighbour relevant?
    return {int(k): float(hits[:, :k].any(axis=1).mean()) for k in ks}


class PixelEncoder(nn.Module):
    """The raw-pixel baseline in the encoder interface: clips (N, C, T, H, W) -> (N, C*T*H*W), no parameters."""

    def __init__(self, input_size: Sequence[int]):
        super().__init__()
        if (not isinstance(input_size, (tuple, list)) or len(input_size) != 4
                or not all(isinstance(v, numbers.Integral) and v > 0 for v in input_size)):
            raise ValueError(f"PixelEncoder(input_size): expected (C, T, H, W) positive ints, got {input_size!r}")
        self.input_size = tuple(int(v) for v in input_size)
        self.embed_dim = int(np.prod(self.input_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or tuple(x.shape[1:]) != self.input_size:
            raise ValueError(f"PixelEncoder.forward(x): expected (N, {', '.join(map(str, self.input_size))}), got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        return x.flatten(1)


def retrieval_table(encoders: dict, clips: torch.Tensor, labels, *, ks: Sequence[int] = (1, 5),
                    batch_size: int = 128) -> list[dict]:
    """Leave-one-out recall@k on held-out ``clips`` (N, C, T, H, W) with ``labels`` (N,) for each encoder.

    ``encoders`` maps a name to an encoder module. Returns one row per encoder: ``{"encoder", "embed_dim",
    "recall@1", "recall@5", ...}``.
    """
    from .fewlabel import embed

    if not isinstance(encoders, dict) or not encoders:
        raise ValueError("retrieval_table(encoders): expected a non-empty dict {name: encoder}")
    if not isinstance(clips, torch.Tensor) or clips.ndim != 5:
        raise ValueError(f"retrieval_table(clips): expected a tensor (N, C, T, H, W), got "
                         f"{getattr(clips, 'shape', type(clips).__name__)}")
    rows = []
    for name, encoder in encoders.items():
        embeddings = embed(encoder, clips, batch_size=batch_size)
        recalls = recall_at_k(embeddings, labels, ks=ks)
        rows.append({"encoder": name, "embed_dim": int(embeddings.shape[1]),
                     **{f"recall@{k}": v for k, v in recalls.items()}})
    return rows
