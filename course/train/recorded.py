"""Results of long runs that were measured once (on a GPU) and committed, so a CPU learner can read them (chapters 08-09).

A record is a JSON file ``course/results/<name>.json`` written by a benchmark script (for example
``benchmarks/gpu_video_models.py``) with keys ``command``, ``device``, ``date``, ``torch`` and ``runs`` (a list of
dicts, one per trained model and precision). Nothing here measures anything: it only shows what the script printed
and saved, with the command to measure it again on your own machine.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent.parent / "results"

#: Columns of :func:`format_runs_table`: (key in a run, header, format).
RUN_COLUMNS = (
    ("model", "model", "{}"), ("input", "input (C,T,H,W)", "{}"), ("precision", "precision", "{}"),
    ("parameters", "params", "{:,}"), ("epochs", "epochs", "{}"), ("train_clips_per_s", "train clips/s", "{:.0f}"),
    ("infer_clips_per_s", "infer clips/s", "{:.0f}"), ("train_seconds", "train s", "{:.1f}"),
    ("peak_memory_gib", "peak GiB", "{:.2f}"), ("test_acc", "test acc", "{:.1%}"),
    ("within_pair_acc", "within-pair", "{:.1%}"),
)


def _check_name(name) -> str:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"recorded_runs(name={name!r}): expected a plain record name such as 'gpu_video_models'")
    return name


def recorded_runs(name: str, *, directory=None) -> dict | None:
    """The record ``<directory>/<name>.json`` (default directory: the package's ``course/results``), or None if no
    run has been recorded yet. A record that is not valid JSON or has no ``runs`` list is a ``ValueError``."""
    path = Path(directory or RESULTS_DIR) / f"{_check_name(name)}.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"recorded_runs: {path} is not valid JSON ({err}); re-run the script that writes it") from err
    if not isinstance(record, dict) or not isinstance(record.get("runs"), list):
        raise ValueError(f"recorded_runs: {path} has no 'runs' list; re-run the script that writes it")
    return record


def save_record(record: dict, name: str, *, directory=None) -> Path:
    """Write ``record`` (a dict with a ``runs`` list) atomically to ``<directory>/<name>.json``; returns the path."""
    if not isinstance(record, dict) or not isinstance(record.get("runs"), list):
        raise ValueError("save_record(record): expected a dict with a 'runs' list")
    directory = Path(directory or RESULTS_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_check_name(name)}.json"
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def format_runs_table(record: dict, *, columns=RUN_COLUMNS) -> str:
    """A plain-text table of a record's runs, headed by the device, date and the command that produced them.

    ``columns``: (key in a run, header, format) triples, default :data:`RUN_COLUMNS`."""
    if not isinstance(record, dict) or not isinstance(record.get("runs"), list):
        raise ValueError("format_runs_table(record): expected a dict with a 'runs' list (see recorded_runs)")
    rows = [[fmt.format(run[key]) if run.get(key) is not None else "-" for key, _, fmt in columns]
            for run in record["runs"]]
    headers = [header for _, header, _ in columns]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = [f"device: {record.get('device', '?')} | torch {record.get('torch', '?')} | {record.get('date', '?')}",
             f"command: {record.get('command', '?')}", "",
             "  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)
