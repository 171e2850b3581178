"""``python -m course capstone check DIR``: the capstone rubric, checked by a machine where a machine can check it.

It reads what the template saved in ``DIR`` (:mod:`course.capstone.report`) and re-derives every number it can from
the saved predictions: the split is group-disjoint, the accuracy and its 95% Wilson interval match the predictions,
a baseline was measured on the same clips, latency and size were measured (the size is the ONNX file's), the ONNX
model loads with onnxruntime and reproduces the saved predictions on the saved input clips, the accuracy per group is
reported and matches, and the model card has its sections. It prints a points table with the reason for every lost
point and lists the lines a teacher judges.

Exit codes: 0 — no automatic line failed hard; 1 — a hard line failed (a leak, an accuracy that does not match its
predictions, a model that is missing or does not reproduce them); 2 — ``report.json`` is missing or malformed.
A bad file never gives a traceback: every problem is a sentence naming the file and the field.
"""
from __future__ import annotations

import argparse
import json
import numbers
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .groups import per_group_accuracy, shared_groups
from .report import FORMAT, MODEL_CARD_FILE, MODEL_CARD_SECTIONS, ONNX_FILE, PARITY_FILE, REPORT_FILE, VERSION

__all__ = ["RubricLine", "RubricResult", "ReportError", "check_report", "format_rubric", "HUMAN_LINES",
           "CPU_BUDGET_SECONDS", "add_arguments", "run"]

#: The compute budget of the brief: at most 30 minutes of training on 2 CPU cores.
CPU_BUDGET_SECONDS = 30 * 60
#: Tolerances: accuracies and interval ends as stored (JSON floats, maybe rounded to 4 digits); ONNX probabilities.
ACCURACY_TOLERANCE, PROBABILITY_TOLERANCE = 5e-4, 1e-3

#: The rubric's lines a person judges: (name, points, what to look for).
HUMAN_LINES = (
    ("Clarity of the analysis", 5,
     "the data card, split, baseline, curves and held-out result tell one story; every number in the text is printed "
     "by a cell; the errors are looked at, and the explanation maps (chapter 13) are read critically, not as proof"),
    ("Honesty of the model card", 3,
     "names the held-out set and its size and gives the interval, not only the point; says which numbers come from "
     "data that took part in choices; the limitations are specific to this model and data, not boilerplate"),
    ("Privacy, consent and provenance", 2,
     "who is in the footage and whether they agreed (KTH's actors, filmed on purpose for research, vs people in clips scraped from the web); the "
     "source and licence of every data set used; own clips: consent of everyone filmed, faces and places handled"),
    ("Fairness and where not to use it", 2,
     "the accuracy per group is read (which group is worst, by how much, is the gap within the noise of a few "
     "clips?); the places the model must not be used are concrete (people, cameras, decisions), not generic"),
)


class ReportError(ValueError):
    """``report.json`` is missing or malformed; the message names the file and the field."""


@dataclass
class RubricLine:
    """One automatic rubric line: ``points`` of ``max_points``, a reason for every lost point; ``hard``: a failure
    of this line makes the whole check fail (exit code 1)."""

    name: str
    max_points: int
    hard: bool = False
    points: int = 0
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def failed_hard(self) -> bool:
        return self.hard and self.points == 0


@dataclass
class RubricResult:
    """All lines of a check. ``problem``: why ``report.json`` could not be read (then ``lines`` is empty)."""

    directory: Path
    lines: list[RubricLine] = field(default_factory=list)
    problem: str | None = None

    @property
    def points(self) -> int:
        return sum(line.points for line in self.lines)

    @property
    def max_points(self) -> int:
        return sum(line.max_points for line in self.lines)

    @property
    def passed(self) -> bool:
        return self.problem is None and not any(line.failed_hard for line in self.lines)

    @property
    def exit_code(self) -> int:
        return 2 if self.problem is not None else (0 if self.passed else 1)

    def line(self, name_start: str) -> RubricLine:
        return next(line for line in self.lines if line.name.startswith(name_start))


# --------------------------------------------------------------------------------------------------------------------
# Reading report.json
# --------------------------------------------------------------------------------------------------------------------

def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(value))


def _get(report: dict, dotted: str):
    value = report
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ReportError(f"{REPORT_FILE}: missing '{dotted}'")
        value = value[part]
    return value


def _list_of(report: dict, dotted: str, test, what: str, *, allow_empty: bool = True) -> list:
    value = _get(report, dotted)
    if not isinstance(value, list):
        raise ReportError(f"{REPORT_FILE}: '{dotted}' must be a list of {what}, got {type(value).__name__}")
    bad = [v for v in value if not test(v)]
    if bad:
        raise ReportError(f"{REPORT_FILE}: '{dotted}' must be a list of {what}; found {bad[0]!r} "
                          f"({type(bad[0]).__name__})")
    if not value and not allow_empty:
        raise ReportError(f"{REPORT_FILE}: '{dotted}' is empty")
    return value


def read_report(directory) -> dict:
    """Load and validate ``directory/report.json`` -> the report. Raises :class:`ReportError` with a sentence naming
    the file and the field when it is missing, not JSON, or a required field is missing or of the wrong type."""
    path = Path(directory) / REPORT_FILE
    if not Path(directory).is_dir():
        raise ReportError(f"{directory}: no such folder (give the folder the capstone notebook saved its report in)")
    if not path.is_file():
        raise ReportError(f"{path}: not found (the template's last section writes it with course.capstone.write_report)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not a text file") from None
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    if not isinstance(report, dict):
        raise ReportError(f"{path}: expected a JSON object, got {type(report).__name__}")
    if report.get("format") != FORMAT or report.get("version") != VERSION:
        raise ReportError(f"{path}: expected \"format\": \"{FORMAT}\" and \"version\": {VERSION} (a report written by "
                          f"course.capstone.write_report), got {report.get('format')!r}, {report.get('version')!r}")
    classes = _list_of(report, "classes", lambda c: isinstance(c, str) and c, "class names")
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ReportError(f"{REPORT_FILE}: 'classes' must hold at least two distinct names, got {classes!r}")
    for side in ("train", "val", "heldout"):
        ids = _list_of(report, f"{side}.ids", lambda v: isinstance(v, str), "clip ids (strings)",
                       allow_empty=side == "val")
        groups = _list_of(report, f"{side}.groups", lambda v: isinstance(v, str), "group names (strings)",
                          allow_empty=side == "val")
        if len(ids) != len(groups):
            raise ReportError(f"{REPORT_FILE}: '{side}.ids' has {len(ids)} entries but '{side}.groups' {len(groups)}; "
                              "expected one group per clip")
    n = len(report["heldout"]["ids"])
    for key in ("y_true", "y_pred"):
        values = _list_of(report, f"heldout.{key}", _is_int, "ints (class indices)")
        if len(values) != n:
            raise ReportError(f"{REPORT_FILE}: 'heldout.{key}' has {len(values)} entries, expected one per held-out "
                              f"clip ({n})")
        out = [v for v in values if not 0 <= v < len(classes)]
        if out:
            raise ReportError(f"{REPORT_FILE}: 'heldout.{key}' holds {out[0]}, not a class index 0..{len(classes) - 1}")
    if "probs" in report["heldout"]:
        probs = report["heldout"]["probs"]
        if (not isinstance(probs, list) or len(probs) != n
                or not all(isinstance(r, list) and len(r) == len(classes) and all(map(_is_number, r)) for r in probs)):
            raise ReportError(f"{REPORT_FILE}: 'heldout.probs' must be {n} rows of {len(classes)} numbers")
    for key in ("value", "ci_low", "ci_high"):
        if not _is_number(_get(report, f"accuracy.{key}")):
            raise ReportError(f"{REPORT_FILE}: 'accuracy.{key}' must be a number, got {_get(report, f'accuracy.{key}')!r}")
    for key in ("correct", "n"):
        if not _is_int(_get(report, f"accuracy.{key}")):
            raise ReportError(f"{REPORT_FILE}: 'accuracy.{key}' must be an int, got {_get(report, f'accuracy.{key}')!r}")
    files = report.get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        raise ReportError(f"{REPORT_FILE}: 'files' must map names to file names (strings)")
    for key in ("baseline", "efficiency", "timings", "training", "per_group"):
        if key in report and not isinstance(report[key], dict):
            raise ReportError(f"{REPORT_FILE}: '{key}' must be an object, got {type(report[key]).__name__}")
    return report


def _file(directory: Path, report: dict, key: str, default: str) -> Path:
    name = report.get("files", {}).get(key, default)
    path = Path(name)
    return path if path.is_absolute() else directory / path


# --------------------------------------------------------------------------------------------------------------------
# The automatic lines
# --------------------------------------------------------------------------------------------------------------------

def _split_line(report: dict) -> RubricLine:
    line = RubricLine("split is group-disjoint (no leak)", 3, hard=True)
    train, val, held = report["train"], report["val"], report["heldout"]
    problems = []
    leaked = shared_groups(train["groups"] + val["groups"], held["groups"])
    if leaked:
        count = sum(g in set(leaked) for g in held["groups"])
        problems.append(f"groups {leaked} are in training/validation AND held out ({count} held-out clips): the "
                        "held-out accuracy measures recognising those groups, not the task")
    between = shared_groups(train["groups"], val["groups"])
    if between:
        problems.append(f"groups {between} are in both training and validation: choices made on validation "
                        "(epochs, settings) were made on groups the model trained on")
    repeated = shared_groups(train["ids"], val["ids"], held["ids"])
    if repeated:
        problems.append(f"clip ids {repeated[:5]} appear in more than one of train / val / held-out")
    duplicates = sorted({i for i in held["ids"] if held["ids"].count(i) > 1})
    if duplicates:
        problems.append(f"held-out clip ids {duplicates[:5]} are listed more than once")
    line.reasons += problems
    line.points = 0 if problems else 3
    if not problems:
        line.notes.append(f"{len(set(train['groups']))} training, {len(set(val['groups']))} validation and "
                          f"{len(set(held['groups']))} held-out groups, none shared")
    return line


def _accuracy_line(report: dict) -> RubricLine:
    from ..train.real_video import wilson_interval

    line = RubricLine("held-out accuracy and 95% interval match the predictions", 3, hard=True)
    held, acc = report["heldout"], report["accuracy"]
    n = len(held["y_true"])
    correct = sum(int(t == p) for t, p in zip(held["y_true"], held["y_pred"]))
    low, high = wilson_interval(correct, n)
    if acc["n"] != n or acc["correct"] != correct:
        line.reasons.append(f"reported {acc['correct']} correct of {acc['n']}, the saved predictions give {correct} of "
                            f"{n}")
    if abs(acc["value"] - correct / n) > ACCURACY_TOLERANCE:
        line.reasons.append(f"reported accuracy {acc['value']:.4f}, the saved predictions give {correct / n:.4f}")
    if acc.get("method", "wilson") != "wilson":
        line.reasons.append(f"interval method {acc.get('method')!r}: the rubric recomputes the 95% Wilson interval")
    elif abs(acc["ci_low"] - low) > ACCURACY_TOLERANCE or abs(acc["ci_high"] - high) > ACCURACY_TOLERANCE:
        line.reasons.append(f"reported 95% interval [{acc['ci_low']:.4f}, {acc['ci_high']:.4f}], the Wilson interval "
                            f"of {correct}/{n} is [{low:.4f}, {high:.4f}]")
    line.points = 0 if line.reasons else 3
    line.notes.append(f"recomputed: {correct}/{n} = {correct / n:.1%}, 95% Wilson interval [{low:.1%}, {high:.1%}]")
    return line


def _baseline_line(report: dict) -> RubricLine:
    line = RubricLine("single-frame baseline on the same held-out clips", 2)
    base = report.get("baseline")
    n = len(report["heldout"]["y_true"])
    if not base:
        line.reasons.append("no 'baseline': without it nobody can tell what the video model adds over one frame")
        return line
    if not (_is_number(base.get("accuracy")) and 0 <= base["accuracy"] <= 1 and _is_int(base.get("n"))):
        line.reasons.append("'baseline' needs 'accuracy' (a number in [0, 1]) and 'n' (an int)")
        return line
    line.points = 2
    if base["n"] != n:
        line.points = 1
        line.reasons.append(f"baseline measured on {base['n']} clips, the held-out set has {n}: not the same clips")
    preds = base.get("y_pred")
    if preds is not None:
        if not (isinstance(preds, list) and len(preds) == n and all(map(_is_int, preds))):
            line.points = 0
            line.reasons.append(f"'baseline.y_pred' must hold {n} ints, one per held-out clip")
        else:
            recomputed = float(np.mean(np.asarray(preds) == np.asarray(report["heldout"]["y_true"])))
            if abs(recomputed - base["accuracy"]) > ACCURACY_TOLERANCE:
                line.points = 0
                line.reasons.append(f"baseline accuracy {base['accuracy']:.4f} but its predictions give "
                                    f"{recomputed:.4f}")
    line.notes.append(f"{base.get('name', 'baseline')}: {base['accuracy']:.1%} vs the model's "
                      f"{report['accuracy']['value']:.1%}")
    return line


def _efficiency_line(report: dict, directory: Path) -> RubricLine:
    line = RubricLine("efficiency measured (parameters, latency, size of the exported model)", 2)
    eff = report.get("efficiency") or {}
    if _is_int(eff.get("params")) and eff["params"] > 0 and _is_number(eff.get("latency_ms")) and eff["latency_ms"] > 0:
        line.points += 1
        line.notes.append(f"{eff['params']:,} parameters, {eff['latency_ms']:.2f} ms per video clip batch "
                          f"({eff.get('threads', '?')} thread(s))")
    else:
        line.reasons.append("'efficiency' needs 'params' (an int > 0) and 'latency_ms' (a number > 0)")
    onnx = _file(directory, report, "onnx", ONNX_FILE)
    size = eff.get("size_bytes")
    if not _is_int(size):
        line.reasons.append("'efficiency.size_bytes' (an int: the exported model's size on disk) is missing")
    elif not onnx.is_file():
        line.reasons.append(f"size cannot be verified: {onnx.name} is missing")
    elif size != onnx.stat().st_size:
        line.reasons.append(f"reported size {size:,} bytes, {onnx.name} has {onnx.stat().st_size:,}")
    else:
        line.points += 1
        line.notes.append(f"{onnx.name}: {size / 1e6:.2f} MB")
    return line


def _onnx_line(report: dict, directory: Path) -> RubricLine:
    from ..deploy.predict import PredictError, load_model

    line = RubricLine("ONNX model loads and reproduces the saved predictions", 3, hard=True)
    onnx = _file(directory, report, "onnx", ONNX_FILE)
    parity = _file(directory, report, "parity", PARITY_FILE)
    try:
        model = load_model(onnx, threads=1)
    except PredictError as err:
        line.reasons.append(str(err))
        return line
    if tuple(model.spec.classes) != tuple(report["classes"]):
        line.reasons.append(f"the model's classes {list(model.spec.classes)} differ from the report's "
                            f"{report['classes']}")
        return line
    if not parity.is_file():
        line.reasons.append(f"{parity.name} is missing: save a few held-out videos' input clips with "
                            "course.capstone.save_parity_inputs")
        return line
    try:
        with np.load(parity, allow_pickle=False) as saved:
            ids, inputs = [str(i) for i in saved["ids"]], saved["inputs"]
    except (OSError, ValueError, KeyError) as err:
        line.reasons.append(f"{parity.name}: not readable as saved by save_parity_inputs ({type(err).__name__})")
        return line
    if inputs.ndim != 6 or tuple(inputs.shape[2:]) != tuple(model.spec.input_shape) or len(ids) != len(inputs):
        line.reasons.append(f"{parity.name}: inputs of shape {inputs.shape}, expected (videos, clips, "
                            f"*{model.spec.input_shape}) with one id per video")
        return line
    held = report["heldout"]
    where = {clip: i for i, clip in enumerate(held["ids"])}
    unknown = [i for i in ids if i not in where]
    if unknown:
        line.reasons.append(f"{parity.name}: ids {unknown[:3]} are not held-out clips of the report")
        return line
    worst, wrong = 0.0, []
    for clip, x in zip(ids, inputs):
        try:
            probs = model.probabilities(x).mean(axis=0)
        except Exception as err:  # noqa: BLE001 — onnxruntime raises its own types for an input it cannot run
            line.reasons.append(f"onnxruntime could not run {clip}: {str(err).splitlines()[0][:120]}")
            return line
        if int(probs.argmax()) != held["y_pred"][where[clip]]:
            wrong.append(clip)
        if "probs" in held:
            worst = max(worst, float(np.abs(probs - np.asarray(held["probs"][where[clip]])).max()))
    if wrong:
        line.reasons.append(f"the ONNX model predicts differently from the report on {len(wrong)} of {len(ids)} "
                            f"saved videos ({wrong[:3]}): the report does not come from this model")
    if worst > PROBABILITY_TOLERANCE:
        line.reasons.append(f"probabilities differ from the report's by up to {worst:.2e} (> {PROBABILITY_TOLERANCE})")
    if line.reasons:
        return line
    line.points = 3
    line.notes.append(f"{len(ids)} saved videos reproduced (max |probability difference| {worst:.1e})")
    if len(ids) < 3:
        line.points = 2
        line.reasons.append(f"only {len(ids)} video(s) in {parity.name}: save at least 3")
    return line


def _per_group_line(report: dict) -> RubricLine:
    line = RubricLine("accuracy per group reported beside the overall number", 2)
    held = report["heldout"]
    recomputed = per_group_accuracy(held["y_true"], held["y_pred"], held["groups"])
    reported = report.get("per_group")
    if not reported:
        line.reasons.append("no 'per_group': a good overall number can hide a group the model fails")
        return line
    differ = [g for g in recomputed if not (isinstance(reported.get(g), dict)
                                           and reported[g].get("n") == recomputed[g]["n"]
                                           and reported[g].get("correct") == recomputed[g]["correct"])]
    extra = sorted(set(reported) - set(recomputed))
    if differ or extra:
        line.reasons.append(f"per-group numbers differ from the predictions for groups {(differ + extra)[:5]}")
        return line
    line.points = 2
    if len(recomputed) < 2:
        line.points = 1
        line.reasons.append("the held-out set has one group only: nothing to compare")
    worst = min(recomputed, key=lambda g: recomputed[g]["accuracy"])
    line.notes.append(f"{len(recomputed)} groups; lowest: {worst} {recomputed[worst]['correct']}/"
                      f"{recomputed[worst]['n']}")
    return line


def _budget_line(report: dict) -> RubricLine:
    line = RubricLine("training time and curves recorded, within the compute budget", 1)
    timings, training = report.get("timings") or {}, report.get("training") or {}
    seconds = timings.get("train_seconds")
    losses = training.get("train_loss")
    if not (_is_number(seconds) and seconds >= 0):
        line.reasons.append("'timings.train_seconds' (a number) is missing")
    if not (isinstance(losses, list) and losses and all(map(_is_number, losses))):
        line.reasons.append("'training.train_loss' (the training loss per epoch) is missing")
    gpu = "cuda" in str(timings.get("device", "")).lower() or "gpu" in str(timings.get("device", "")).lower()
    if _is_number(seconds) and seconds > CPU_BUDGET_SECONDS and not gpu:
        line.reasons.append(f"{seconds:.0f} s of training on {timings.get('device', 'an unnamed device')}: over the "
                            f"CPU budget of {CPU_BUDGET_SECONDS} s")
    if not line.reasons:
        line.points = 1
        line.notes.append(f"{seconds:.0f} s of training on {timings.get('device', '?')}")
    return line


def _model_card_line(report: dict, directory: Path) -> RubricLine:
    line = RubricLine("model card with the required sections", 3)
    path = _file(directory, report, "model_card", MODEL_CARD_FILE)
    if not path.is_file():
        line.reasons.append(f"{path.name} is missing (write it with course.capstone.write_model_card)")
        return line
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        line.reasons.append(f"{path.name} is not a text file")
        return line
    line.points = 1
    sections: dict[str, str] = {}
    for block in re.split(r"^##\s+", text, flags=re.MULTILINE)[1:]:
        heading, _, body = block.partition("\n")
        sections[heading.strip().lower()] = body

    def words(name):
        body = next((b for h, b in sections.items() if h.startswith(name.lower())), None)
        return None if body is None else len(re.findall(r"[A-Za-z]{2,}", body))

    thin = [s for s in MODEL_CARD_SECTIONS if (words(s) or 0) < 10]
    if thin:
        line.reasons.append(f"sections missing or under 10 words: {thin}")
    else:
        line.points += 1
    where_not = words("Where the model should not be used") or 0
    if where_not < 20:
        line.reasons.append(f"'Where the model should not be used' has {where_not} words: say concretely where "
                            "(which people, cameras, decisions) it must not be used")
    else:
        line.points += 1
    return line


def check_report(directory) -> RubricResult:
    """Run every automatic rubric line on the report in ``directory`` -> :class:`RubricResult` (never raises for a
    bad report: a malformed or missing ``report.json`` gives a result with ``problem`` set)."""
    directory = Path(directory)
    result = RubricResult(directory)
    try:
        report = read_report(directory)
    except ReportError as err:
        result.problem = str(err)
        return result
    result.lines = [_split_line(report), _accuracy_line(report), _baseline_line(report),
                    _efficiency_line(report, directory), _onnx_line(report, directory), _per_group_line(report),
                    _budget_line(report), _model_card_line(report, directory)]
    return result


def format_rubric(result: RubricResult) -> str:
    """The points table: one row per automatic line, the reason for every lost point, then the verdict and the lines
    a teacher judges with what to look for."""
    lines = [f"capstone check of {result.directory}"]
    if result.problem is not None:
        lines += [f"REPORT NOT READABLE: {result.problem}", "nothing was scored (exit code 2)"]
        return "\n".join(lines)
    width = max(len(line.name) for line in result.lines) + 2
    lines.append(f"{'rubric line (checked automatically)':{width}s}points  hard")
    for line in result.lines:
        mark = "FAIL" if line.failed_hard else ("yes" if line.hard else "")
        lines.append(f"{line.name:{width}s}{line.points:>2d} / {line.max_points}  {mark}")
        lines += [f"    lost: {reason}" for reason in line.reasons]
        lines += [f"    {note}" for note in line.notes]
    lines.append(f"{'automatic total':{width}s}{result.points:>2d} / {result.max_points}")
    failed = [line.name for line in result.lines if line.failed_hard]
    lines.append(f"RESULT: FAILED — {'; '.join(failed)}" if failed else "RESULT: passed (no automatic line failed hard)")
    human = sum(points for _, points, _ in HUMAN_LINES)
    lines.append(f"\njudged by the teacher ({human} points), not by this check:")
    lines += [f"  - {name} ({points}): {what}" for name, points, what in HUMAN_LINES]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``capstone`` subcommand's arguments: ``check DIR``."""
    sub = parser.add_subparsers(dest="capstone_command", required=True)
    check = sub.add_parser("check", help="score a capstone report folder against the rubric")
    check.add_argument("directory", type=Path, help="the folder holding report.json, the ONNX model and the model card")


def run(args: argparse.Namespace, out=None) -> int:
    """Print the rubric for ``args.directory``; returns :attr:`RubricResult.exit_code`."""
    out = out or sys.stdout
    result = check_report(args.directory)
    print(format_rubric(result), file=out)
    return result.exit_code
