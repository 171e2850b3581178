"""Smoke test of benchmarks/video_prediction.py at small settings: it trains, compares with the baselines, saves its
record where it is told and ends with a parseable RESULT line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from course.train.recorded import recorded_runs

ROOT = Path(__file__).resolve().parent.parent


def test_quick_run_ends_with_a_result_line_and_saves_its_record(tmp_path, capsys, benchmark_script):
    script = benchmark_script("video_prediction")
    record = script.main(["--quick", "--train-clips", "16", "--test-clips", "8", "--threads", "1", "--no-progress",
                      "--results-dir", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("RESULT ")
    result = json.loads(lines[-1][len("RESULT "):])
    for key in ("model_mse", "copy_last_mse", "mean_frame_mse", "horizon", "seconds"):
        assert key in result
    assert result["horizon"] == 10 and result["seconds"] > 0
    assert 0 < result["copy_last_mse"] < 1 and 0 < result["mean_frame_mse"] < 1 and 0 < result["model_mse"] < 1
    assert result["ratio_to_copy_last"] == pytest.approx(result["model_mse"] / result["copy_last_mse"], abs=2e-3)
    saved = recorded_runs("video_prediction", directory=tmp_path)
    assert saved == record and saved["result"] == result
    run = saved["runs"][0]
    assert run["train_clips"] == 16 and len(run["per_step_mse"]["copy last frame"]) == 10
    assert "--quick" in saved["command"] and not list(tmp_path.glob(".*.tmp"))


def test_quick_run_without_results_dir_does_not_touch_the_committed_record(monkeypatch, benchmark_script):
    script = benchmark_script("video_prediction")
    saved = []
    monkeypatch.setattr(script, "save_record", lambda *a, **k: saved.append(a))
    script.main(["--quick", "--train-clips", "8", "--test-clips", "4", "--threads", "1", "--no-progress"])
    assert saved == []


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--hidden", "0"], ["--threads", "0"], ["--seed", "-1"]])
def test_bad_arguments_stop_before_training(argv, capsys, benchmark_script):
    with pytest.raises(SystemExit):
        benchmark_script("video_prediction").main(["--quick", "--no-save", *argv])
    assert "error" in capsys.readouterr().err
