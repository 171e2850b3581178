"""Smoke test of benchmarks/video_gan.py with small settings: it trains, judges, saves its record atomically and ends
with a RESULT line carrying the floor, the ceiling and the trained generator's Frechet distance."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from course.train.recorded import recorded_runs

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--quick", "--steps", "3", "--train-clips", "40", "--test-clips", "20", "--classifier-epochs", "1",
         "--threads", "1", "--no-progress"]


def test_small_run_saves_a_record_and_ends_with_the_result_line(tmp_path, capsys, benchmark_script):
    record = benchmark_script("video_gan").main(SMALL + ["--results-dir", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("RESULT ")
    result = json.loads(lines[-1][len("RESULT "):])
    for key in ("fd_generated", "fd_untrained", "fd_real", "seconds"):
        assert isinstance(result[key], float) and result[key] == record[key]
    assert result["fd_real"] >= 0 and result["fd_untrained"] > 0 and result["seconds"] > 0
    assert result["steps"] == 3
    saved = recorded_runs("video_gan", directory=tmp_path)
    assert saved == record
    assert [r["name"] for r in saved["runs"]] == ["untrained generator", "trained generator", "real held-out clips"]
    assert all(abs(sum(r["predicted_share"]) - 1) < 1e-6 for r in saved["runs"])
    assert "--quick" in saved["command"] and not list(tmp_path.glob(".*.tmp"))
    assert any("closer to the ceiling than to the floor" in line for line in lines)


def test_quick_run_without_results_dir_leaves_the_committed_record_alone(monkeypatch, benchmark_script):
    script = benchmark_script("video_gan")
    saved = []
    monkeypatch.setattr(script, "save_record", lambda *a, **k: saved.append(a))
    script.main(SMALL)
    assert saved == []


@pytest.mark.parametrize("argv", [["--steps", "0"], ["--threads", "0"], ["--test-clips", "50", "--train-clips", "40"]])
def test_bad_arguments_stop_before_training(argv, capsys, benchmark_script):
    with pytest.raises(SystemExit):
        benchmark_script("video_gan").main(["--quick", "--no-save", *argv])
    assert "error" in capsys.readouterr().err
