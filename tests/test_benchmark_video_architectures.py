"""Smoke test of benchmarks/video_architectures.py's --quick path and of course.train.architectures."""
from __future__ import annotations

from pathlib import Path

import pytest
from torch.utils.data import TensorDataset

from course.models import count_parameters
from course.train.architectures import (SMALL_MODELS, format_architecture_table, measure_architectures,
                                        train_and_measure)
from course.train.recorded import recorded_runs

ROOT = Path(__file__).resolve().parent.parent


def test_quick_path_trains_measures_and_saves_atomically(tmp_path, benchmark_script):
    script = benchmark_script("video_architectures")
    record = script.main(["--quick", "--models", "slowfast/fast", "two_stream/motion", "--train-clips", "40",
                      "--test-clips", "20", "--epochs", "1", "--results-dir", str(tmp_path)])
    saved = recorded_runs("video_architectures", directory=tmp_path)
    assert saved == record | {"total_seconds": saved["total_seconds"]}
    assert [r["model"] for r in saved["runs"]] == ["slowfast/fast", "two_stream/motion"]
    for run in saved["runs"]:
        assert run["parameters"] > 0 and run["mflops_per_clip"] > 0 and run["train_cpu_seconds"] > 0
        assert 0 <= run["test_acc"] <= 1 and run["input"] == "3x16x32x32" and run["train_clips"] == 40
    assert "--quick" in saved["command"]
    assert not list(tmp_path.glob(".*.tmp"))
    table = format_architecture_table(saved)
    assert "MFLOPs/clip" in table and "slowfast/fast" in table and "load average" in table


def test_quick_path_without_results_dir_does_not_touch_the_committed_record(monkeypatch, tmp_path, benchmark_script):
    script = benchmark_script("video_architectures")
    saved = []
    monkeypatch.setattr(script, "save_record", lambda *a, **k: saved.append(a))
    script.main(["--quick", "--models", "slowfast/fast", "--train-clips", "20", "--test-clips", "10", "--epochs", "1"])
    assert saved == []


@pytest.mark.parametrize("name", list(SMALL_MODELS))
def test_every_small_model_builds_for_moving_shapes(name):
    import torch

    model = SMALL_MODELS[name][1](10)
    assert model(torch.zeros(2, 3, 16, 32, 32)).shape == (2, 10)
    assert count_parameters(model) > 0


def test_bad_arguments():
    ds = TensorDataset(__import__("torch").zeros(4, 3, 16, 32, 32), __import__("torch").zeros(4, dtype=int))
    with pytest.raises(ValueError, match="name"):
        train_and_measure("resnet", ds, ds)
    with pytest.raises(TypeError, match="TensorDataset"):
        train_and_measure("c3d_small", [1, 2], ds)
    with pytest.raises(ValueError, match="epochs"):
        train_and_measure("c3d_small", ds, ds, epochs=0)
    with pytest.raises(ValueError, match="unknown"):
        measure_architectures(["vgg"])
    with pytest.raises(ValueError, match="threads"):
        measure_architectures(["c3d_small"], threads=0)
    with pytest.raises(ValueError, match="seed"):
        measure_architectures(["c3d_small"], seed=-1)
    with pytest.raises(ValueError, match="seed"):
        measure_architectures(["c3d_small"], seed=True)


def test_seeds_and_name_record_every_seed_in_its_own_file(tmp_path, benchmark_script):
    script = benchmark_script("video_architectures")
    record = script.main(["--quick", "--models", "slowfast/fast", "--train-clips", "20", "--test-clips", "10",
                      "--epochs", "1", "--seeds", "0", "1", "--name", "side_experiment",
                      "--results-dir", str(tmp_path)])
    assert recorded_runs("video_architectures", directory=tmp_path) is None      # the main table is left alone
    saved = recorded_runs("side_experiment", directory=tmp_path)
    assert saved == record and saved["seeds"] == [0, 1] and "seed" not in saved
    assert [(r["model"], r["seed"]) for r in saved["runs"]] == [("slowfast/fast", 0), ("slowfast/fast", 1)]
    assert saved["runs"][0]["first_loss"] != saved["runs"][1]["first_loss"]     # the seed changed the run
    assert "--seeds 0 1" in saved["command"]


@pytest.mark.parametrize("argv", [["--seed", "1", "--seeds", "0", "1"], ["--seeds", "0", "0"], ["--seeds", "-1"],
                                  ["--name", "../escape"], ["--merge", "x", "--name", "other"]])
def test_bad_seed_and_name_flags_stop_before_training(argv, capsys, benchmark_script):
    with pytest.raises(SystemExit):
        benchmark_script("video_architectures").main(["--quick", "--no-save", *argv])
    assert "error" in capsys.readouterr().err
