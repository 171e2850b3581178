"""``python -m course predict``: onnxruntime inference on video files without PyTorch, and its errors (chapter 15)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from torch import nn

from course.data import write_video
from course.deploy import ClipSpec, PredictError, decode_frames, load_model, predict_video, softmax
from course.efficiency import export_onnx

ROOT = Path(__file__).resolve().parent.parent
SPEC = ClipSpec(("walking", "running"), clip_len=4, step=2, sampling="motion", num_clips=2, decode_size=(24, 32),
                crop=(16, 24), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1)
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(torch.relu(self.conv(x)).mean(dim=(2, 3, 4)))


def _moving_square(num_frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = np.full((num_frames, 48, 64, 3), 40, dtype=np.uint8)
    colour = rng.integers(100, 255, size=3)
    for t in range(num_frames):
        x = (4 * t) % 48
        frames[t, 16:32, x:x + 16] = colour
    return frames


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    torch.manual_seed(0)
    model = Tiny().eval()
    export_onnx(model, SPEC, root / "tiny.onnx")
    export_onnx(model, None, root / "no_spec.onnx", example=torch.zeros(1, *SPEC.input_shape))
    good = [write_video(root / f"clip{i}.avi", _moving_square(20, seed=i), fps=10) for i in range(2)]
    (root / "not_a_video.avi").write_bytes(b"this is a text file, not a video\n" * 20)
    with av.open(str(root / "empty.avi"), mode="w") as container:   # a valid container with no frame in it
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()                                     # writes the header; no frame follows
    torch.save(model.state_dict(), root / "weights.pt")
    return {"root": root, "model": model, "onnx": root / "tiny.onnx", "good": good}


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "course", "predict", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=120)


def test_predict_matches_pytorch_on_the_clips_the_spec_makes(files):
    deployed = load_model(files["onnx"], threads=1)
    assert deployed.spec == SPEC                                       # the spec travelled inside the ONNX file
    result = predict_video(deployed, files["good"][0], top_k=2)
    frames = decode_frames(files["good"][0], SPEC.decode_size)
    assert frames.shape == (20, 24, 32, 3)
    with torch.inference_mode():
        expected = torch.softmax(files["model"](torch.from_numpy(SPEC.clips(frames))), dim=1).mean(0).numpy()
    best = int(expected.argmax())
    assert result["top"][0][0] == SPEC.classes[best]
    assert result["top"][0][1] == pytest.approx(expected[best], abs=1e-4)
    assert result["clips"] == 2 and result["frames"] == 20 and result["seconds"] > 0


def test_cli_prints_top_classes_and_time_per_video(files):
    result = _cli(*files["good"], "--model", files["onnx"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, files["good"]):
        assert line.startswith(f"{path}: ") and "walking" in line and "running" in line and " s, " in line


def test_cli_json_prints_one_object_per_video(files):
    result = _cli(*files["good"], "--model", files["onnx"], "--json", "--top-k", "2")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["file"] for r in rows] == [str(p) for p in files["good"]]
    for row in rows:
        assert {"file", "top", "seconds"} <= set(row)
        assert [name for name, _ in row["top"]] in (["walking", "running"], ["running", "walking"])
        assert sum(p for _, p in row["top"]) == pytest.approx(1.0, abs=1e-3)
        assert row["top"][0][1] >= row["top"][1][1]


def test_every_bad_video_gives_one_line_naming_it_and_the_others_are_still_classified(files):
    root = files["root"]
    bad = [root / "missing.avi", root / "not_a_video.avi", root / "empty.avi"]
    result = _cli(bad[0], files["good"][0], bad[1], bad[2], "--model", files["onnx"])
    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 3, result.stderr
    for line, path in zip(errors, bad):
        assert line.startswith(f"error: {path}: ")
    assert "no such file" in errors[0] and "not a readable video" in errors[1] and "no frame" in errors[2]
    assert result.stdout.startswith(f"{files['good'][0]}: ")           # the good video in between was classified
    as_json = _cli(bad[0], files["good"][0], "--model", files["onnx"], "--json")
    rows = [json.loads(line) for line in as_json.stdout.strip().splitlines()]
    assert as_json.returncode == 1 and "error" in rows[0] and rows[0]["file"] == str(bad[0]) and "top" in rows[1]


@pytest.mark.parametrize("name", ["weights.pt", "not_a_video.avi", "no_spec.onnx", "absent.onnx"])
def test_a_model_file_of_the_wrong_kind_gives_one_line_naming_it(files, name):
    model = files["root"] / name
    result = _cli(files["good"][0], "--model", model)
    assert result.returncode == 1 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(f"error: {model}: ")
    with pytest.raises(PredictError, match=str(model)):
        load_model(model)


def test_predict_runs_where_torch_cannot_be_imported(files, tmp_path):
    fake = tmp_path / "torch"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('simulated: PyTorch is not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    probe = subprocess.run([sys.executable, "-c", "import torch"], capture_output=True, text=True, env=env)
    assert probe.returncode != 0 and "simulated" in probe.stderr      # the fake really hides torch
    result = _cli(files["good"][0], "--model", files["onnx"], "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["top"][0][0] in SPEC.classes


def test_softmax_and_argument_errors(files):
    p = softmax(np.array([[0.0, np.log(3.0)]]))
    assert np.allclose(p, [[0.25, 0.75]])
    with pytest.raises(ValueError, match=r"softmax\(logits\)"):
        softmax(np.zeros(3))
    with pytest.raises(ValueError, match=r"predict_video\(top_k\)"):
        predict_video(load_model(files["onnx"]), files["good"][0], top_k=0)
    with pytest.raises(ValueError, match=r"load_model\(threads\)"):
        load_model(files["onnx"], threads=-1)
    result = _cli(files["good"][0], "--model", files["onnx"], "--top-k", "0")
    assert result.returncode == 2 and "--top-k" in result.stderr


def test_doctor_reports_onnx_and_onnxruntime():
    from course.doctor import doctor

    text = doctor(verbose=False).text()
    assert "onnx " in text and "onnxruntime" in text


def test_the_default_model_is_checked_against_the_manifest(files, tmp_path, monkeypatch):
    import hashlib
    import shutil

    import course.deploy.predict as predict

    shipped = tmp_path / "kth_walking_running.onnx"
    shutil.copy(files["onnx"], shipped)
    monkeypatch.setattr(predict, "DEFAULT_MODEL", shipped)
    digest = hashlib.sha256(shipped.read_bytes()).hexdigest()
    (tmp_path / "manifest.json").write_text(json.dumps({"kth": {"file": shipped.name, "sha256": digest}}))
    assert predict.load_model(None).spec == SPEC                        # no --model: the shipped file
    (tmp_path / "manifest.json").write_text(json.dumps({"kth": {"file": shipped.name, "sha256": "0" * 64}}))
    with pytest.raises(PredictError, match="SHA-256"):
        predict.load_model(None)
    shipped.unlink()
    with pytest.raises(PredictError, match="reinstall"):
        predict.load_model(None)
