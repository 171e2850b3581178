"""course.train.distributed and benchmarks/ddp_train.py: unit tests, then real 2-process gloo jobs launched with
torchrun on 127.0.0.1 (the equivalence test, and a kill -9 of one worker followed by a resume)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from course.train import load_checkpoint
from course.train.distributed import (DistContext, checkpoint_path, distributed_loader, init_distributed,
                                      interrupt_run, launch_env, mean_over_processes, parse_result, rank_info, resume,
                                      run_torchrun, save_on_main, set_epoch, torchrun_command, unwrap, wrap_model)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "ddp_train.py"
ALONE = DistContext(rank=0, world_size=1, local_rank=0, backend=None, device=torch.device("cpu"))


# --------------------------------------------------------------------------------------------------------------------
# Unit tests (one process)
# --------------------------------------------------------------------------------------------------------------------

def test_rank_info_reads_torchrun_variables():
    assert rank_info({}) == (0, 1, 0)
    assert rank_info({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}) == (3, 4, 1)
    with pytest.raises(ValueError, match="RANK=4, WORLD_SIZE=4"):
        rank_info({"RANK": "4", "WORLD_SIZE": "4"})
    with pytest.raises(ValueError, match="WORLD_SIZE='two'"):
        rank_info({"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="WORLD_SIZE=0"):
        rank_info({"WORLD_SIZE": "0"})


def test_init_distributed_alone_and_bad_arguments(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    ctx = init_distributed(device="cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    with pytest.raises(ValueError, match="backend='mpi'"):
        init_distributed(backend="mpi", device="cpu")
    with pytest.raises(ValueError, match="NCCL needs CUDA"):
        init_distributed(backend="nccl", device="cpu")
    with pytest.raises(ValueError, match="timeout_s"):
        init_distributed(device="cpu", timeout_s=0)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    with pytest.raises(RuntimeError, match="MASTER_ADDR is not set"):
        init_distributed(device="cpu")


def test_the_shares_of_two_processes_make_up_the_global_batch():
    """Rank r's k-th batch of B plus the other rank's k-th batch are exactly the k-th batch of 2B of one process —
    the reason 2 processes x B reproduce 1 process x 2B. A different seed gives a different order."""
    data = torch.utils.data.TensorDataset(torch.arange(48).float(), torch.arange(48))
    ranks = [DistContext(r, 2, r, "gloo", torch.device("cpu")) for r in range(2)]
    for epoch in (0, 1):
        global_loader = distributed_loader(data, 8, ALONE, seed=5)
        set_epoch(global_loader, epoch)
        shares = []
        for ctx in ranks:
            loader = distributed_loader(data, 4, ctx, seed=5)
            set_epoch(loader, epoch)
            shares.append([batch[1].tolist() for batch in loader])
        whole = [batch[1].tolist() for batch in global_loader]
        assert len(whole) == len(shares[0]) == len(shares[1]) == 6
        for k, batch in enumerate(whole):
            assert sorted(shares[0][k] + shares[1][k]) == sorted(batch)
            assert not set(shares[0][k]) & set(shares[1][k])
    epoch0 = [b[1].tolist() for b in distributed_loader(data, 8, ALONE, seed=5)]
    other_seed = [b[1].tolist() for b in distributed_loader(data, 8, ALONE, seed=6)]
    assert epoch0 != other_seed


def test_set_epoch_reshuffles_and_rejects_plain_loaders():
    data = torch.utils.data.TensorDataset(torch.arange(32))
    loader = distributed_loader(data, 4, ALONE)
    first = [b[0].tolist() for b in loader]
    assert first == [b[0].tolist() for b in loader]      # without set_epoch every epoch repeats the order
    set_epoch(loader, 1)
    assert first != [b[0].tolist() for b in loader]
    with pytest.raises(TypeError, match="has no set_epoch"):
        set_epoch(torch.utils.data.DataLoader(data), 1)
    with pytest.raises(ValueError, match="epoch=-1"):
        set_epoch(loader, -1)


def test_distributed_loader_rejects_bad_input():
    data = torch.utils.data.TensorDataset(torch.arange(8))
    with pytest.raises(ValueError, match="batch_size=0"):
        distributed_loader(data, 0, ALONE)
    with pytest.raises(TypeError, match="map-style dataset"):
        distributed_loader(iter(range(3)), 2, ALONE)
    with pytest.raises(TypeError, match="DistContext"):
        distributed_loader(data, 2, "cpu")
    with pytest.raises(ValueError, match="shuffle"):
        distributed_loader(data, 2, ALONE, shuffle=True, **{"sampler": None})
    two = DistContext(0, 2, 0, "gloo", torch.device("cpu"))
    with pytest.raises(ValueError, match="fewer than one step"):
        distributed_loader(data, 5, two)


def test_wrap_model_alone_and_syncbatchnorm_on_cpu():
    model = torch.nn.Linear(3, 2)
    assert wrap_model(model, ALONE) is model and unwrap(model) is model
    with pytest.raises(ValueError, match="SyncBatchNorm runs on GPUs only"):
        wrap_model(model, ALONE, sync_batchnorm=True)
    with pytest.raises(TypeError, match="torch.nn.Module"):
        wrap_model("model", ALONE)
    assert mean_over_processes(2.5, ALONE) == 2.5
    with pytest.raises(TypeError, match="a number"):
        mean_over_processes("2.5", ALONE)


def test_checkpoints_stay_in_the_data_cache_and_resume(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))
    path = checkpoint_path("run1")
    assert path == tmp_path / "cache" / "ddp_runs" / "run1" / "checkpoint.pt"
    assert checkpoint_path("ignored", tmp_path / "mine.pt") == tmp_path / "mine.pt"
    for bad in ("../up", "", "a/b"):
        with pytest.raises(ValueError, match="run_name"):
            checkpoint_path(bad)
    with pytest.raises(ValueError, match="folder"):
        checkpoint_path("x", tmp_path)
    torch.manual_seed(0)
    model, other = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    assert resume(ALONE, path, model=other, optimizer=torch.optim.SGD(other.parameters(), lr=0.1)) == 0
    save_on_main(ALONE, path, model=model, optimizer=optimizer, step=7)
    other_opt = torch.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    assert resume(ALONE, path, model=other, optimizer=other_opt) == 7
    assert torch.equal(other.weight, model.weight)
    assert other_opt.state_dict()["state"][0]["momentum_buffer"].abs().sum() > 0
    with pytest.raises(ValueError, match="step=-1"):
        save_on_main(ALONE, path, model=model, optimizer=optimizer, step=-1)
    assert not list(path.parent.glob(".*.tmp"))


def test_launch_helpers():
    command = torchrun_command(SCRIPT, ["--steps", 3], nproc=2, port=29555)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert command[command.index("--nproc-per-node") + 1] == "2" and "127.0.0.1" in command
    assert command[-3:] == [str(SCRIPT), "--steps", "3"]
    with pytest.raises(ValueError, match="nproc=0"):
        torchrun_command(SCRIPT, nproc=0)
    with pytest.raises(TypeError, match="list of arguments"):
        torchrun_command(SCRIPT, "--steps 3")
    assert launch_env(2)["OMP_NUM_THREADS"] == "2"
    with pytest.raises(ValueError, match="threads"):
        launch_env(0)
    assert parse_result('x\nRESULT {"a": 1}\nRESULT {"a": 2}\ndone') == {"a": 2}
    assert parse_result("no result") is None
    with pytest.raises(FileNotFoundError, match="no such file"):
        run_torchrun(ROOT / "missing.py")


def test_script_in_one_process_matches_itself(tmp_path, monkeypatch, benchmark_script):
    """Without torchrun the script is an ordinary one-process run; its own comparison is then exact."""
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "cache"))
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    result = benchmark_script("ddp_train").main(["--steps", "3", "--clips", "32", "--frames", "4", "--size", "16",
                                                 "--log-every", "1"])
    assert result["world_size"] == 1 and result["backend"] is None and result["steps"] == 3
    assert result["global_batch"] == 8 and result["max_weight_diff"] == 0.0   # the same computation, repeated
    assert Path(result["checkpoint"]).is_relative_to(tmp_path / "cache")
    assert load_checkpoint(result["checkpoint"])["extra"]["step"] == 3


# --------------------------------------------------------------------------------------------------------------------
# Real 2-process jobs
# --------------------------------------------------------------------------------------------------------------------

ARGS = ["--steps", "24", "--clips", "128", "--frames", "8", "--size", "32", "--batch-size", "8", "--log-every", "8"]


@pytest.fixture(scope="module")
def job(tmp_path_factory, benchmark_script):
    """Clips rendered once (in this process), and one uninterrupted 2-process run of 24 steps."""
    folder = tmp_path_factory.mktemp("ddp")
    env = {"COURSE_DATA": str(folder / "cache")}
    data = folder / "clips.pt"
    benchmark_script("ddp_train").prepare_data(data, clips=128, frames=8, size=32, seed=0)
    args = ARGS + ["--data", str(data)]
    run = run_torchrun(SCRIPT, args + ["--checkpoint", str(folder / "full.pt")], nproc=2, timeout_s=150, env=env)
    return {"folder": folder, "env": env, "args": args, "run": run}


def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(job):
    run = job["run"]
    result = run.check()
    print(f"\n2 gloo processes x batch 8 vs 1 process x batch 16, {result['steps']} steps: max |weight difference| "
          f"{result['max_weight_diff']:.3g} (control, 1 process x batch 8: {result['max_weight_diff_control']:.3g}); "
          f"launch to exit {run.seconds:.1f} s, training {result['seconds']:.1f} s")
    assert {"world_size", "max_weight_diff", "steps", "seconds"} <= set(result)
    assert result["world_size"] == 2 and result["backend"] == "gloo" and result["global_batch"] == 16
    assert result["steps"] == 24 and result["resumed_from_step"] == 0
    assert result["max_weight_diff"] < 1e-5, "data parallelism should reproduce the global batch up to rounding"
    assert result["max_weight_diff_control"] > 1000 * max(result["max_weight_diff"], 1e-8), \
        "the control (a different batch) must differ clearly, or the check could not fail"
    assert run.output.count("RESULT ") == 1, "only rank 0 prints the result"
    assert run.output.strip().splitlines()[-1].startswith("RESULT ")
    assert load_checkpoint(job["folder"] / "full.pt")["extra"]["step"] == 24


@pytest.mark.skipif(sys.platform != "linux", reason="finds the worker processes through /proc (psutil)")
def test_kill_9_of_one_worker_leaves_a_checkpoint_that_resumes_to_the_same_weights(job):
    import psutil

    ckpt = job["folder"] / "killed.pt"
    args = job["args"] + ["--checkpoint", str(ckpt), "--checkpoint-every", "4", "--no-reference"]
    killed = interrupt_run(SCRIPT, args + ["--sleep", "0.3"], checkpoint=ckpt, kill_rank=1, timeout_s=120,
                           env=job["env"])
    assert killed.returncode != 0, "torchrun should report the killed worker"
    assert killed.result is None
    saved = load_checkpoint(ckpt)                         # loads: sha256 verified, not half-written
    step = saved["extra"]["step"]
    assert 4 <= step < 24 and step % 4 == 0
    assert not [p for p in ckpt.parent.glob(f".{ckpt.name}.*.tmp") if psutil.pid_exists(int(p.name.split(".")[-2]))]

    resumed = run_torchrun(SCRIPT, args + ["--resume"], nproc=2, timeout_s=150, env=job["env"]).check()
    print(f"\nkilled rank 1 after the checkpoint of step {step}; resumed to step {resumed['steps']}")
    assert resumed["resumed_from_step"] == step and resumed["steps"] == 24
    full = load_checkpoint(job["folder"] / "full.pt")["model"]
    final = load_checkpoint(ckpt)["model"]
    assert max(float((full[k] - final[k]).abs().max()) for k in full) < 1e-6, \
        "the resumed run should end with the weights of the uninterrupted one"


def test_interrupt_run_rejects_bad_input(tmp_path):
    existing = tmp_path / "there.pt"
    existing.write_bytes(b"x")
    with pytest.raises(FileExistsError, match="already exists"):
        interrupt_run(SCRIPT, checkpoint=existing)
    with pytest.raises(ValueError, match="kill_rank=2"):
        interrupt_run(SCRIPT, checkpoint=tmp_path / "new.pt", kill_rank=2)
