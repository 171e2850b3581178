"""course.train checkpoints: round trips, RNG states, atomic writes, bad files."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from course.train import load_checkpoint, save_checkpoint, warmup_cosine
from course.train.checkpoint import atomic_torch_save, loader_rng_state, rng_state, set_rng_state


def trained_pair():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = warmup_cosine(opt, 2, 10)
    for _ in range(3):
        loss = model(torch.randn(16, 4)).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return model, opt, sched


def test_round_trip_restores_model_optimizer_scheduler(tmp_path):
    model, opt, sched = trained_pair()
    path = save_checkpoint(tmp_path / "c.pt", model=model, optimizer=opt, scheduler=sched, epoch=3,
                           extra={"note": "hello"})
    torch.manual_seed(1)
    model2 = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Linear(8, 2))
    opt2 = torch.optim.Adam(model2.parameters(), lr=0.5)
    sched2 = warmup_cosine(opt2, 2, 10)
    state = load_checkpoint(path, model2, opt2, sched2)
    assert state["epoch"] == 3 and state["extra"] == {"note": "hello"}
    for (k, a), b in zip(model.state_dict().items(), model2.state_dict().values()):
        assert torch.equal(a, b), k
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    assert sched2.last_epoch == sched.last_epoch == 3
    for a, b in zip(opt.state_dict()["state"].values(), opt2.state_dict()["state"].values()):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_rng_states_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    model = nn.Linear(2, 2)
    save_checkpoint(tmp_path / "c.pt", model=model)
    first = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(), np.random.randn())
    random.seed(10), np.random.seed(20), torch.manual_seed(30)
    load_checkpoint(tmp_path / "c.pt", restore_rng=True)
    again = (random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist(), np.random.randn())
    assert again == first


def test_numpy_cached_gaussian_is_restored():
    np.random.seed(5)
    np.random.randn()  # leaves a cached Gaussian in the legacy generator
    state = rng_state()
    expected = np.random.randn(3)
    np.random.seed(6)
    set_rng_state(state)
    np.testing.assert_array_equal(np.random.randn(3), expected)


def test_loader_generator_state_is_saved_and_restored(tmp_path):
    data = TensorDataset(torch.arange(20.0), torch.arange(20))
    loader = DataLoader(data, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(0))
    list(loader)
    assert set(loader_rng_state(loader)) == {"loader"}
    save_checkpoint(tmp_path / "c.pt", model=nn.Linear(1, 1), loader=loader)
    order = [b[1].tolist() for b in loader]
    other = DataLoader(data, batch_size=5, shuffle=True, generator=torch.Generator().manual_seed(99))
    load_checkpoint(tmp_path / "c.pt", restore_rng=True, loader=other)
    assert [b[1].tolist() for b in other] == order


def test_loader_with_a_different_sampler_setup_warns(tmp_path):
    data = TensorDataset(torch.arange(8.0), torch.arange(8))
    seeded = DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    save_checkpoint(tmp_path / "c.pt", model=nn.Linear(1, 1), loader=seeded)
    unseeded = DataLoader(data, batch_size=4, shuffle=True)
    with pytest.warns(UserWarning, match="shuffle differently"):
        load_checkpoint(tmp_path / "c.pt", restore_rng=True, loader=unseeded)


def test_atomic_save_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    atomic_torch_save({"a": torch.ones(3)}, path)
    before = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        atomic_torch_save({"a": torch.zeros(3)}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="garbage.pt"):
        load_checkpoint(garbage)
    truncated = tmp_path / "truncated.pt"
    save_checkpoint(truncated, model=nn.Linear(3, 3))
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(ValueError, match="truncated.pt"):
        load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    with pytest.raises(ValueError, match="not a course.train checkpoint"):
        load_checkpoint(foreign)


def test_load_refuses_pickled_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"format": "course.train.checkpoint/1", "payload": Evil()}, path)
    with pytest.raises(ValueError, match="evil.pt"):
        load_checkpoint(path)


def test_load_missing_component_is_a_clear_error(tmp_path):
    model, opt, _ = trained_pair()
    save_checkpoint(tmp_path / "c.pt", model=model)
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(tmp_path / "c.pt", model, opt)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"model": "net"}, TypeError, "model"),
    ({"optimizer": 3}, TypeError, "optimizer"),
    ({"epoch": -1}, ValueError, "epoch"),
    ({"extra": [1]}, TypeError, "extra"),
])
def test_save_bad_input(tmp_path, kwargs, error, match):
    args = {"model": nn.Linear(1, 1), **kwargs}
    with pytest.raises(error, match=match):
        save_checkpoint(tmp_path / "c.pt", **args)


def test_path_must_be_a_file(tmp_path):
    with pytest.raises(ValueError, match="folder"):
        save_checkpoint(tmp_path, model=nn.Linear(1, 1))
    with pytest.raises(TypeError, match="path"):
        save_checkpoint(42, model=nn.Linear(1, 1))


# --- issue 9: damage detection, extra validation, optimizer mismatch, stale temporaries ------------------------------

def _flip_inside_payload(path):
    """Flip one byte in the middle of the largest stored record (the payload) of a checkpoint zip."""
    import zipfile

    with zipfile.ZipFile(path) as zf:
        info = max(zf.infolist(), key=lambda i: i.file_size)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.file_size // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_bit_is_detected_on_load(tmp_path):
    model = nn.Linear(64, 64)
    path = save_checkpoint(tmp_path / "run.pt", model=model, epoch=2)
    _flip_inside_payload(path)
    with pytest.raises(ValueError, match=r"run\.pt.*damaged checkpoint.*SHA-256"):
        load_checkpoint(path, nn.Linear(64, 64))


def test_extra_numpy_scalars_and_paths_become_plain_values(tmp_path):
    from pathlib import Path

    extra = {"best": np.float64(0.25), "epoch": np.int64(3), "where": Path("/data/x"),
             "curve": [np.float32(1.5), 2.0], "nested": {"ok": (np.bool_(True), None)}, "t": torch.ones(2)}
    path = save_checkpoint(tmp_path / "c.pt", model=nn.Linear(1, 1), extra=extra)
    got = load_checkpoint(path)["extra"]
    assert got["best"] == 0.25 and type(got["best"]) is float and type(got["epoch"]) is int
    assert got["where"] == str(Path("/data/x")) and got["curve"] == [1.5, 2.0] and got["nested"] == {"ok": (True, None)}
    assert torch.equal(got["t"], torch.ones(2))


@pytest.mark.parametrize("bad, match", [
    ({"a": np.zeros(3)}, r"extra\['a'\] is a ndarray .*torch.from_numpy"),
    ({"a": [1, object()]}, r"extra\['a'\]\[1\] is a object"),
    ({"f": lambda: 1}, "function"),
    ({(1, 2): 3}, "key of type tuple"),
])
def test_extra_that_could_not_be_loaded_fails_at_save(tmp_path, bad, match):
    with pytest.raises(TypeError, match=match):
        save_checkpoint(tmp_path / "c.pt", model=nn.Linear(1, 1), extra=bad)
    assert not (tmp_path / "c.pt").exists()


def test_resuming_with_another_optimizer_class_names_both(tmp_path):
    model, opt, _ = trained_pair()
    save_checkpoint(tmp_path / "c.pt", model=model, optimizer=opt)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="holds the state of a Adam optimizer, but a SGD was given"):
        load_checkpoint(tmp_path / "c.pt", model, sgd)


def test_stale_temporaries_of_a_killed_save_are_removed_on_the_next_save(tmp_path):
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".c.pt.{dead.pid}.tmp"
    stale.write_bytes(b"half a checkpoint")
    alive = tmp_path / f".c.pt.{os.getppid()}.tmp"  # a save in progress in a live process is left alone
    alive.write_bytes(b"in progress")
    other = tmp_path / f".other.pt.{dead.pid}.tmp"  # another checkpoint's temporary is not ours to remove
    other.write_bytes(b"x")
    save_checkpoint(tmp_path / "c.pt", model=nn.Linear(1, 1))
    assert not stale.exists() and alive.exists() and other.exists()


def test_checkpoints_of_the_previous_format_still_load(tmp_path):
    model = nn.Linear(2, 2)
    path = tmp_path / "old.pt"
    torch.save({"format": "course.train.checkpoint/1", "epoch": 4, "model": model.state_dict(), "optimizer": None,
                "scheduler": None, "scaler": None, "rng": rng_state(), "loader_rng": None, "extra": {}}, path)
    other = nn.Linear(2, 2)
    assert load_checkpoint(path, other)["epoch"] == 4
    assert torch.equal(other.weight, model.weight)
