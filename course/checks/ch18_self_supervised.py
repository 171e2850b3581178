"""Checks for chapter 18 (self-supervised learning).

References: :mod:`course.selfsup.pretext` (the arrow-of-time pair, the clip-order permutation labels) and
:mod:`course.selfsup.retrieval` (recall@k), checked on hand-made cases.
"""
from __future__ import annotations
