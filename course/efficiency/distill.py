"""Knowledge distillation (Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network", 2015), chapter 15.

A small *student* learns from the labels and from a trained *teacher*'s softened probabilities: at temperature T the
teacher's softmax(z / T) shows which wrong classes it finds plausible ("dark knowledge") — on the moving-shapes task,
which shape moves the other way. The soft term's gradients shrink like 1 / T^2, so it is multiplied by T^2 to keep
its weight when T changes.
"""
from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["distillation_loss", "DistillationLoss", "teacher_targets"]


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, labels: torch.Tensor, *,
                      temperature: float = 4.0, alpha: float = 0.5) -> torch.Tensor:
    """``alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * cross_entropy(student, y)``.

    Logits (N, K), labels (N,) int64 -> a scalar (the KL term summed over classes, averaged over the batch).
    ``alpha=0``: labels only; ``alpha=1``: the teacher only.
    """
    if not (isinstance(student_logits, torch.Tensor) and student_logits.ndim == 2):
        raise ValueError(f"distillation_loss(student_logits): expected (N, K), got "
                         f"{getattr(student_logits, 'shape', type(student_logits).__name__)}")
    if not isinstance(teacher_logits, torch.Tensor) or teacher_logits.shape != student_logits.shape:
        raise ValueError(f"distillation_loss(teacher_logits): expected the student's shape "
                         f"{tuple(student_logits.shape)}, got {getattr(teacher_logits, 'shape', teacher_logits)}")
    if not isinstance(labels, torch.Tensor) or labels.shape != student_logits.shape[:1]:
        raise ValueError(f"distillation_loss(labels): expected ({student_logits.shape[0]},) class indices, got "
                         f"{getattr(labels, 'shape', labels)}")
    if isinstance(temperature, bool) or not isinstance(temperature, numbers.Real) or temperature <= 0:
        raise ValueError(f"distillation_loss(temperature): expected a positive number, got {temperature!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0 <= alpha <= 1:
        raise ValueError(f"distillation_loss(alpha): expected a number in [0, 1], got {alpha!r}")
    t = float(temperature)
    soft = F.kl_div(F.log_softmax(student_logits / t, dim=1), F.log_softmax(teacher_logits.detach() / t, dim=1),
                    reduction="batchmean", log_target=True)
    hard = F.cross_entropy(student_logits, labels)
    return alpha * t * t * soft + (1 - alpha) * hard


class DistillationLoss(nn.Module):
    """:func:`distillation_loss` as the ``loss_fn`` of :func:`course.train.fit`: targets (N, 1 + K) hold the label
    in column 0 and the teacher's logits after it (made by :func:`teacher_targets`)."""

    def __init__(self, temperature: float = 4.0, alpha: float = 0.5):
        super().__init__()
        distillation_loss(torch.zeros(1, 2), torch.zeros(1, 2), torch.zeros(1, dtype=torch.long),
                          temperature=temperature, alpha=alpha)  # validates the arguments
        self.temperature, self.alpha = float(temperature), float(alpha)

    def forward(self, student_logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return distillation_loss(student_logits, targets[:, 1:], targets[:, 0].long(),
                                 temperature=self.temperature, alpha=self.alpha)


@torch.no_grad()
def teacher_targets(teacher: nn.Module, clips: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 64
                    ) -> torch.Tensor:
    """Targets for :class:`DistillationLoss`: (N, 1 + K) = [label, teacher logits] for clips (N, C, T, H, W).
    The teacher runs once, in eval mode, on the same (un-augmented) clips the student trains on."""
    if not isinstance(clips, torch.Tensor) or clips.ndim != 5 or len(clips) != len(labels):
        raise ValueError("teacher_targets(clips, labels): expected clips (N, C, T, H, W) and labels (N,)")
    teacher.eval()
    logits = torch.cat([teacher(batch) for batch in clips.split(batch_size)])
    return torch.cat([labels.float()[:, None], logits.float()], dim=1)
