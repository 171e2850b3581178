"""course.train.recorded (committed GPU results shown in chapters 08-09) and the script that writes them, on a CPU."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from course.train.recorded import format_runs_table, recorded_runs, save_record

ROOT = Path(__file__).resolve().parent.parent


def test_missing_record_is_none_and_saved_record_round_trips(tmp_path):
    assert recorded_runs("gpu_video_models", directory=tmp_path) is None
    record = {"command": "python x.py", "device": "Test GPU", "torch": "2.x", "date": "2026-01-01",
              "runs": [{"model": "c3d", "precision": "float32", "parameters": 1234, "test_acc": 0.5}]}
    path = save_record(record, "demo", directory=tmp_path)
    assert recorded_runs("demo", directory=tmp_path) == record
    assert [p.name for p in tmp_path.iterdir()] == [path.name]          # no temp file left behind
    table = format_runs_table(record)
    assert "Test GPU" in table and "python x.py" in table and "1,234" in table and "50.0%" in table


def test_bad_records_and_names_are_clear_errors(tmp_path):
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        recorded_runs("broken", directory=tmp_path)
    (tmp_path / "noruns.json").write_text(json.dumps({"device": "x"}))
    with pytest.raises(ValueError, match="'runs'"):
        recorded_runs("noruns", directory=tmp_path)
    with pytest.raises(ValueError, match="name"):
        recorded_runs("../etc/passwd", directory=tmp_path)
    with pytest.raises(ValueError, match="runs"):
        save_record({"device": "x"}, "demo", directory=tmp_path)
    with pytest.raises(ValueError, match="runs"):
        format_runs_table([])


def test_gpu_script_smoke_run_on_cpu_writes_a_record(tmp_path, benchmark_script):
    script = benchmark_script("gpu_video_models")
    record = script.main(["--smoke", "--models", "c3d", "--device", "cpu", "--results-dir", str(tmp_path)])
    # on a CPU the default is float32 only: bfloat16 autocast there gave NaN gradients now and then (torch 2.14.1)
    assert [r["precision"] for r in record["runs"]] == ["float32"]
    saved = recorded_runs("gpu_video_models", directory=tmp_path)
    assert saved["runs"][0]["input"] == "3x16x32x32" and saved["runs"][0]["train_clips"] == 40
    assert all(0 <= r["test_acc"] <= 1 and r["train_clips_per_s"] > 0 for r in saved["runs"])
    with pytest.raises(SystemExit):          # the full-size run refuses to start without a GPU
        script.main(["--device", "cpu", "--no-save"])
