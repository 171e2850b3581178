"""Tests for course.train.transfer and benchmarks/adapter_transfer.py: subsets, the three set-ups, a tiny study."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import TensorDataset

from course.models import Adapter, count_parameters
from course.models.video_resnet import r3d_small
from course.train.recorded import recorded_runs
from course.train.transfer import TRANSFER_METHODS, class_subset, format_transfer_table, prepare_transfer

ROOT = Path(__file__).resolve().parent.parent
DATA = TensorDataset(torch.rand(20, 3, 4, 8, 8), torch.arange(20) % 10)


def test_class_subset_relabels_in_the_given_order():
    sub = class_subset(DATA, (7, 2))
    assert len(sub) == 4
    assert sub.tensors[1].tolist() == [1, 0, 1, 0]             # labels 2, 7, 2, 7 in dataset order
    assert torch.equal(sub.tensors[0][0], DATA.tensors[0][2])
    assert len(class_subset(DATA, (7, 2), limit=3)) == 3


@pytest.mark.parametrize("bad,match", [((), "non-empty"), ((1, 1), "distinct"), ((42,), "no clip")])
def test_class_subset_bad_classes(bad, match):
    with pytest.raises(ValueError, match="classes"):
        class_subset(DATA, bad)


def test_class_subset_bad_dataset_and_limit():
    with pytest.raises(TypeError, match="TensorDataset"):
        class_subset([1, 2], (0,))
    with pytest.raises(ValueError, match="limit"):
        class_subset(DATA, (0,), limit=0)


def test_prepare_transfer_setups_leave_the_pretrained_model_alone():
    torch.manual_seed(0)
    pretrained = r3d_small(6)
    before = {k: v.clone() for k, v in pretrained.state_dict().items()}
    shares = {}
    for method in TRANSFER_METHODS:
        model = prepare_transfer(pretrained, method, 4)
        assert model.fc.out_features == 4
        shares[method] = count_parameters(model, trainable_only=True) / count_parameters(model)
        assert any(isinstance(m, Adapter) for m in model.modules()) == (method == "adapters")
    assert shares["full"] == 1.0 and shares["linear"] < shares["adapters"] < 0.05
    assert all(torch.equal(v, pretrained.state_dict()[k]) for k, v in before.items())
    assert pretrained.fc.out_features == 6
    with pytest.raises(ValueError, match="method"):
        prepare_transfer(pretrained, "lora", 4)
    with pytest.raises(TypeError, match="head"):
        prepare_transfer(pretrained, "full", 4, head="classifier")


def test_tiny_study_through_the_benchmark_script(tmp_path, benchmark_script):
    script = benchmark_script("adapter_transfer")
    record = script.main(["--train-clips", "40", "--test-clips", "20", "--pretrain-epochs", "1", "--target-clips",
                          "12", "--epochs", "1", "--results-dir", str(tmp_path)])
    saved = recorded_runs("adapter_transfer", directory=tmp_path)
    assert [r["method"] for r in saved["runs"]] == list(TRANSFER_METHODS)
    assert saved["runs"] == record["runs"]
    for r in saved["runs"]:
        assert 0 <= r["test_acc"] <= 1 and 0 < r["share"] <= 1 and r["trainable"] <= r["total"]
    assert "adapters" in format_transfer_table(saved) and "command:" in format_transfer_table(saved)
    assert "target" in script.check_target(saved)
