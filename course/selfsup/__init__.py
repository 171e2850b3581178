"""Self-supervised learning (chapter 18): learning from unlabelled clips, and whether it pays when labels are few.

An *encoder* here is any ``nn.Module`` mapping clips ``(N, C, T, H, W)`` to embeddings ``(N, D)`` with an int
attribute ``embed_dim`` (= D). The few-label evaluation and retrieval take encoders (or factories returning fresh
ones) through that interface only.

- :mod:`course.selfsup.pretext` — pretext tasks from the clip itself: arrow of time, clip order; the shortcut;
- :mod:`course.selfsup.fewlabel` — from scratch vs pretrained, linear probe vs fine-tuning, at few labels;
- :mod:`course.selfsup.retrieval` — nearest-neighbour video search with clip embeddings, recall@k.
"""
from __future__ import annotations
