import subprocess
import sys

from course.doctor import doctor


def test_doctor_reports_everything_ok_here(capsys):
    report = doctor()
    out = capsys.readouterr().out
    assert report.ok, report.text()
    for name in ("python", "torch", "torchvision", "av (PyAV)", "ipywidgets", "device", "threads",
                 "video write+decode", "widget front end"):
        assert name in out


def test_cli_exits_nonzero_with_the_reason_when_av_is_missing(tmp_path):
    (tmp_path / "av.py").write_text("raise ImportError('simulated: PyAV is not installed')\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "course", "doctor"], capture_output=True, text=True, env=env)
    assert result.returncode == 1
    assert "av (PyAV)" in result.stdout and "simulated: PyAV is not installed" in result.stdout
    assert "Problems:" in result.stdout


def test_cli_exits_zero_when_all_is_well():
    result = subprocess.run([sys.executable, "-m", "course", "doctor"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
