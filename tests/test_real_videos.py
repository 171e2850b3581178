"""Chapter 14: motion energy, motion-guided sampling, the real-video recipe, its command, the upload widget."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from course.data.motion import (active_clip_fraction, clip_motion, motion_clip_indices, motion_energy,
                                spread_clip_indices)
from course.data.shape_videos import shape_video_frames, write_shape_videos
from course.train.real_video import (RecipeConfig, VideoClips, VideoSplit, clip_level_split, compare_samplings,
                                     find_kth_videos, format_report, format_sampling_table, kth_person,
                                     leak_comparison, record_result, run_recipe, wilson_interval)

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(decode_size=(32, 32), crop=(32, 32), step=1, epochs=2, train_clips=2, eval_clips=2, batch_size=8)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))


def _square_video(num_frames=30, active=(10, 20), size=16):
    """A 2x2 white square moving right 1 px/frame during frames active[0]..active[1], still otherwise."""
    frames = np.zeros((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        x = min(max(t, active[0]), active[1]) - active[0]
        frames[t, 6:8, x:x + 2] = 255
    return frames


# ---------------------------------------------------------------------------------------------------------------------
# motion energy and motion-guided sampling
# ---------------------------------------------------------------------------------------------------------------------

def test_motion_energy_of_a_known_moving_square():
    frames = _square_video()
    energy = motion_energy(frames)
    assert energy.shape == (29,)
    # while moving, one column of 2 pixels appears and one disappears: 4 pixels of 256 change by 1.0
    np.testing.assert_allclose(energy[10:20], 4 / 256)
    assert np.all(energy[:10] == 0) and np.all(energy[20:] == 0)
    np.testing.assert_allclose(motion_energy(torch.from_numpy(frames[..., 0])), energy)  # greyscale, tensor
    np.testing.assert_allclose(motion_energy(frames.astype(np.float32) / 255), energy, rtol=1e-6)


def test_clip_motion_and_active_fraction():
    energy = motion_energy(_square_video())
    scores = clip_motion(energy, 4)
    assert scores.shape == (27,)
    assert scores.argmax() == 10  # the first clip entirely inside the motion
    # clips of 4 frames cover 3 energy values; fully active from start 10 to 17, partly from 8 to 19
    assert active_clip_fraction(energy, 4, threshold=4 / 256 - 1e-9) == pytest.approx(8 / 27)
    assert active_clip_fraction(energy, 4, threshold=1e-9) == pytest.approx(12 / 27)
    assert clip_motion(energy, 64).shape == (1,)  # a video shorter than a clip: one position


def test_motion_clip_indices_finds_the_motion():
    energy = motion_energy(_square_video(num_frames=60, active=(30, 45)))
    top = motion_clip_indices(energy, 8, num_clips=2)
    assert top.shape == (2, 8) and top.dtype == np.int64
    assert all(30 <= clip[0] and clip[-1] <= 45 for clip in top)
    assert abs(int(top[1, 0]) - int(top[0, 0])) >= 4  # at most half a clip of overlap
    draws = motion_clip_indices(energy, 8, random=True, num_clips=200, generator=torch.Generator().manual_seed(0))
    inside = np.mean([(c[0] >= 23) & (c[-1] <= 52) for c in draws])
    assert inside > 0.95  # the naive sampler would land there about 21 / 53 of the time
    uniform = motion_clip_indices(energy, 8, random=True, num_clips=400, power=0,
                                  generator=torch.Generator().manual_seed(0))
    assert np.mean([(c[0] >= 23) & (c[-1] <= 52) for c in uniform]) < 0.7
    assert spread_clip_indices(100, 16, num_clips=3)[:, 0].tolist() == [0, 42, 84]
    assert motion_clip_indices(np.ones(5), 16).shape == (1, 16)  # short video loops


@pytest.mark.parametrize("call, match", [
    (lambda: motion_energy(np.zeros((1, 4, 4, 3), np.uint8)), "T >= 2"),
    (lambda: motion_energy([1, 2, 3]), "expected a tensor or array"),
    (lambda: motion_energy(np.zeros((3, 4, 4, 3), np.int32)), "uint8 or float"),
    (lambda: clip_motion(np.zeros((2, 2)), 4), "1-D array"),
    (lambda: clip_motion(np.array([np.nan]), 4), "finite"),
    (lambda: clip_motion(np.ones(5), 0), "clip_len"),
    (lambda: active_clip_fraction(np.ones(5), 2, threshold="x"), "threshold"),
    (lambda: motion_clip_indices(np.ones(5), 2, power=-1), "power"),
    (lambda: motion_clip_indices(np.ones(5), 2, random=1), "random"),
    (lambda: spread_clip_indices(0, 4), "num_frames"),
])
def test_motion_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ---------------------------------------------------------------------------------------------------------------------
# Wilson interval
# ---------------------------------------------------------------------------------------------------------------------

def test_wilson_interval_known_values():
    # values from the closed form (statsmodels' proportion_confint(method="wilson") agrees)
    assert wilson_interval(8, 10) == pytest.approx((0.4901625, 0.9433178), abs=1e-6)
    assert wilson_interval(20, 20) == pytest.approx((0.8388748, 1.0), abs=1e-6)
    assert wilson_interval(0, 5) == pytest.approx((0.0, 0.4344825), abs=1e-6)
    low, high = wilson_interval(500, 1000)
    assert low == pytest.approx(0.5 - 1.96 * np.sqrt(0.25 / 1000), abs=1e-3) and high == pytest.approx(1 - low)
    assert wilson_interval(8, 10, confidence=0.99)[0] < 0.4901625


@pytest.mark.parametrize("args, kwargs, match", [
    ((1, 0), {}, "n"), ((3, 2), {}, "successes"), ((-1, 2), {}, "successes"), ((1.5, 2), {}, "successes"),
    ((1, 2), {"confidence": 1.0}, "confidence"), ((True, 2), {}, "successes"),
])
def test_wilson_interval_bad_input(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        wilson_interval(*args, **kwargs)


# ---------------------------------------------------------------------------------------------------------------------
# files, splits, clips
# ---------------------------------------------------------------------------------------------------------------------

def test_shape_video_frames_still_then_action():
    for speed in ("slow", "fast"):
        frames = shape_video_frames(speed, idle_before=8, active_frames=16, idle_after=10, size=32)
        assert frames.shape == (34, 32, 32, 3) and frames.dtype == np.uint8
        energy = motion_energy(frames)  # frames 8..23 move: energy 8..22; still (noise only) before and after
        assert energy[8:23].mean() > 1.5 * max(energy[:7].mean(), energy[24:].mean())
    fast = [motion_energy(shape_video_frames("fast", index=i, idle_before=0, idle_after=0))[1:-1].mean()
            for i in range(8)]
    slow = [motion_energy(shape_video_frames("slow", index=i, idle_before=0, idle_after=0))[1:-1].mean()
            for i in range(8)]
    assert np.mean(fast) > np.mean(slow)
    with pytest.raises(ValueError, match="speed"):
        shape_video_frames("walking")
    with pytest.raises(ValueError, match="size"):
        shape_video_frames("slow", size=17)


def test_find_kth_videos_person_split(tmp_path):
    persons = {"train": (11, 12), "val": (1,), "test": (22,)}
    write_shape_videos(tmp_path / "kth", persons, idle_frames=(0, 2), active_frames=4, size=16, ext=".mp4")
    (tmp_path / "kth" / "notes.txt").write_text("not a video")
    split = find_kth_videos(tmp_path / "kth")
    assert split.classes == ["fast", "slow"]
    assert split.counts() == {"train": {"fast": 2, "slow": 2}, "val": {"fast": 1, "slow": 1},
                              "test": {"fast": 1, "slow": 1}}
    assert {kth_person(p) for p, _ in split.train} == {11, 12}
    assert all(split.classes[label] in p.name for p, label in split.train + split.val + split.test)
    with pytest.raises(FileNotFoundError):
        find_kth_videos(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no KTH video"):
        find_kth_videos(tmp_path / "empty")
    with pytest.raises(ValueError, match="KTH file name"):
        kth_person("v_Diving_g01_c01.avi")


def test_find_kth_videos_keeps_kth_class_order(tmp_path):
    for name in ("walking", "boxing"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"person11_{name}_d1_uncomp.avi").write_bytes(b"x")
    assert find_kth_videos(tmp_path).classes == ["boxing", "walking"]


def test_video_clips_samplers_shapes_and_bad_input():
    videos = [torch.from_numpy(_square_video(40, (20, 30))), torch.from_numpy(_square_video(12, (2, 8)))]
    for sampling in ("random", "segments", "motion"):
        for train in (True, False):
            ds = VideoClips(videos, [0, 1], clip_len=8, sampling=sampling, train=train, clips_per_video=3,
                            with_ids=True)
            assert len(ds) == 6
            clip, label, vid = ds[4]
            assert clip.shape == (3, 8, 16, 16) and clip.dtype == torch.float32 and (label, vid) == (1, 1)
    motion = VideoClips(videos, [0, 1], clip_len=8, sampling="motion", train=False)
    assert 15 <= motion.indices(0)[0] and motion.indices(0)[-1] <= 31
    with pytest.raises(ValueError, match="sampling"):
        VideoClips(videos, [0, 1], sampling="busy")
    with pytest.raises(ValueError, match="labels"):
        VideoClips(videos, [0])
    with pytest.raises(ValueError, match="uint8"):
        VideoClips([torch.zeros(5, 4, 4, 3)], [0])
    with pytest.raises(IndexError):
        motion[2]


def test_clip_level_split_shares_videos_between_sides():
    videos = [torch.full((64 + i, 4, 4, 3), i, dtype=torch.uint8) for i in range(4)]   # video i: every pixel = i
    tr, ytr, va, yva = clip_level_split(videos, [0, 1, 0, 1], pieces=2, seed=0)
    assert len(va) == 4 and len(tr) == 4 and yva == [0, 1, 0, 1] and ytr == [0, 1, 0, 1]
    for i, (train_part, val_part) in enumerate(zip(tr, va)):   # each video on both sides, halves, nothing lost
        assert int(train_part[0, 0, 0, 0]) == int(val_part[0, 0, 0, 0]) == i
        assert train_part.shape[0] + val_part.shape[0] == 64 + i and abs(train_part.shape[0] - val_part.shape[0]) <= 1
    tr3, _, va3, _ = clip_level_split(videos, [0, 1, 0, 1], pieces=3, seed=1)
    assert len(va3) == 4 and len(tr3) == 8
    assert [va3[i].shape[0] + tr3[2 * i].shape[0] + tr3[2 * i + 1].shape[0] for i in range(4)] == [64, 65, 66, 67]
    with pytest.raises(ValueError, match="pieces"):
        clip_level_split(videos, [0, 1, 0, 1], pieces=1)
    with pytest.raises(ValueError, match="fewer than 4 frames"):
        clip_level_split([torch.zeros(3, 4, 4, 3, dtype=torch.uint8)], [0])


def test_recipe_config_bad_input():
    with pytest.raises(ValueError, match="sampling"):
        RecipeConfig(sampling="busy")
    with pytest.raises(ValueError, match="crop"):
        RecipeConfig(decode_size=(32, 32), crop=(40, 40))
    with pytest.raises(ValueError, match="clip_len"):
        RecipeConfig(clip_len=8)
    with pytest.raises(TypeError, match="VideoSplit"):
        run_recipe({"train": []})
    with pytest.raises(ValueError, match="no validation"):
        run_recipe(VideoSplit(["a", "b"], train=[(Path("x"), 0), (Path("y"), 1)]))


# ---------------------------------------------------------------------------------------------------------------------
# the recipe end to end on tiny synthetic files
# ---------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def tiny_kth(tmp_path):
    persons = {"train": (11, 12, 13, 14), "val": (1, 4), "test": (2, 3)}
    write_shape_videos(tmp_path / "kth", persons, scenarios=2, active_frames=16, idle_frames=(8, 24), size=32)
    return tmp_path / "kth"


def test_run_recipe_end_to_end(tiny_kth, tmp_path):
    torch.manual_seed(0)
    split = find_kth_videos(tiny_kth)
    result = run_recipe(split, RecipeConfig(**TINY, sampling="motion"), progress=False)
    assert result["split"] == "test" and result["n_videos"] == 8
    assert len(result["val_curve"]) == 2 and 1 <= result["best_epoch"] <= 2
    assert result["ci_low"] <= result["accuracy"] <= result["ci_high"]
    assert np.isfinite(result["train_loss"]).all()
    text = format_report(result)
    assert "Wilson" in text and "confusion matrix" in text and "slow" in text
    path = record_result(result, command="pytest", directory=tmp_path / "results")
    record = json.loads(path.read_text())
    assert record["runs"][0]["n_videos"] == 8 and "model" not in record["runs"][0]
    no_test = VideoSplit(split.classes, train=split.train, val=split.val)
    assert run_recipe(no_test, RecipeConfig(**{**TINY, "epochs": 1}), progress=False)["split"] == "val"


def test_compare_samplings_rows(tiny_kth):
    split = find_kth_videos(tiny_kth)
    rows = compare_samplings(split, RecipeConfig(**{**TINY, "epochs": 1}), samplings=("random", "motion"),
                             progress=False)
    assert [(r["training"], r["clips_per_video"]) for r in rows[:4]] == [("random", 1), ("random", 2),
                                                                          ("motion", 1), ("motion", 2)]
    assert [r["split"] for r in rows[-2:]] == ["halves of videos (leaky)"] * 2
    assert [r["clips_per_video"] for r in rows[-2:]] == [1, 2] and rows[-1]["n"] == len(split.train) + len(split.val)
    assert all(0 <= r["accuracy"] <= 1 for r in rows)
    assert "leaky" in format_sampling_table(rows)
    pairs = leak_comparison(rows)
    motion = {(r["clips_per_video"], "leaky" in r["split"]): r["accuracy"] for r in rows if r["training"] == "motion"}
    assert [p["clips_per_video"] for p in pairs] == [1, 2]
    for p in pairs:
        assert p["person_split"] == motion[(p["clips_per_video"], False)]
        assert p["leaky"] == motion[(p["clips_per_video"], True)]
        assert p["difference"] == p["leaky"] - p["person_split"]
    assert leak_comparison(rows[:4]) == []
    with pytest.raises(ValueError, match="samplings"):
        compare_samplings(split, samplings=("busy",))


def test_real_video_command_on_synthetic_kth_files(tiny_kth, tmp_path):
    env = {**os.environ, "COURSE_DATA": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "real_video.py"), "--kth", str(tiny_kth), "--epochs", "1",
           "--train-clips", "1", "--eval-clips", "1", "--no-save", "--no-progress", "--threads", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("RESULT ")
    result = json.loads(last[len("RESULT "):])
    assert result["split"] == "test" and result["n_videos"] == 8 and result["classes"] == ["fast", "slow"]
    assert 0 <= result["ci_low"] <= result["accuracy"] <= result["ci_high"] <= 1 and result["train_seconds"] > 0
    assert "classification" not in proc.stderr and "confusion matrix" in proc.stdout
    bad = subprocess.run(cmd[:2] + ["--kth", str(tmp_path / "nowhere")], capture_output=True, text=True, env=env)
    assert bad.returncode != 0 and "no folder" in bad.stderr


def _bench(script, args, tmp_path, timeout=600):
    env = {**os.environ, "COURSE_DATA": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout)


class _NaNModel(torch.nn.Module):
    def forward(self, x):
        return torch.full((x.shape[0], 2), float("nan"))


def test_non_finite_outputs_raise_instead_of_scoring_half(tiny_kth):
    from course.train.real_video import eval_loader, predict_videos

    videos = [torch.from_numpy(_square_video(40, (10, 30), size=32)) for _ in range(4)]
    loader = eval_loader(videos, [0, 1, 0, 1], RecipeConfig(**TINY))
    with pytest.raises((FloatingPointError, ValueError), match="non-finite|NaN"):
        predict_videos(_NaNModel(), loader)
    # a diverging learning rate is stopped with the same clear error, not reported as 50%
    split = find_kth_videos(tiny_kth)
    with pytest.raises((FloatingPointError, ValueError), match="non-finite|nan"):
        run_recipe(split, RecipeConfig(**{**TINY, "epochs": 1, "lr": 1e30}), progress=False)


def test_mirrored_evaluation_and_augmentations():
    from course.train.real_video import _transforms, eval_loader

    videos = [torch.from_numpy(_square_video(40, (10, 30), size=32)) for _ in range(2)]
    config = RecipeConfig(**{**TINY, "crop": (24, 24), "crop_scale": (0.4, 1.0), "brightness": 0.3})
    plain = eval_loader(videos, [0, 1], config, clips=2).dataset
    mirrored = eval_loader(videos, [0, 1], config, clips=2, flip=True).dataset
    assert len(mirrored) == 2 * len(plain) == 8
    clip, label, video = mirrored[3]
    assert (label, video) == (0, 0) and torch.equal(clip, plain[1][0].flip(-1)) and torch.equal(mirrored[2][0], plain[1][0])
    train, _ = _transforms(config)
    out = train(videos[0][:16])
    assert out.shape == (3, 16, 24, 24) and torch.isfinite(out).all()
    for bad in ({"crop_scale": (0.5, 0.2)}, {"crop_scale": (0, 1)}, {"brightness": 1.5}, {"eval_flip": 1},
                {"retrain": "yes"}, {"choose_epoch": 1}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RecipeConfig(**{**TINY, **bad})


def test_run_recipe_retrains_on_training_and_validation_persons(tiny_kth):
    split = find_kth_videos(tiny_kth)
    result = run_recipe(split, RecipeConfig(**{**TINY, "retrain": True}), progress=False)
    assert result["reported_by"] == "final" and "training + validation" in result["final_fit"]
    assert result["best_epoch"] == 2 and "whole 2-epoch" in result["final_fit"]   # the whole schedule by default
    assert result["retrain_seconds"] > 0
    assert result["train_seconds"] == pytest.approx(result["select_seconds"] + result["retrain_seconds"])
    assert result["val_accuracy"] == result["val_curve"][result["best_epoch"] - 1]
    no_test = VideoSplit(split.classes, train=split.train, val=split.val)
    out = run_recipe(no_test, RecipeConfig(**{**TINY, "epochs": 1, "retrain": True, "choose_epoch": True}),
                     progress=False)
    assert out["split"] == "val" and out["reported_by"] == "selection"   # never scored by a model trained on them
    assert "chosen on the validation persons" in out["final_fit"] and out["best_epoch"] == 1


def test_real_video_command_errors_before_training(tiny_kth, tmp_path):
    args = ["--kth", tiny_kth, "--no-save", "--no-progress", "--threads", "1"]
    for extra, message in ((["--epochs", "0"], "--epochs: expected a positive int"),
                           (["--name", "../elsewhere"], "--name: expected a plain record name"),
                           (["--eval-clips", "0"], "--eval-clips")):
        proc = _bench("real_video.py", args + extra, tmp_path, timeout=120)
        assert proc.returncode != 0 and message in proc.stderr and "Traceback" not in proc.stderr
        assert not (tmp_path / "cache").exists()   # stopped before decoding anything
    lonely = tmp_path / "lonely"   # one training video per class, no validation person
    for cls in ("fast", "slow"):
        source = next(tiny_kth.rglob(f"person11_{cls}_d1_uncomp.avi"))
        (lonely / cls).mkdir(parents=True)
        (lonely / cls / source.name).write_bytes(source.read_bytes())
    proc = _bench("real_video.py", ["--kth", lonely, "--no-save", "--no-progress"], tmp_path, timeout=120)
    assert proc.returncode != 0 and "no validation videos" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "cache").exists()


def test_real_video_command_skips_unreadable_files_and_saves_the_model(tiny_kth, tmp_path):
    from course.train.real_video import build_model

    corrupt = tiny_kth / "fast" / "person12_fast_d9_uncomp.avi"
    corrupt.write_bytes(b"RIFF" + bytes(range(256)) * 8)
    args = ["--kth", tiny_kth, "--epochs", "1", "--train-clips", "1", "--eval-clips", "1", "--no-save",
            "--no-progress", "--threads", "1"]
    proc = _bench("real_video.py", args, tmp_path)
    assert proc.returncode != 0 and corrupt.name in proc.stderr and "--skip-unreadable" in proc.stderr
    assert "Traceback" not in proc.stderr
    saved = tmp_path / "models" / "kth.pt"
    proc = _bench("real_video.py", args + ["--skip-unreadable", "--save-model", saved], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"SKIPPED (unreadable): {corrupt}" in proc.stdout and "left out as unreadable (1)" in proc.stdout
    assert "decoding" in proc.stdout and "training" in proc.stdout
    checkpoint = torch.load(saved, weights_only=True)
    assert checkpoint["classes"] == ["fast", "slow"]
    config = RecipeConfig(**checkpoint["config"])
    model = build_model(len(checkpoint["classes"]), config)
    model.load_state_dict(checkpoint["state_dict"])
    assert config.retrain == RecipeConfig().retrain and config.epochs == 1
    clip = torch.randn(2, 3, config.clip_len, *config.crop)
    assert model.eval()(clip).shape == (2, 2)


def test_person_folds_and_cross_validation(tiny_kth, tmp_path):
    from course.train.person_folds import cross_validate, format_cv_table, parse_eval_setting, person_folds
    from course.train.real_video import decode_videos

    assert person_folds([12, 1, 4, 11, 1], 2) == [[1, 11], [4, 12]]
    with pytest.raises(ValueError, match="k"):
        person_folds([1, 2], 3)
    assert parse_eval_setting("8f") == (8, True) and parse_eval_setting("3") == (3, False)
    with pytest.raises(ValueError, match="clip count"):
        parse_eval_setting("f")
    split = find_kth_videos(tiny_kth)
    items = split.train + split.val
    videos = decode_videos([p for p, _ in items], size=(32, 32), progress=False)
    out = cross_validate(items, videos, 2, RecipeConfig(**{**TINY, "epochs": 1, "train_clips": 1}), folds=3,
                         seeds=(0, 1), evals=("1", "2f"))
    assert sorted(p for fold in out["folds"] for p in fold) == [1, 4, 11, 12, 13, 14] and len(out["folds"]) == 3
    assert out["n"] == len(items) and len(out["train_seconds"]) == 6
    assert all(len(out["accuracy"][e]) == 2 for e in ("1", "2f")) and len(out["curve"][0]) == 1
    table = format_cv_table([{"variant": "tiny", **out}])
    assert "2 clips +flip" in table and "tiny" in table
    proc = _bench("real_video_ablation.py", ["--kth", tiny_kth, "--variant", "x:epochs=0"], tmp_path, timeout=120)
    assert proc.returncode != 0 and "epochs" in proc.stderr and "Traceback" not in proc.stderr


# ---------------------------------------------------------------------------------------------------------------------
# your own video
# ---------------------------------------------------------------------------------------------------------------------

def test_predict_video_and_upload_widget(tmp_path):
    from course.data import write_video
    from course.train.real_video import build_model
    from course.viz.upload import plot_predictions, predict_video, upload_widget

    config = RecipeConfig(**TINY)
    model = build_model(3, config)
    frames = shape_video_frames("fast", idle_before=10, idle_after=10, size=32)
    out = predict_video(model, torch.from_numpy(frames), classes=["a", "b", "c"], config=config)
    assert out["probs"].shape == (3,) and out["probs"].sum() == pytest.approx(1, abs=1e-5)
    assert out["indices"].shape == (2, 16) and [c for c, _ in out["top"]][0] == "abc"[int(out["probs"].argmax())]
    ax = plot_predictions(out["probs"], ["a", "b", "c"], top_k=2)
    assert len(ax.patches) == 2 and ax.get_xlabel() == "probability"
    with pytest.raises(ValueError, match="frames"):
        predict_video(model, np.zeros((4, 8, 8), np.uint8), classes=["a", "b", "c"], config=config)
    with pytest.raises(ValueError, match="classes"):
        predict_video(model, frames, classes=["a", "b"], config=config)

    widget = upload_widget(model, ["a", "b", "c"], config=config)
    path = write_video(tmp_path / "mine.mp4", frames, 25)
    assert widget.handle("mine.mp4", path.read_bytes()) is not None
    assert "prediction" in widget.status.value and widget.output.children[2].value[:4] == b"\x89PNG"
    assert widget.handle("junk.mp4", b"not a video") is None and "Could not read" in widget.status.value
    with pytest.raises(ValueError, match="two class names"):
        upload_widget(model, ["a"])


# ---------------------------------------------------------------------------------------------------------------------
# fine-tuning Kinetics-400 weights (offline: random weights, and the clear stop when the download fails)
# ---------------------------------------------------------------------------------------------------------------------

def test_finetune_model_offline_with_random_weights():
    from course.train.finetune import finetune_model, finetune_optimizer

    model = finetune_model(5, pretrained=False, freeze="stem+layer1")
    assert model(torch.randn(1, 3, 8, 32, 32)).shape == (1, 5)
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    opt = finetune_optimizer(model, lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, pytest.approx(0.001)]
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == n_trainable
    with pytest.raises(ValueError, match="num_classes"):
        finetune_model(1, pretrained=False)
    with pytest.raises(ValueError, match="freeze"):
        finetune_model(3, pretrained=False, freeze="all")
    with pytest.raises(ValueError, match="lr"):
        finetune_optimizer(model, lr=0)


def test_finetune_model_stops_clearly_without_network(monkeypatch):
    import urllib.error

    from course.models import PretrainedError
    from course.train.finetune import finetune_model

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(PretrainedError, match="internet connection"):
        finetune_model(10, pretrained=True, progress=False)


def test_ucf101_subset_without_data_says_how_to_get_it(tmp_path):
    from course.data import DatasetNotFoundError
    from course.train.finetune import ucf101_subset

    with pytest.raises(DatasetNotFoundError, match="UCF101"):
        ucf101_subset(tmp_path / "ucf101", num_classes=10)
    with pytest.raises(ValueError, match="num_classes"):
        ucf101_subset(tmp_path, num_classes=1)
