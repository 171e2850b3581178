"""Chapter 18's exercise checks pass the reference solutions and fail typical mistakes."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course.checks import ch18_self_supervised as ch18


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)


def _recall(embeddings, labels, k, *, cosine=True, leave_out=True):
    x = F.normalize(embeddings.float(), dim=1) if cosine else embeddings.float()
    sim = x @ x.T if cosine else -torch.cdist(x, x)
    if leave_out:
        sim.fill_diagonal_(-float("inf"))
    top = sim.topk(k, dim=1).indices
    return float((labels[top] == labels[:, None]).any(1).float().mean())


def _shuffle(clip, order, *, keep_tail=False):
    length = clip.shape[1] // 3
    parts = [clip[:, i * length:(i + 1) * length] for i in range(3)]
    if keep_tail:
        parts[2] = clip[:, 2 * length:]
    return torch.cat([parts[i] for i in order], dim=1)


MINE = {
    "arrow_of_time_pair": (lambda c: (torch.stack([c, c.flip(1)]), torch.tensor([0, 1])),
                           [lambda c: (torch.stack([c, c.flip(0)]), torch.tensor([0, 1])),     # reversed channels
                            lambda c: (torch.stack([c, c.flip(1)]), torch.tensor([1, 0])),     # labels swapped
                            lambda c: (torch.stack([c, c]), torch.tensor([0, 1]))]),
    "shuffle_subclips": (_shuffle,
                         [lambda c, o: _shuffle(c, o, keep_tail=True),
                          lambda c, o: _shuffle(c, [o.index(i) for i in range(3)])]),          # inverse permutation
    "recall_at_k": (_recall,
                    [lambda e, y, k: _recall(e, y, k, leave_out=False),                      # the query finds itself
                     lambda e, y, k: _recall(e, y, k, cosine=False)]),                           # Euclidean distance
}


@pytest.mark.parametrize("name", sorted(MINE))
def test_my_checks_pass_the_solution_and_fail_mistakes(name, capsys):
    right, wrongs = MINE[name]
    check = getattr(ch18, name)
    assert check(right).passed, capsys.readouterr().out
    for wrong in wrongs:
        assert not check(wrong).passed
    assert not check(lambda *a: (_ for _ in ()).throw(NotImplementedError())).passed
    assert not check("not a function").passed
    assert not check(lambda *a: None).passed
