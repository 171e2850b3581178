"""benchmarks/gpu_video_models.py on a CPU: its pure helpers and the --smoke path of the chapter-16 variants (the
full run needs a GPU)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def test_channels_last_covers_2d_and_3d_weights(benchmark_script):
    script = benchmark_script("gpu_video_models")
    model = torch.nn.Sequential(torch.nn.Conv3d(3, 4, 3), torch.nn.Conv2d(4, 4, 3), torch.nn.Linear(4, 2))
    script.to_channels_last(model)
    assert model[0].weight.is_contiguous(memory_format=torch.channels_last_3d)
    assert model[1].weight.is_contiguous(memory_format=torch.channels_last)
    assert not model[0].weight.is_contiguous() and model[2].weight.is_contiguous()
    assert script.wait_fraction(1.0, 4.0) == 0.25
    with pytest.raises(ValueError, match="wait"):
        script.wait_fraction(5.0, 4.0)


def test_smoke_variants_on_cpu_keep_the_training_rows(tmp_path, benchmark_script):
    script = benchmark_script("gpu_video_models")
    (tmp_path / "gpu_video_models.json").write_text(json.dumps(
        {"command": "python benchmarks/gpu_video_models.py", "device": "NVIDIA X", "date": "2026-12-01",
         "torch": "2", "runs": [{"model": "c3d", "precision": "float32", "test_acc": 0.9}]}))
    record = script.main(["--smoke", "--variants-only", "--models", "c3d", "cnn_lstm",
                          "--variant-names", "fp32", "amp+channels_last_3d", "--results-dir", str(tmp_path)])
    saved = json.loads((tmp_path / "gpu_video_models.json").read_text())
    assert saved["runs"] == [{"model": "c3d", "precision": "float32", "test_acc": 0.9}]
    assert saved["training_device"] == "NVIDIA X" and saved == json.loads(json.dumps(record))
    rows = saved["variants"]
    assert [(r["model"], r["variant"]) for r in rows] == [
        ("c3d (smoke)", "fp32"), ("c3d (smoke)", "amp+channels_last_3d"),
        ("cnn_lstm (smoke)", "fp32"), ("cnn_lstm (smoke)", "amp+channels_last_3d")]
    for row in rows:
        assert "error" not in row, row
        assert row["train_clips_per_s"] > 0 and 0 <= row["data_wait_fraction"] < 1 and row["input"] == "3x16x32x32"
    assert "bfloat16" in rows[1]["precision"]
