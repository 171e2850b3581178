"""Chapter 16's measuring helpers: course.train.profiling, course.train.memory, course.train.mixed_precision."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from course.data import to_float_clip, write_shape_videos
from course.data.folder import VideoFolder
from course.train.memory import (CheckpointedSequential, accumulated_gradients, full_batch_gradients,
                                 max_gradient_difference, saved_activation_bytes)
from course.train.mixed_precision import gradient_magnitudes, underflow_fraction
from course.train.profiling import (PHASES, compare_step_variants, loader_throughput, profile_training_step,
                                    training_step_time)


def _cnn(batch_norm: bool = False) -> nn.Sequential:
    torch.manual_seed(0)
    layers = []
    for c_in, c_out in ((3, 4), (4, 8)):
        layers.append(nn.Sequential(nn.Conv3d(c_in, c_out, 3, padding=1, bias=not batch_norm),
                                    *([nn.BatchNorm3d(c_out)] if batch_norm else []), nn.ReLU(),
                                    nn.MaxPool3d((1, 2, 2))))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(8, 3))


def _batch(n=6, t=4, size=16):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, t, size, size, generator=g), torch.randint(0, 3, (n,), generator=g)


# --------------------------------------------------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------------------------------------------------

def test_saved_activations_grow_with_clip_length_and_match_a_hand_count():
    model = _cnn()
    sizes = [saved_activation_bytes(model, _batch(t=t)[0]) for t in (2, 4, 8)]
    assert sizes[0] < sizes[1] < sizes[2]
    assert abs(sizes[2] / sizes[1] - 2) < 0.05, "doubling the frames should double the activations"
    # A single convolution keeps only its input (its weight is a parameter, not an activation).
    x = torch.rand(2, 3, 4, 8, 8)
    assert saved_activation_bytes(nn.Conv3d(3, 5, 3), x) == x.numel() * 4


def test_checkpointing_keeps_less_and_gives_the_same_gradients():
    model = _cnn()
    clips, labels = _batch()
    full = saved_activation_bytes(model, clips)
    kept = saved_activation_bytes(CheckpointedSequential(model, 2), clips)
    assert 0 < kept < full / 2
    plain = full_batch_gradients(model, clips, labels)
    checkpointed = full_batch_gradients(CheckpointedSequential(model, 2), clips, labels)
    assert {k.removeprefix("model.") for k in checkpointed} == set(plain)
    assert max(float((plain[k] - checkpointed["model." + k]).abs().max()) for k in plain) < 1e-6
    with pytest.raises(TypeError, match="nn.Sequential"):
        CheckpointedSequential(nn.Linear(2, 2), 1)
    with pytest.raises(ValueError, match="segments=9"):
        CheckpointedSequential(model, 9)


def test_gradient_accumulation_equals_the_big_batch_without_batchnorm_only():
    clips, labels = _batch(n=8)
    plain = _cnn()
    assert max_gradient_difference(full_batch_gradients(plain, clips, labels),
                                   accumulated_gradients(plain, clips, labels, micro_batches=4)) < 1e-6
    bn = _cnn(batch_norm=True)
    assert max_gradient_difference(full_batch_gradients(bn, clips, labels),
                                   accumulated_gradients(bn, clips, labels, micro_batches=4)) > 1e-4
    with pytest.raises(ValueError, match="does not split into 3"):
        accumulated_gradients(plain, clips, labels, micro_batches=3)
    with pytest.raises(ValueError, match="micro_batches=0"):
        accumulated_gradients(plain, clips, labels, micro_batches=0)
    with pytest.raises(ValueError, match="labels"):
        full_batch_gradients(plain, clips, labels[:3])
    with pytest.raises(ValueError, match="different parameters"):
        max_gradient_difference({"a": torch.ones(1)}, {"b": torch.ones(1)})
    with pytest.raises(TypeError, match="nn.Module"):
        saved_activation_bytes("model", clips)


# --------------------------------------------------------------------------------------------------------------------
# mixed precision
# --------------------------------------------------------------------------------------------------------------------

def test_float16_underflow_and_loss_scaling():
    grads = torch.tensor([1e-3, 1e-6, 1e-9, 1e-10, 0.0])
    assert underflow_fraction(grads) == 0.5                    # 1e-9 and 1e-10 are below float16's 6e-8
    assert underflow_fraction(grads, scale=2.0 ** 16) == 0.0   # scaled up, they survive
    assert underflow_fraction(grads, torch.bfloat16) == 0.0    # bfloat16 has float32's range
    assert underflow_fraction({"w": grads}, torch.float32) == 0.0
    model = _cnn()
    clips, labels = _batch()
    nn.functional.cross_entropy(model(clips), labels).backward()
    magnitudes = gradient_magnitudes(model)
    assert len(magnitudes) == len(list(model.parameters())) and all((m > 0).all() for m in magnitudes)
    with pytest.raises(ValueError, match="every value is zero"):
        underflow_fraction(torch.zeros(3))
    with pytest.raises(ValueError, match="scale=0"):
        underflow_fraction(grads, scale=0)
    with pytest.raises(ValueError, match="dtype"):
        underflow_fraction(grads, torch.int8)
    with pytest.raises(TypeError, match="float tensor"):
        underflow_fraction([1, 2])
    with pytest.raises(ValueError, match="backward"):
        gradient_magnitudes(_cnn())


# --------------------------------------------------------------------------------------------------------------------
# profiling
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def video_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    write_shape_videos(root, {"train": [1, 2]}, scenarios=2, idle_frames=(4, 8), size=32)
    return root


def test_profile_separates_decode_transform_and_compute(video_folder):
    data = VideoFolder(video_folder, frames_per_clip=8, transform=to_float_clip)
    profile = profile_training_step(_cnn(), data, batch_size=4, steps=2)
    assert list(profile.ms) == list(PHASES)
    assert profile.ms["decode"] > 0 and profile.ms["transform"] > 0 and profile.ms["forward"] > 0
    assert profile.ms["backward"] > 0 and profile.ms["optimizer"] > 0
    assert sum(profile.ms.values()) <= profile.step_ms * 1.2
    assert abs(sum(profile.fractions().values()) - 1) < 1e-9
    assert "Self CPU" in profile.table and "per step of 4 clips" in str(profile)
    assert "load_frames" not in vars(data), "the profiler's labels are removed afterwards"
    tensors = torch.utils.data.TensorDataset(*_batch(n=8))
    plain = profile_training_step(_cnn(), tensors, batch_size=4, steps=1)
    assert plain.ms["decode"] == 0 and plain.ms["data (other)"] > 0
    with pytest.raises(ValueError, match="only 8 items"):
        profile_training_step(_cnn(), tensors, batch_size=9)
    with pytest.raises(TypeError, match="nn.Module"):
        profile_training_step(None, tensors, batch_size=2)


def test_loader_throughput_and_the_decoded_clip_cache(video_folder, tmp_path):
    plain = VideoFolder(video_folder, frames_per_clip=8)
    one = loader_throughput(plain, batch_size=2, epochs=2)
    assert one["clips"] == len(plain) and len(one["clips_per_s"]) == 2 and all(c > 0 for c in one["clips_per_s"])
    cached = VideoFolder(video_folder, frames_per_clip=8, cache=True, cache_dir=tmp_path / "decoded")
    loader_throughput(cached, batch_size=2, epochs=1)
    assert any((tmp_path / "decoded").iterdir()), "the first epoch fills the decoded-clip cache"
    workers = loader_throughput(plain, batch_size=2, epochs=2, num_workers=1, persistent_workers=True,
                                max_batches=2)
    assert workers["clips"] == 4
    with pytest.raises(ValueError, match="needs num_workers"):
        loader_throughput(plain, batch_size=2, persistent_workers=True)
    with pytest.raises(ValueError, match="epochs=0"):
        loader_throughput(plain, batch_size=2, epochs=0)


def test_step_timing_and_variants():
    clips, labels = _batch(n=4)
    timing = training_step_time(_cnn(), clips, labels, steps=2, warmup=1)
    assert timing["first_s"] > 0 and timing["step_s"] > 0
    bf16 = training_step_time(_cnn(), clips, labels, steps=1, warmup=1, amp=torch.bfloat16)
    assert bf16["step_s"] > 0
    rows = compare_step_variants(_cnn, clips, labels, variants=("eager", "channels_last_3d"), steps=2, warmup=1)
    assert [r["variant"] for r in rows] == ["eager", "channels_last_3d"] and rows[0]["speedup"] == 1.0
    with pytest.raises(ValueError, match="variants"):
        compare_step_variants(_cnn, clips, labels, variants=("fast",))
    with pytest.raises(ValueError, match="labels"):
        training_step_time(_cnn(), clips, labels[:2])
    with pytest.raises(ValueError, match="amp"):
        training_step_time(_cnn(), clips, labels, amp=torch.int8)
