"""course.train.fit: learning, resuming after an interruption, early stopping, mixed precision, bad input."""
from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from course.train import EarlyStopping, History, fit, load_checkpoint, warmup_cosine

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train faster on one thread, and far faster than on two oversubscribed ones on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def blobs(n=192, d=6, k=3, seed=0):
    """k Gaussian blobs in d dimensions: an easy, learnable classification problem."""
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(k, d, generator=g)
    y = torch.randint(0, k, (n,), generator=g)
    x = centres[y] + torch.randn(n, d, generator=g)
    return x, y


def make_model(seed=0, d=6, k=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, k))


class Interrupting(Dataset):
    """A dataset that raises KeyboardInterrupt on its ``stop_at``-th item access (as Ctrl-C would, mid-epoch)."""

    def __init__(self, x, y, stop_at=None):
        self.x, self.y, self.stop_at, self.calls = x, y, stop_at, 0

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        self.calls += 1
        if self.stop_at is not None and self.calls == self.stop_at:
            raise KeyboardInterrupt
        return self.x[i], self.y[i]


def loaders(x, y, *, seeded, generator_seed=123, stop_at=None):
    kwargs = {"generator": torch.Generator().manual_seed(generator_seed)} if seeded else {}
    train = DataLoader(Interrupting(x, y, stop_at), batch_size=16, shuffle=True, **kwargs)
    val = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=32)
    return train, val


def setup_run(model_seed, *, seeded, generator_seed=123, stop_at=None, epochs=5, scheduler_step="epoch"):
    x, y = blobs()
    model = make_model(model_seed)
    train, val = loaders(x, y, seeded=seeded, generator_seed=generator_seed, stop_at=stop_at)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=1e-4)
    total = epochs * len(train) if scheduler_step == "batch" else epochs
    scheduler = warmup_cosine(optimizer, warmup_steps=2, total_steps=total)
    stopper = EarlyStopping("val_loss", patience=50)
    return model, train, val, optimizer, scheduler, stopper


def run(model, train, val, optimizer, scheduler, stopper, *, epochs, checkpoint, resume=False, scheduler_step="epoch",
        callbacks=()):
    return fit(model, train, val, epochs=epochs, optimizer=optimizer, scheduler=scheduler, device="cpu",
               checkpoint=checkpoint, resume=resume, early_stopping=stopper, progress=False,
               scheduler_step=scheduler_step, callbacks=callbacks)


def assert_same_run(model_a, hist_a, model_b, hist_b):
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert state_a.keys() == state_b.keys()
    for key in state_a:
        assert torch.equal(state_a[key], state_b[key]), f"weights differ in {key}"
    assert len(hist_a) == len(hist_b)
    for rec_a, rec_b in zip(hist_a.records, hist_b.records):
        for metric in ("epoch",) + METRICS:
            assert rec_a[metric] == rec_b[metric], f"epoch {rec_a['epoch']}: {metric} {rec_a[metric]} != {rec_b[metric]}"


def scramble_global_rngs():
    random.seed(999)
    np.random.seed(999)
    torch.manual_seed(999)


@pytest.mark.parametrize("seeded", [True, False], ids=["seeded-loader", "global-rng-loader"])
@pytest.mark.parametrize("scheduler_step", ["epoch", "batch"])
def test_resumed_run_equals_uninterrupted_run(tmp_path, seeded, scheduler_step):
    epochs, k = 5, 2
    # 1) the reference: one uninterrupted run
    torch.manual_seed(7)
    ref = setup_run(0, seeded=seeded, scheduler_step=scheduler_step, epochs=epochs)
    hist_ref = run(*ref, epochs=epochs, checkpoint=tmp_path / "ref.pt", scheduler_step=scheduler_step)
    # 2) the same run, interrupted (Ctrl-C inside the loader) in the middle of epoch k + 1
    torch.manual_seed(7)
    per_epoch = len(ref[1].dataset)
    stop_at = k * per_epoch + per_epoch // 2
    first = setup_run(0, seeded=seeded, stop_at=stop_at, scheduler_step=scheduler_step, epochs=epochs)
    with pytest.raises(KeyboardInterrupt):
        run(*first, epochs=epochs, checkpoint=tmp_path / "run.pt", scheduler_step=scheduler_step)
    assert load_checkpoint(tmp_path / "run.pt")["epoch"] == k
    # 3) a fresh process-like start: other initial weights, another loader seed, scrambled global RNGs
    scramble_global_rngs()
    second = setup_run(1, seeded=seeded, generator_seed=555, scheduler_step=scheduler_step, epochs=epochs)
    hist = run(*second, epochs=epochs, checkpoint=tmp_path / "run.pt", resume=True, scheduler_step=scheduler_step)
    assert_same_run(ref[0], hist_ref, second[0], hist)
    assert second[3].state_dict()["state"].keys() == ref[3].state_dict()["state"].keys()
    for key, value in ref[3].state_dict()["state"].items():
        for name in ("exp_avg", "exp_avg_sq"):
            assert torch.equal(value[name], second[3].state_dict()["state"][key][name])
    assert second[4].state_dict()["last_epoch"] == ref[4].state_dict()["last_epoch"]


def test_resume_is_not_trivially_equal(tmp_path):
    """Guard for the test above: a resumed run whose RNG/loader state is NOT restored differs from the reference."""
    epochs = 4
    torch.manual_seed(7)
    ref = setup_run(0, seeded=True, epochs=epochs)
    hist_ref = run(*ref, epochs=epochs, checkpoint=None)
    torch.manual_seed(7)
    first = setup_run(0, seeded=True, epochs=epochs)
    run(*first, epochs=2, checkpoint=None)
    # continue the same objects without the checkpoint's RNG states: the loader generator has other state
    scramble_global_rngs()
    first[1].generator.manual_seed(555)
    hist = run(*first, epochs=2, checkpoint=None)
    assert not torch.equal(ref[0][0].weight, first[0][0].weight)
    assert hist.records[-1]["train_loss"] != hist_ref.records[-1]["train_loss"]


def test_interrupt_from_callback_keeps_last_good_checkpoint(tmp_path):
    model, train, val, optimizer, scheduler, stopper = setup_run(0, seeded=True)
    path = tmp_path / "run.pt"
    snapshots = {}

    def interrupt_after_third(history, model):
        snapshots[len(history)] = path.read_bytes()
        if len(history) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(model, train, val, optimizer, scheduler, stopper, epochs=5, checkpoint=path, callbacks=[interrupt_after_third])
    assert path.read_bytes() == snapshots[3]
    assert load_checkpoint(path)["epoch"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"], "a temporary file was left behind"


def test_interrupt_while_writing_checkpoint_keeps_previous_one(tmp_path, monkeypatch):
    model, train, val, optimizer, scheduler, stopper = setup_run(0, seeded=True)
    path = tmp_path / "run.pt"
    run(model, train, val, optimizer, scheduler, stopper, epochs=2, checkpoint=path)
    before = path.read_bytes()
    real_save = torch.save

    def save_then_interrupt(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.truncate(100)  # half-written file, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(model, train, val, optimizer, scheduler, stopper, epochs=4, checkpoint=path, resume=True)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_checkpoint(path)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_resume_without_a_checkpoint_file_starts_from_scratch(tmp_path, capsys):
    x, y = blobs()
    path = tmp_path / "new.pt"
    torch.manual_seed(3)
    model = make_model(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(1))
    hist = fit(model, train, epochs=2, optimizer=opt, device="cpu", checkpoint=path, resume=True, progress=False)
    assert len(hist) == 2 and path.exists()
    # and resuming a finished run trains nothing more and returns the same history
    again = fit(model, train, epochs=2, optimizer=opt, device="cpu", checkpoint=path, resume=True, progress=False)
    assert [r["epoch"] for r in again.records] == [1, 2]
    np.testing.assert_equal(again.records, hist.records)  # NaN == NaN here (no validation loader)


def test_fit_learns_and_records_every_epoch():
    x, y = blobs(n=256)
    model = make_model(0)
    train = DataLoader(TensorDataset(x[:192], y[:192]), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[192:], y[192:]), batch_size=64)
    hist = fit(model, train, val, epochs=6, optimizer=torch.optim.Adam(model.parameters(), 1e-2), device="cpu",
               progress=False)
    assert isinstance(hist, History) and len(hist) == 6 and not hist.stopped_early
    assert hist["epoch"] == [1, 2, 3, 4, 5, 6]
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert hist["val_acc"][-1] > 1 / 3 + 0.3, "well above chance on separable blobs"
    with torch.no_grad():
        model.eval()
        direct = (model(x[192:]).argmax(1) == y[192:]).double().mean().item()
    assert hist["val_acc"][-1] == pytest.approx(direct)
    assert all(r["seconds"] > 0 for r in hist.records)


def test_progress_bars_run(capsys):
    x, y = blobs(n=64)
    model = make_model(0)
    train = DataLoader(TensorDataset(x, y), batch_size=16)
    hist = fit(model, train, train, epochs=2, optimizer=torch.optim.SGD(model.parameters(), 0.1), device="cpu",
               progress=True)
    err = capsys.readouterr().err
    assert "epochs" in err and "epoch 2/2" in err
    assert len(hist) == 2


def test_train_accuracy_is_nan_for_regression():
    x = torch.randn(64, 3)
    y = x.sum(1, keepdim=True)
    model = nn.Linear(3, 1)
    train = DataLoader(TensorDataset(x, y), batch_size=16)
    hist = fit(model, train, train, epochs=3, optimizer=torch.optim.SGD(model.parameters(), 0.05),
               loss_fn=nn.MSELoss(), device="cpu", progress=False)
    assert all(math.isnan(a) for a in hist["train_acc"] + hist["val_acc"])
    assert hist["val_loss"][-1] < hist["val_loss"][0]


def test_batch_schedule_changes_lr_every_batch():
    x, y = blobs(n=64)
    model = make_model(0)
    train = DataLoader(TensorDataset(x, y), batch_size=16)  # 4 batches per epoch
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    sched = warmup_cosine(opt, warmup_steps=4, total_steps=12)
    hist = fit(model, train, epochs=3, optimizer=opt, scheduler=sched, scheduler_step="batch", device="cpu",
               progress=False)
    from course.train import warmup_cosine_factor

    assert hist["lr"] == pytest.approx([warmup_cosine_factor(s, 4, 12) for s in (0, 4, 8)])
    assert sched.last_epoch == 12


def test_reduce_on_plateau_gets_the_validation_loss():
    x, y = blobs(n=96)
    model = make_model(0)
    train = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=16)
    val = DataLoader(TensorDataset(x[64:], y[64:]), batch_size=16)
    opt = torch.optim.SGD(model.parameters(), lr=1e-7)  # too small to improve anything by the 1e-4 threshold
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    hist = fit(model, train, val, epochs=3, optimizer=opt, scheduler=sched, device="cpu", progress=False)
    assert hist["lr"] == pytest.approx([1e-7, 1e-7, 5e-8])
    assert sched.best == hist["val_loss"][0], "the scheduler must follow the validation loss"


def test_early_stopping_stops_and_restores_best_weights():
    x, y = blobs(n=128)
    model = make_model(0)
    train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=64)
    best_weights = {}

    def remember(history, model):
        best_weights[len(history)] = {k: v.clone() for k, v in model.state_dict().items()}

    # a learning rate so large that validation loss gets worse after the first epochs
    opt = torch.optim.SGD(model.parameters(), lr=5.0)
    stopper = EarlyStopping("val_loss", patience=2)
    hist = fit(model, train, val, epochs=30, optimizer=opt, early_stopping=stopper, device="cpu", progress=False,
               callbacks=[remember])
    assert hist.stopped_early and len(hist) < 30
    best = hist.best("val_loss")
    assert stopper.best_epoch == best["epoch"] and len(hist) == best["epoch"] + 2
    for key, value in model.state_dict().items():
        assert torch.equal(value, best_weights[best["epoch"]][key])


def test_early_stopping_rules():
    stopper = EarlyStopping("val_acc", patience=2, min_delta=0.01)
    values = [0.5, 0.6, 0.605, 0.61]
    stops = [stopper.update({"epoch": i + 1, "val_acc": v}) for i, v in enumerate(values)]
    # 0.605 and 0.61 are within min_delta of 0.6 -> two bad epochs -> stop at the 4th
    assert stops == [False, False, False, True]
    assert stopper.best == 0.6 and stopper.best_epoch == 2
    assert stopper.update({"epoch": 5, "val_acc": 0.7}) is False and stopper.bad_epochs == 0
    assert EarlyStopping("val_loss").mode == "min" and EarlyStopping("train_acc").mode == "max"
    with pytest.raises(ValueError, match="NaN"):
        EarlyStopping("val_acc").update({"epoch": 1, "val_acc": float("nan")})


@pytest.mark.parametrize("kwargs, error, match", [
    ({"monitor": "accuracy"}, ValueError, "monitor"),
    ({"patience": 0}, ValueError, "patience"),
    ({"mode": "up"}, ValueError, "mode"),
    ({"min_delta": -1}, ValueError, "min_delta"),
])
def test_early_stopping_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        EarlyStopping(**kwargs)


def test_cpu_bfloat16_autocast_trains():
    x, y = blobs(n=128)
    model = make_model(0)
    train = DataLoader(TensorDataset(x, y), batch_size=32)
    hist = fit(model, train, train, epochs=4, optimizer=torch.optim.Adam(model.parameters(), 1e-2), amp=True,
               device="cpu", progress=False)
    assert hist["train_loss"][-1] < hist["train_loss"][0]
    assert model[0].weight.dtype == torch.float32, "autocast keeps the master weights in float32"


def test_nan_loss_stops_with_advice_and_keeps_checkpoint(tmp_path):
    x, y = blobs(n=64)
    model = make_model(0)
    train = DataLoader(TensorDataset(x, y), batch_size=16)
    path = tmp_path / "run.pt"
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    fit(model, train, epochs=1, optimizer=opt, device="cpu", progress=False, checkpoint=path)
    before = path.read_bytes()
    with pytest.raises(FloatingPointError, match="learning rate"):
        fit(model, train, epochs=3, optimizer=opt, device="cpu", progress=False, checkpoint=path, resume=True,
            loss_fn=lambda out, t: nn.functional.cross_entropy(out, t) * float("nan"))
    assert path.read_bytes() == before


def test_max_grad_norm_clips():
    x, y = blobs(n=32)
    model = nn.Linear(6, 3)
    before = model.weight.detach().clone()
    train = DataLoader(TensorDataset(x * 1000, y), batch_size=32)
    fit(model, train, epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=1.0), max_grad_norm=0.5,
        device="cpu", progress=False)
    moved = torch.cat([(model.weight - before).flatten()]).norm().item()
    assert moved <= 0.5 + 1e-5


def _good_args():
    x, y = blobs(n=32)
    model = make_model(0)
    return {"model": model, "train_loader": DataLoader(TensorDataset(x, y), batch_size=16), "epochs": 1,
            "optimizer": torch.optim.SGD(model.parameters(), lr=0.1), "device": "cpu", "progress": False}


@pytest.mark.parametrize("change, error, match", [
    ({"model": "net"}, TypeError, "fit\\(model\\)"),
    ({"train_loader": 5}, TypeError, "train_loader"),
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": 2.5}, ValueError, "epochs"),
    ({"optimizer": "adam"}, TypeError, "optimizer"),
    ({"scheduler": 3}, TypeError, "scheduler"),
    ({"loss_fn": "ce"}, TypeError, "loss_fn"),
    ({"scheduler_step": "step"}, ValueError, "scheduler_step"),
    ({"resume": True}, ValueError, "checkpoint"),
    ({"checkpoint": 12}, TypeError, "checkpoint"),
    ({"early_stopping": EarlyStopping("val_acc")}, ValueError, "val_loader"),
    ({"early_stopping": "yes"}, TypeError, "early_stopping"),
    ({"device": "tpu"}, ValueError, "tpu"),
    ({"amp": "fast"}, ValueError, "amp"),
    ({"max_grad_norm": -1}, ValueError, "max_grad_norm"),
    ({"callbacks": [1]}, TypeError, "callbacks"),
    ({"progress": "yes"}, TypeError, "progress"),
])
def test_fit_bad_input(change, error, match):
    args = {**_good_args(), **change}
    with pytest.raises(error, match=match):
        fit(args.pop("model"), args.pop("train_loader"), **args)


def test_fit_rejects_batches_that_are_not_pairs():
    x, y = blobs(n=32)
    args = _good_args()
    args["train_loader"] = DataLoader(TensorDataset(x, y, y), batch_size=16)
    with pytest.raises(TypeError, match="pair \\(inputs, targets\\)"):
        fit(args.pop("model"), args.pop("train_loader"), **args)


def test_fit_rejects_an_empty_loader():
    args = _good_args()
    args["train_loader"] = DataLoader(TensorDataset(torch.zeros(0, 6), torch.zeros(0, dtype=torch.long)), batch_size=4)
    with pytest.raises(ValueError, match="no batches"):
        fit(args.pop("model"), args.pop("train_loader"), **args)


def test_gradient_scaler_path_trains_and_resumes(tmp_path, monkeypatch):
    """The float16 + GradScaler branch (CUDA without bfloat16), exercised on CPU where torch supports it too."""
    from course.train import Precision, loop

    monkeypatch.setattr(loop, "choose_precision", lambda device, amp=None: Precision("cpu", torch.float16, scaler=True))
    epochs, k = 4, 2
    torch.manual_seed(7)
    ref = setup_run(0, seeded=True, epochs=epochs)
    hist_ref = fit(*ref[:2], ref[2], epochs=epochs, optimizer=ref[3], scheduler=ref[4], device="cpu",
                   checkpoint=tmp_path / "ref.pt", progress=False, max_grad_norm=5.0)
    assert hist_ref["train_loss"][-1] < hist_ref["train_loss"][0]
    scaler_state = load_checkpoint(tmp_path / "ref.pt")["scaler"]
    assert scaler_state is not None and scaler_state["scale"] > 0
    torch.manual_seed(7)
    first = setup_run(0, seeded=True, epochs=epochs)
    stop = lambda history, model: (_ for _ in ()).throw(KeyboardInterrupt) if len(history) == k else None
    with pytest.raises(KeyboardInterrupt):
        fit(*first[:2], first[2], epochs=epochs, optimizer=first[3], scheduler=first[4], device="cpu",
            checkpoint=tmp_path / "run.pt", progress=False, max_grad_norm=5.0, callbacks=[stop])
    scramble_global_rngs()
    second = setup_run(1, seeded=True, generator_seed=5, epochs=epochs)
    hist = fit(*second[:2], second[2], epochs=epochs, optimizer=second[3], scheduler=second[4], device="cpu",
               checkpoint=tmp_path / "run.pt", resume=True, progress=False, max_grad_norm=5.0)
    assert_same_run(ref[0], hist_ref, second[0], hist)


def test_resuming_an_early_stopped_run_trains_no_further(tmp_path):
    x, y = blobs(n=128)
    path = tmp_path / "run.pt"

    def setup():
        model = make_model(0)
        train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True, generator=torch.Generator().manual_seed(0))
        val = DataLoader(TensorDataset(x[:64], y[:64]), batch_size=64)
        return model, train, val, torch.optim.SGD(model.parameters(), lr=5.0)

    model, train, val, opt = setup()
    hist = fit(model, train, val, epochs=30, optimizer=opt, early_stopping=EarlyStopping("val_loss", patience=2),
               device="cpu", progress=False, checkpoint=path)
    assert hist.stopped_early
    model2, train2, val2, opt2 = setup()
    again = fit(model2, train2, val2, epochs=40, optimizer=opt2, early_stopping=EarlyStopping("val_loss", patience=2),
                device="cpu", progress=False, checkpoint=path, resume=True)
    assert again.stopped_early and len(again) == len(hist)
    for a, b in zip(model.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b), "the best weights are restored after resuming too"


def test_default_device_comes_from_course_config(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    args = _good_args()
    del args["device"]
    fit(args.pop("model"), args.pop("train_loader"), **args)
    assert next(iter(args["optimizer"].param_groups[0]["params"])).device.type == "cpu"
