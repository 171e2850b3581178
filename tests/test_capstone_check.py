"""The capstone rubric (``python -m course capstone check DIR``) on reports built here from tiny data: a good report
passes; a leaky one, one whose accuracy does not match its predictions, malformed ones, a missing ONNX model and a
model that does not reproduce the predictions are each rejected with a reason that names the problem."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from course.capstone import (MODEL_CARD_SECTIONS, build_report, check_report, format_rubric,
                             group_bootstrap_interval, per_group_accuracy, read_group_file, save_parity_inputs,
                             shared_groups, split_by_groups, write_model_card, write_report)
from course.deploy import ClipSpec

SPEC = ClipSpec(("walking", "running"), clip_len=4, step=1, sampling="spread", num_clips=2, crop=(8, 8))
HELD_GROUPS = ["p6", "p6", "p7", "p7", "p8", "p8"]


def _model(seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv3d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                         nn.Linear(4, 2)).eval()


def _probs(model, clips: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        return torch.softmax(model(torch.from_numpy(clips)), dim=1).mean(0).numpy()


def _card_text(words: int = 25) -> str:
    return " ".join(["walking and running of adult actors filmed indoors and outdoors"] * (words // 10 + 1))


@pytest.fixture(scope="module")
def good_dir(tmp_path_factory):
    """A complete, honest report folder: predictions made by the exported model itself."""
    from course.efficiency import export_onnx

    directory = tmp_path_factory.mktemp("good")
    model = _model(0)
    export_onnx(model, SPEC, directory / "model.onnx")
    rng = np.random.default_rng(0)
    videos = [rng.integers(0, 256, size=(6, 8, 8, 3), dtype=np.uint8) for _ in HELD_GROUPS]
    clips = [SPEC.clips(v) for v in videos]
    probs = np.stack([_probs(model, c) for c in clips])
    y_pred = probs.argmax(1).tolist()
    y_true = list(y_pred)
    y_true[0] = 1 - y_true[0]                                   # one mistake, in group p6
    ids = [f"{'walking' if t == 0 else 'running'}/clip{i}.avi" for i, t in enumerate(y_true)]
    report = build_report(
        title="tiny", track="kth", classes=list(SPEC.classes),
        train={"ids": [f"walking/t{i}.avi" for i in range(8)], "groups": ["p1", "p2", "p3", "p4"] * 2},
        val={"ids": ["walking/v0.avi", "running/v1.avi"], "groups": ["p5", "p5"]},
        heldout={"ids": ids, "groups": HELD_GROUPS, "y_true": y_true, "y_pred": y_pred, "probs": probs.tolist()},
        baseline={"name": "single frame", "accuracy": 0.5, "n": len(ids)},
        efficiency={"params": sum(p.numel() for p in model.parameters()), "latency_ms": 0.3, "threads": 1,
                    "size_bytes": (directory / "model.onnx").stat().st_size},
        timings={"train_seconds": 12.0, "device": "cpu"}, training={"train_loss": [0.7, 0.5], "val_curve": [0.5, 1.0]})
    write_report(directory, report)
    save_parity_inputs(directory, ids[:3], clips[:3])
    write_model_card(directory, "tiny", {name: _card_text() for name in MODEL_CARD_SECTIONS})
    return directory


def _variant(good_dir, tmp_path, edit=None):
    directory = tmp_path / "variant"
    shutil.copytree(good_dir, directory)
    if edit is not None:
        report = json.loads((directory / "report.json").read_text())
        edit(report)
        (directory / "report.json").write_text(json.dumps(report))
    return directory


def test_a_good_report_passes_with_every_point(good_dir):
    result = check_report(good_dir)
    text = format_rubric(result)
    assert result.passed and result.exit_code == 0, text
    assert result.points == result.max_points, text
    assert "lost:" not in text
    assert "5/6 = 83.3%" in text                                 # recomputed from the saved predictions
    for name, _, _ in __import__("course.capstone.check", fromlist=["HUMAN_LINES"]).HUMAN_LINES:
        assert name in text                                      # the teacher's lines are listed


def test_a_leaky_report_fails_hard_and_names_the_group(good_dir, tmp_path):
    def leak(report):
        report["train"]["groups"][0] = "p7"                      # person p7 is also held out
    result = check_report(_variant(good_dir, tmp_path, leak))
    line = result.line("split is group-disjoint")
    assert line.failed_hard and not result.passed and result.exit_code == 1
    assert "'p7'" in line.reasons[0] and "2 held-out clips" in line.reasons[0]
    assert "RESULT: FAILED" in format_rubric(result)


def test_a_group_in_training_and_validation_fails_hard(good_dir, tmp_path):
    def leak(report):
        report["val"]["groups"][0] = "p1"
    line = check_report(_variant(good_dir, tmp_path, leak)).line("split is group-disjoint")
    assert line.failed_hard and "training and validation" in line.reasons[0]


def test_a_clip_listed_on_two_sides_fails_hard(good_dir, tmp_path):
    def leak(report):
        report["val"]["ids"][0] = report["heldout"]["ids"][0]
    line = check_report(_variant(good_dir, tmp_path, leak)).line("split is group-disjoint")
    assert line.failed_hard and "clip ids" in " ".join(line.reasons)


@pytest.mark.parametrize("field, value, words", [("value", 1.0, "reported accuracy 1.0000"),
                                                  ("correct", 6, "reported 6 correct of 6"),
                                                  ("ci_low", 0.6, "Wilson interval of 5/6")])
def test_an_accuracy_that_does_not_match_the_predictions_fails_hard(good_dir, tmp_path, field, value, words):
    def inflate(report):
        report["accuracy"][field] = value
    result = check_report(_variant(good_dir, tmp_path, inflate))
    line = result.line("held-out accuracy")
    assert line.failed_hard and result.exit_code == 1
    assert words in " ".join(line.reasons)


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"format": "something else"}), "course-capstone-report"),
])
def test_an_unreadable_report_gives_a_message_and_exit_code_2(good_dir, tmp_path, content, words):
    directory = _variant(good_dir, tmp_path)
    (directory / "report.json").write_text(content)
    result = check_report(directory)
    assert result.exit_code == 2 and words in result.problem
    assert "REPORT NOT READABLE" in format_rubric(result)


@pytest.mark.parametrize("edit, words", [
    (lambda r: r["heldout"].pop("y_pred"), "missing 'heldout.y_pred'"),
    (lambda r: r.pop("classes"), "missing 'classes'"),
    (lambda r: r["heldout"].__setitem__("y_true", "0101"), "'heldout.y_true' must be a list"),
    (lambda r: r["heldout"]["y_pred"].__setitem__(0, 7), "not a class index"),
    (lambda r: r["heldout"]["y_pred"].__setitem__(0, 0.5), "ints (class indices)"),
    (lambda r: r["heldout"]["groups"].pop(), "one group per clip"),
    (lambda r: r["accuracy"].__setitem__("value", "high"), "'accuracy.value' must be a number"),
    (lambda r: r["train"].__setitem__("groups", 3), "'train.groups' must be a list"),
    (lambda r: r.__setitem__("efficiency", []), "'efficiency' must be an object"),
    (lambda r: r["heldout"]["probs"].pop(), "'heldout.probs' must be"),
])
def test_missing_keys_and_wrong_types_are_named(good_dir, tmp_path, edit, words):
    result = check_report(_variant(good_dir, tmp_path, edit))
    assert result.exit_code == 2 and words in result.problem, result.problem


def test_a_missing_folder_or_report_is_named(tmp_path):
    assert "no such folder" in check_report(tmp_path / "nowhere").problem
    assert "report.json: not found" in check_report(tmp_path).problem


def test_a_missing_onnx_model_fails_hard(good_dir, tmp_path):
    directory = _variant(good_dir, tmp_path)
    (directory / "model.onnx").unlink()
    result = check_report(directory)
    line = result.line("ONNX model")
    assert line.failed_hard and "model file not found" in line.reasons[0] and result.exit_code == 1
    assert "model.onnx is missing" in " ".join(result.line("efficiency").reasons)


def test_a_file_that_is_not_an_onnx_model_fails_hard(good_dir, tmp_path):
    directory = _variant(good_dir, tmp_path)
    (directory / "model.onnx").write_bytes(b"not a model")
    line = check_report(directory).line("ONNX model")
    assert line.failed_hard and "not an ONNX model" in line.reasons[0]


def test_a_model_that_does_not_reproduce_the_predictions_fails_hard(good_dir, tmp_path):
    from course.efficiency import export_onnx

    directory = _variant(good_dir, tmp_path)
    export_onnx(_model(1), SPEC, directory / "model.onnx")      # other weights than the ones that predicted
    result = check_report(directory)
    line = result.line("ONNX model")
    assert line.failed_hard and result.exit_code == 1
    assert "probabilities differ" in " ".join(line.reasons) or "predicts differently" in " ".join(line.reasons)


def test_a_missing_parity_file_fails_the_onnx_line(good_dir, tmp_path):
    directory = _variant(good_dir, tmp_path)
    (directory / "parity_inputs.npz").unlink()
    line = check_report(directory).line("ONNX model")
    assert line.failed_hard and "parity_inputs.npz is missing" in line.reasons[0]


def test_soft_lines_lose_points_with_reasons(good_dir, tmp_path):
    def strip(report):
        del report["baseline"]
        report["per_group"]["p6"]["correct"] = 2
        report["efficiency"]["size_bytes"] += 1
        report["timings"]["train_seconds"] = 4000.0
    directory = _variant(good_dir, tmp_path, strip)
    card = (directory / "model_card.md").read_text().replace("## Where the model should not be used", "## Notes")
    (directory / "model_card.md").write_text(card)
    result = check_report(directory)
    assert result.passed, "soft lines lose points, they do not fail the check"
    reasons = {line.name.split()[0]: " ".join(line.reasons) for line in result.lines}
    assert "no 'baseline'" in reasons["single-frame"]
    assert "groups ['p6']" in reasons["accuracy"]
    assert "reported size" in reasons["efficiency"]
    assert "over the CPU budget" in reasons["training"]
    assert "Where the model should not be used" in reasons["model"]
    assert result.points == result.max_points - 2 - 2 - 1 - 1 - 2


def test_the_command_line_prints_reasons_never_a_traceback(good_dir, tmp_path):
    def run(directory):
        return subprocess.run([sys.executable, "-m", "course", "capstone", "check", str(directory)],
                              capture_output=True, text=True, timeout=120)
    good = run(good_dir)
    assert good.returncode == 0 and "RESULT: passed" in good.stdout, good.stdout + good.stderr
    leaky = _variant(good_dir, tmp_path, lambda r: r["train"]["groups"].__setitem__(0, "p8"))
    out = run(leaky)
    assert out.returncode == 1 and "groups ['p8']" in out.stdout
    (leaky / "report.json").write_text('{"format": "course-capstone-report", "version": 1, "classes": ')
    out = run(leaky)
    assert out.returncode == 2 and "not valid JSON" in out.stdout
    for text in (good.stdout + good.stderr, out.stdout + out.stderr):
        assert "Traceback" not in text


# ------------------------------------------------------------------------------------------------------------------
# The pieces: groups, the writers
# ------------------------------------------------------------------------------------------------------------------

def test_split_by_groups_keeps_every_group_on_one_side():
    groups = [1, 1, 2, 3, 3, 3, "4"]
    kept, out = split_by_groups(groups, [3, 4])
    assert kept == [0, 1, 2] and out == [3, 4, 5, 6]
    assert shared_groups([groups[i] for i in kept], [groups[i] for i in out]) == []
    with pytest.raises(ValueError, match="groups \\['9'\\] have no clip"):
        split_by_groups(groups, [9])
    with pytest.raises(ValueError, match="empty"):
        split_by_groups(groups, [1, 2, 3, 4])
    with pytest.raises(TypeError, match="split_by_groups\\(groups\\)"):
        split_by_groups("abc", ["a"])


def test_per_group_accuracy_and_its_errors():
    table = per_group_accuracy([0, 1, 1, 0], [0, 1, 0, 0], ["a", "a", "b", "b"])
    assert table == {"a": {"n": 2, "correct": 2, "accuracy": 1.0}, "b": {"n": 2, "correct": 1, "accuracy": 0.5}}
    with pytest.raises(ValueError, match="equal, non-zero length"):
        per_group_accuracy([0, 1], [0], ["a", "b"])
    with pytest.raises(ValueError, match="per_group_accuracy\\(y_pred\\)"):
        per_group_accuracy([0, 1], [0.5, 1.0], ["a", "b"])


def test_group_bootstrap_is_wider_when_errors_sit_in_one_group():
    from course.train.real_video import wilson_interval

    y_true = [0] * 40
    spread = [1 if i % 5 == 0 else 0 for i in range(40)]        # 8 errors, spread over the 8 groups
    clustered = [1] * 8 + [0] * 32                               # the same 8 errors, all in group 0
    groups = [i // 5 for i in range(40)]
    low_s, high_s = group_bootstrap_interval(y_true, spread, groups)
    low_c, high_c = group_bootstrap_interval(y_true, clustered, groups)
    assert low_s == high_s == 0.8                                # every group is 4/5: no spread between groups
    assert high_c - low_c > np.subtract(*wilson_interval(32, 40)[::-1])   # wider than the Wilson interval
    with pytest.raises(ValueError, match="draws"):
        group_bootstrap_interval(y_true, spread, groups, draws=10)


def test_read_group_file(tmp_path):
    (tmp_path / "wave").mkdir()
    (tmp_path / "wave" / "a.mp4").write_bytes(b"")
    good = tmp_path / "groups.csv"
    good.write_text("path,group\nwave/a.mp4,alice\n\n# a comment\n")
    assert read_group_file(good, tmp_path) == {"wave/a.mp4": "alice"}
    for text, words in (("wave/a.mp4\n", "line 1"), ("wave/a.mp4,x\nwave/a.mp4,y\n", "listed twice"),
                        ("wave/b.mp4,x\n", "no video 'wave/b.mp4'"), ("", "lists no clip")):
        good.write_text(text)
        with pytest.raises(ValueError, match=words):
            read_group_file(good, tmp_path)
    with pytest.raises(FileNotFoundError):
        read_group_file(tmp_path / "none.csv")


def test_writers_refuse_incomplete_input(tmp_path):
    with pytest.raises(ValueError, match="Where the model should not be used"):
        write_model_card(tmp_path, "t", {name: "text" for name in MODEL_CARD_SECTIONS[:2]})
    with pytest.raises(ValueError, match="one y_true and one y_pred per clip id"):
        build_report(title="t", track="kth", classes=["a", "b"], train={"ids": ["x"], "groups": ["g"]},
                     val={"ids": [], "groups": []}, heldout={"ids": ["y"], "groups": ["h"], "y_true": [0], "y_pred": []},
                     baseline={}, efficiency={}, timings={})
    with pytest.raises(ValueError, match="one group per clip"):
        build_report(title="t", track="kth", classes=["a", "b"], train={"ids": ["x"], "groups": []},
                     val={"ids": [], "groups": []}, heldout={"ids": ["y"], "groups": ["h"], "y_true": [0], "y_pred": [0]},
                     baseline={}, efficiency={}, timings={})
    with pytest.raises(ValueError, match="build_report"):
        write_report(tmp_path, {"title": "not a report"})
    with pytest.raises(ValueError, match="one clip batch per id"):
        save_parity_inputs(tmp_path, ["a", "b"], [np.zeros((1, 3, 4, 8, 8))])


def test_split_by_group_lists_refuses_a_group_on_two_sides(tmp_path):
    from course.capstone.project import split_by_group_lists
    from course.train.real_video import kth_person

    items = [(tmp_path / f"walking/person{p:02d}_walking_d1_uncomp.avi", 0) for p in (1, 2, 3)]
    items += [(tmp_path / f"running/person{p:02d}_running_d1_uncomp.avi", 1) for p in (1, 2, 3)]
    split = split_by_group_lists(items, kth_person, ["walking", "running"], train=[1], val=[2], heldout=[3])
    assert [kth_person(p) for p, _ in split.test] == [3, 3] and len(split.train) == 2
    with pytest.raises(ValueError, match="more than one part"):
        split_by_group_lists(items, kth_person, ["walking", "running"], train=[1, 3], val=[2], heldout=[3])
    with pytest.raises(ValueError, match="split_by_group_lists\\(val\\)"):
        split_by_group_lists(items, kth_person, ["walking", "running"], train=[1], val=[9], heldout=[3])


def test_project_helpers_reject_bad_input(tmp_path):
    from course.capstone.project import (data_card, frame_baseline, heldout_clip, recipe_spec, track_videos)
    from course.train.real_video import RecipeConfig

    with pytest.raises(ValueError, match="track_videos\\(track\\)"):
        track_videos("youtube", tmp_path)
    with pytest.raises(FileNotFoundError, match="track_videos\\(root\\)"):
        track_videos("kth", tmp_path / "none")
    with pytest.raises(ValueError, match="group file"):
        track_videos("own", tmp_path)
    with pytest.raises(TypeError, match="data_card\\(split\\)"):
        data_card([], str)
    with pytest.raises(ValueError, match="missing \\['test'\\]"):
        frame_baseline({"train": [], "val": []}, {"train": [], "val": []}, 2, RecipeConfig())
    with pytest.raises(TypeError, match="frame_baseline\\(config\\)"):
        frame_baseline({k: [] for k in ("train", "val", "test")}, {k: [] for k in ("train", "val", "test")}, 2, {})
    with pytest.raises(TypeError, match="recipe_spec\\(config\\)"):
        recipe_spec({}, ["a", "b"])
    video = torch.zeros(40, 48, 64, 3, dtype=torch.uint8)
    with pytest.raises(ValueError, match="heldout_clip\\(index\\)"):
        heldout_clip([video], [0], RecipeConfig(), 1)
    clip, label = heldout_clip([video], [1], RecipeConfig(), 0)
    assert tuple(clip.shape) == (3, 16, 40, 56) and label == 1


def test_recipe_spec_makes_the_clips_the_recipe_evaluates():
    """The exported model's clip spec gives the recipe's own evaluation clips, so parity inputs match the report."""
    from course.capstone.project import heldout_clip, parity_inputs, recipe_spec
    from course.train.real_video import RecipeConfig

    config = RecipeConfig()
    video = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (60, 48, 64, 3), dtype=np.uint8))
    ours = parity_inputs([video], recipe_spec(config, ["running", "walking"]))[0]
    clip, _ = heldout_clip([video], [0], config, 0)
    assert ours.shape == (config.eval_clips, 3, 16, 40, 56)
    assert np.abs(ours[0] - clip.numpy()).max() < 1e-5
