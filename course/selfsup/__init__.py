"""Self-supervised learning (chapter 18): learning from unlabelled clips, and whether it pays when labels are few.

An *encoder* here is any ``nn.Module`` mapping clips ``(N, C, T, H, W)`` to embeddings ``(N, D)`` with an int
attribute ``embed_dim`` (= D). The few-label evaluation and retrieval take encoders (or factories returning fresh
ones) through that interface only.

- :mod:`course.selfsup.pretext` — pretext tasks from the clip itself: arrow of time, clip order; the shortcut;
- :mod:`course.selfsup.fewlabel` — from scratch vs pretrained, linear probe vs fine-tuning, at few labels;
- :mod:`course.selfsup.retrieval` — nearest-neighbour video search with clip embeddings, recall@k;
- :mod:`course.selfsup.masked` — masked tube autoencoding (VideoMAE in miniature): ``pretrain_mae`` returns an encoder;
- :mod:`course.selfsup.multimodal` — clips with template captions, a CLIP-style loss, text-to-video search.
"""
from __future__ import annotations

from .fewlabel import FewLabelData, few_label_runs, format_few_label_table, label_fraction_indices, summarize_few_label, train_few_label  # noqa: E402,F401,E501
from .pretext import CLIP_ORDERS, ArrowOfTime, ClipEncoder, ClipOrder, add_fade, normalize_frames, pretext_encoder, pretrain, reverse_clip, shuffle_subclips  # noqa: E402,F401,E501
from .retrieval import PixelEncoder, nearest_neighbours, recall_at_k, retrieval_table  # noqa: E402,F401,E501
from .masked import MaskedAutoencoder, MaskedVideoEncoder, make_mask, pretrain_mae, train_masked_autoencoder  # noqa: E402,F401,E501
from .multimodal import VideoTextModel, captioned_clips, contrastive_loss, text_to_video_recall, train_video_text  # noqa: E402,F401,E501
