"""Chapter 16's exercise checks pass the reference solutions and fail typical mistakes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from course.checks import ch16_scaling_up as ch16
from course.train.memory import accumulated_gradients


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


def _accumulate(model, clips, labels, micro_batches):
    for name, grad in accumulated_gradients(model, clips, labels, micro_batches=micro_batches).items():
        model.get_parameter(name).grad = grad


def _accumulate_unscaled(model, clips, labels, micro_batches):
    for x, y in zip(clips.chunk(micro_batches), labels.chunk(micro_batches)):
        torch.nn.functional.cross_entropy(model(x), y).backward()


CASES = {
    "process_share": (lambda idx, r, w: list(idx[:len(idx) - len(idx) % w][r::w]),
                      lambda idx, r, w: list(idx[r::w])),
    "average_gradients": (lambda gs: {k: sum(g[k] for g in gs) / len(gs) for k in gs[0]},
                          lambda gs: {k: sum(g[k] for g in gs) for k in gs[0]}),
    "resume_position": (lambda s, n: divmod(s, n), lambda s, n: (s // n, s)),
    "float16_lost": (lambda v, s: (v != 0) & ((v * s).astype(np.float16) == 0),
                     lambda v, s: (v * s).astype(np.float16) == 0),
    "effective_batch_and_lr": (lambda p, w, a, lr, b: (p * w * a, lr * p * w * a / b),
                               lambda p, w, a, lr, b: (p * w, lr * p * w / b)),
    "accumulate": (_accumulate, _accumulate_unscaled),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_passes_the_solution_and_fails_a_mistake(name, capsys):
    right, wrong = CASES[name]
    check = getattr(ch16, name)
    assert check(right).passed, capsys.readouterr().out
    failed = check(wrong)
    assert not failed.passed
    assert not check(lambda *a: (_ for _ in ()).throw(NotImplementedError())).passed
    assert not check("not a function").passed
