"""Smoke test of benchmarks/self_supervised.py with tiny settings: the RESULT line and the saved record."""
from __future__ import annotations

import json
from pathlib import Path

from course.train.recorded import recorded_runs

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--train-clips", "30", "--val-clips", "20", "--test-clips", "20", "--pool-clips", "24", "--frames", "6",
        "--size", "16", "--widths", "4", "8", "--pretrain-epochs", "1", "--mae-epochs", "1", "--epochs", "1",
        "--fractions", "0.1", "1.0", "--seeds", "0", "1", "--lrs-finetune", "1e-3", "--lrs-probe", "1e-2", "3e-2",
        "--threads", "1"]


def test_tiny_run_prints_result_and_saves(tmp_path, capsys, benchmark_script):
    script = benchmark_script("self_supervised")
    record = script.main([*TINY, "--pretexts", "order", "arrow", "--results-dir", str(tmp_path)])
    out = capsys.readouterr().out
    result_lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert len(result_lines) == 1 and out.rstrip().splitlines()[-1] == result_lines[0]
    result = json.loads(result_lines[0][len("RESULT "):])
    for key in ("labels_fraction", "scratch_acc", "pretrained_acc", "pretext", "seeds", "seconds"):
        assert key in result
    assert result["labels_fraction"] == 0.1 and result["seeds"] == [0, 1] and result["pretext"] in ("order", "arrow")
    assert 0 <= result["scratch_acc"] <= 1 and 0 <= result["pretrained_acc"] <= 1 and result["seconds"] > 0
    saved = recorded_runs("self_supervised", directory=tmp_path)
    assert saved["best_pretext"] == result["pretext"]
    # 3 encoders x 2 modes x 2 fractions x 2 seeds
    assert len(saved["runs"]) == 24 and {r["encoder"] for r in saved["runs"]} == {"scratch", "order", "arrow"}
    scratch = [r for r in saved["runs"]
               if r["encoder"] == "scratch" and r["mode"] == "finetune" and r["fraction"] == 0.1]
    assert abs(sum(r["test_acc"] for r in scratch) / 2 - result["scratch_acc"]) < 1e-9
    assert set(saved["learning_rates"]) == {f"{e}/{m}" for e in ("scratch", "order", "arrow")
                                            for m in ("probe", "finetune")}
    assert "--pretexts" in saved["command"] and 0 <= saved["pretext"]["order"]["pretext_val_acc"] <= 1
    assert not list(tmp_path.glob(".*.tmp"))


def test_validation_report_saves_nothing(tmp_path, capsys, benchmark_script):
    script = benchmark_script("self_supervised")
    script.main([*TINY, "--pretexts", "order", "--seeds", "0", "--report", "val", "--results-dir", str(tmp_path)])
    assert "val accuracy" in capsys.readouterr().out
    assert not list(tmp_path.iterdir())
