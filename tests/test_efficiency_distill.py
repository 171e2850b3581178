"""course.efficiency.distill: the loss against a hand computation (temperature, T^2), and its use in fit."""
from __future__ import annotations

import math

import pytest
import torch

from course.efficiency import DistillationLoss, distillation_loss, teacher_targets


def test_loss_matches_a_hand_computation_with_the_t_squared_factor():
    s = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 2.0]])
    t = torch.tensor([[2.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    y = torch.tensor([0, 2])
    T, alpha = 2.0, 0.3
    kl, ce = 0.0, 0.0
    for i in range(2):
        ps = [math.exp(v / T) for v in s[i].tolist()]
        pt = [math.exp(v / T) for v in t[i].tolist()]
        ps = [p / sum(ps) for p in ps]
        pt = [p / sum(pt) for p in pt]
        kl += sum(b * math.log(b / a) for a, b in zip(ps, pt)) / 2
        q = [math.exp(v) for v in s[i].tolist()]
        ce += -math.log(q[y[i]] / sum(q)) / 2
    expected = alpha * T * T * kl + (1 - alpha) * ce
    assert distillation_loss(s, t, y, temperature=T, alpha=alpha).item() == pytest.approx(expected, rel=1e-5)
    assert distillation_loss(s, t, y, temperature=T, alpha=0.0).item() == pytest.approx(ce, rel=1e-5)
    assert distillation_loss(t, t, y, temperature=T, alpha=1.0).item() == pytest.approx(0.0, abs=1e-6)


def test_loss_module_reads_label_and_teacher_logits_from_the_targets():
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 2 * 2 * 2, 4))
    clips, labels = torch.randn(5, 3, 2, 2, 2), torch.tensor([0, 1, 2, 3, 0])
    targets = teacher_targets(teacher, clips, labels)
    assert targets.shape == (5, 5) and torch.equal(targets[:, 0], labels.float())
    student_logits = torch.randn(5, 4, requires_grad=True)
    loss = DistillationLoss(temperature=3.0, alpha=0.5)(student_logits, targets)
    loss.backward()                                                     # the targets do not block the gradient
    assert student_logits.grad is not None
    with torch.no_grad():
        direct = distillation_loss(student_logits, teacher(clips), labels, temperature=3.0, alpha=0.5)
    assert loss.item() == pytest.approx(direct.item(), rel=1e-6)


def test_bad_arguments_are_rejected():
    s = torch.zeros(2, 3)
    with pytest.raises(ValueError, match=r"distillation_loss\(teacher_logits\)"):
        distillation_loss(s, torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"distillation_loss\(labels\)"):
        distillation_loss(s, s, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"distillation_loss\(temperature\)"):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long), temperature=0)
    with pytest.raises(ValueError, match=r"distillation_loss\(alpha\)"):
        DistillationLoss(alpha=1.5)
