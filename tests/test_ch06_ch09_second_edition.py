"""Chapters 06-09, second edition: the training recipe, the new exercise checks (fusion model, frame shuffling,
sequence classifier, trained-model checks), the chapter 07-09 figures and c3d_small's BatchNorm option."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

from course.checks import ch06_frames_vs_time as ch06  # noqa: E402
from course.checks import ch08_c3d as ch08  # noqa: E402
from course.checks import ch09_rnn_cnn_lstm as ch09  # noqa: E402
from course.data import MovingShapes, tensor_dataset  # noqa: E402
from course.models import c3d_small, load_pretrained  # noqa: E402
from course.train.recipes import train_one_cycle  # noqa: E402
from course.viz.costs import plot_costs  # noqa: E402
from course.viz.receptive_field import (Layer3d, default_explorer_layer, format_receptive_field_table,  # noqa: E402
                                        receptive_field_explorer)
from course.viz.recurrent import (compare_video_models, format_comparison, gradient_through_time,  # noqa: E402
                                  plot_gate_blocks, plot_gradients_through_time, plot_model_comparison)


@pytest.fixture(autouse=True)
def _lenient_checks(monkeypatch):
    monkeypatch.delenv("COURSE_STRICT_CHECKS", raising=False)   # failing cases are what these tests look at
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def test_clips():
    return tensor_dataset(MovingShapes("test", num_clips=60))


# --- the training recipe ----------------------------------------------------------------------------------------------

def test_train_one_cycle_reduces_the_loss_on_a_learnable_task():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=g)
    y = (x[:, 0] > 0).long()
    model = nn.Linear(6, 2)
    history = train_one_cycle(model, TensorDataset(x, y), TensorDataset(x, y), epochs=4, batch_size=16,
                              progress=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert len(history["val_loss"]) == 4


@pytest.mark.parametrize("kwargs, match", [({"epochs": 0}, "epochs"), ({"epochs": 2, "batch_size": 0}, "batch_size"),
                                           ({"epochs": 2, "lr": -1.0}, "lr")])
def test_train_one_cycle_rejects_bad_arguments(kwargs, match):
    data = TensorDataset(torch.randn(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=match):
        train_one_cycle(nn.Linear(3, 2), data, progress=False, **kwargs)


def test_train_one_cycle_rejects_a_non_module():
    with pytest.raises(TypeError, match="model"):
        train_one_cycle("model", TensorDataset(torch.randn(4, 3)), epochs=1)


# --- chapter 06: the fusion model exercise --------------------------------------------------------------------------

def _early_fusion(num_classes, num_frames):
    return nn.Sequential(nn.Flatten(1, 2), nn.Conv2d(3 * num_frames, 8, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, num_classes))


class _MeanOfFrames(nn.Module):          # order-blind: a 2D layer per frame, averaged over time
    def __init__(self, num_classes):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        n, c, t, h, w = x.shape
        f = self.conv(x.transpose(1, 2).reshape(n * t, c, h, w)).mean(dim=(2, 3)).reshape(n, t, -1).mean(dim=1)
        return self.fc(f)


def test_fusion_model_check_passes_an_early_fusion_model():
    assert ch06.fusion_model(_early_fusion).passed


def test_fusion_model_check_catches_an_order_blind_model():
    result = ch06.fusion_model(lambda k, t: _MeanOfFrames(k))
    failed = [c.name for c in result.cases if not c.passed]
    assert failed == ["sees the order (reversing the input in time changes the output)"]


def test_fusion_model_check_reports_wrong_shapes_and_unfinished_work():
    wrong = ch06.fusion_model(lambda k, t: nn.Sequential(nn.Flatten(), nn.LazyLinear(3)))
    assert not wrong.cases[1].passed and "(2, 10)" in wrong.cases[1].message

    def unfinished(k, t):
        raise NotImplementedError

    result = ch06.fusion_model(unfinished)
    assert result.not_implemented and result.n_passed == 0
    assert not ch06.fusion_model("not a function").passed


def test_trained_video_model_check_on_a_shipped_model_and_on_failures(test_clips):
    trained = load_pretrained("early_fusion_moving_shapes")
    assert ch06.trained_video_model(trained, {"train_loss": [2.3, 0.5]}, test_clips).passed
    loss_up = ch06.trained_video_model(trained, {"train_loss": [0.5, 2.3]}, test_clips)
    assert [c.passed for c in loss_up.cases] == [False, True, True]
    blind = ch06.trained_video_model(load_pretrained("late_fusion_moving_shapes"), {"train_loss": [2.3, 1.9]},
                                     test_clips)
    assert not blind.cases[2].passed and "within-pair" in blind.cases[2].message


# --- chapter 08: shuffling frames and the frame-shuffle test --------------------------------------------------------

def _shuffle_each(clips, generator):
    out = clips.clone()
    for n in range(len(clips)):
        out[n] = clips[n][:, torch.randperm(clips.shape[2], generator=generator)]
    return out


def test_shuffle_frames_check_passes_a_right_answer_and_names_each_mistake():
    assert ch08.shuffle_frames(_shuffle_each).passed
    same_order = ch08.shuffle_frames(lambda c, g: c[:, :, torch.randperm(c.shape[2], generator=g)])
    assert [c.passed for c in same_order.cases] == [True, True, True, False, True]
    identity = ch08.shuffle_frames(lambda c, g: c.clone())
    assert not identity.cases[2].passed
    duplicated = ch08.shuffle_frames(lambda c, g: c[:, :, torch.zeros(c.shape[2], dtype=torch.long)])
    assert not duplicated.cases[1].passed and "permutation" in duplicated.cases[1].message

    def in_place(c, g):
        c[:] = c.flip(2)
        return c

    assert not ch08.shuffle_frames(in_place).cases[4].passed


def test_frame_shuffle_test_collapses_the_shipped_c3d(test_clips):
    model = load_pretrained("c3d_small_moving_shapes")
    assert ch08.frame_shuffle_test(model, test_clips, _shuffle_each).passed
    not_shuffled = ch08.frame_shuffle_test(model, test_clips, lambda c, g: c)
    assert [c.passed for c in not_shuffled.cases] == [True, False]


# --- chapter 09: the sequence classifier --------------------------------------------------------------------------

class _LastState(nn.Module):
    def __init__(self, f, h, k):
        super().__init__()
        self.lstm, self.fc = nn.LSTM(f, h, batch_first=True), nn.Linear(h, k)

    def forward(self, x):
        return self.fc(self.lstm(x)[0][:, -1])


def test_sequence_classifier_check():
    assert ch09.sequence_classifier(_LastState).passed
    per_frame = ch09.sequence_classifier(lambda f, h, k: nn.Sequential(nn.Linear(f, k)))
    # a Linear over every frame keeps the time axis: wrong shape (so nothing to compare), no recurrent layer
    assert [c.passed for c in per_frame.cases] == [True, False, False, False, False]

    class MeanThenLinear(nn.Module):
        def __init__(self, f, h, k):
            super().__init__()
            self.fc = nn.Linear(f, k)

        def forward(self, x):
            return self.fc(x.mean(dim=1))

    blind = ch09.sequence_classifier(MeanThenLinear)
    # finite and deterministic, but blind to the order; and no recurrent layer
    assert [c.passed for c in blind.cases] == [True, True, True, False, False]


def test_trained_sequence_classifier_check_fails_an_untrained_reader():
    feats = TensorDataset(torch.randn(40, 16, 128), torch.arange(40) % 10)
    torch.manual_seed(0)
    result = ch09.trained_sequence_classifier(_LastState(128, 8, 10), {"train_loss": [2.3, 2.2]}, feats)
    assert result.cases[0].passed and not result.passed


# --- figures and helpers of chapters 07-09 --------------------------------------------------------------------------

def test_plot_costs_draws_and_validates():
    ax = plot_costs({"a": 1.0, "b": 10.0}, xlabel="ms", log=True, title="t")
    assert ax.get_xscale() == "log" and [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    with pytest.raises(TypeError, match="values"):
        plot_costs({}, xlabel="ms")
    with pytest.raises(ValueError, match="non-negative"):
        plot_costs({"a": -1.0}, xlabel="ms")
    with pytest.raises(ValueError, match="positive with log"):
        plot_costs({"a": 0.0}, xlabel="ms", log=True)
    with pytest.raises(ValueError, match="xlabel"):
        plot_costs({"a": 1.0}, xlabel="")


def test_plot_gate_blocks_titles_do_not_overlap_the_suptitle():
    fig = plot_gate_blocks(np.random.default_rng(0).standard_normal((32, 5)), "ifgo")
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        assert not ax.title.get_window_extent(renderer).overlaps(top)
    with pytest.raises(ValueError, match="weight"):
        plot_gate_blocks(np.zeros((7, 5)), "ifgo")


def test_gradient_through_time_shape_and_errors():
    torch.manual_seed(0)
    g = gradient_through_time(nn.LSTM(3, 4, batch_first=True), torch.randn(2, 9, 3))
    assert g.shape == (9,) and np.all(g >= 0)
    ax = plot_gradients_through_time({"lstm": g})
    assert "$x_{T-k}$" in ax.get_ylabel()
    with pytest.raises(ValueError, match="x"):
        gradient_through_time(nn.LSTM(3, 4, batch_first=True), torch.randn(9, 3))
    with pytest.raises(TypeError, match="model"):
        gradient_through_time("lstm", torch.randn(2, 9, 3))


def test_compare_video_models_and_its_figure(test_clips):
    from torch.utils.data import DataLoader

    clips, labels = test_clips.tensors
    loader = DataLoader(test_clips, batch_size=30)
    reversed_loader = DataLoader(TensorDataset(clips.flip(2), labels), batch_size=30)
    rows = compare_video_models({"early": load_pretrained("early_fusion_moving_shapes")}, loader, reversed_loader,
                                clips[:1], pairs=MovingShapes.pairs, repeats=1, progress=False)
    r = rows["early"]
    assert r["same answer reversed"] < 0.5 and r["within-pair acc"] > 0.75 and r["parameters"] > 0
    assert "early" in format_comparison(rows)
    fig = plot_model_comparison(rows)
    assert fig.legends and fig.axes[1].get_ylabel() == "within-pair accuracy"
    with pytest.raises(ValueError, match="one_clip"):
        compare_video_models({"early": nn.Identity()}, loader, reversed_loader, clips[:2], pairs=MovingShapes.pairs)


C3D_GEOMETRY = ([Layer3d("conv1", 3, 1, 1), Layer3d("pool1", (1, 2, 2), (1, 2, 2))]
                + [Layer3d("conv2", 3, 1, 1), Layer3d("pool2", 2, 2)]
                + [Layer3d("conv3", 3, 1, 1), Layer3d("pool3", 2, 2)]
                + [Layer3d("conv4", 3, 1, 1), Layer3d("pool4", 2, 2)]
                + [Layer3d("conv5", 3, 1, 1), Layer3d("pool5", 2, 2, (0, 1, 1))])


def test_receptive_field_explorer_opens_where_every_slider_moves(monkeypatch):
    index = default_explorer_layer(C3D_GEOMETRY, (16, 112, 112))
    assert C3D_GEOMETRY[index].name == "conv5"           # pool5's output has one frame: its 'out t' cannot move
    assert "receptive field" in format_receptive_field_table(C3D_GEOMETRY, (16, 112, 112))
    pytest.importorskip("ipywidgets")
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    clip = np.zeros((16, 112, 112))
    widget = receptive_field_explorer(clip, C3D_GEOMETRY)
    assert widget.children[0].value == index and widget.children[1].children[0].max > 0
    with pytest.raises(ValueError, match="layer_index"):
        receptive_field_explorer(clip, C3D_GEOMETRY, layer_index=99)


# --- c3d_small's BatchNorm option -----------------------------------------------------------------------------------

def test_c3d_small_without_batch_norm_and_default_unchanged():
    plain = c3d_small(10, batch_norm=False)
    assert not any(isinstance(m, nn.BatchNorm3d) for m in plain.modules())
    assert plain.features.conv1.conv.bias is not None
    default = c3d_small(10)
    assert sum(isinstance(m, nn.BatchNorm3d) for m in default.modules()) == 8
    assert set(default.state_dict()) == set(load_pretrained("c3d_small_moving_shapes").state_dict())
    assert plain(torch.rand(2, 3, 16, 32, 32)).shape == (2, 10)
    with pytest.raises(TypeError, match="batch_norm"):
        c3d_small(10, batch_norm="no")
