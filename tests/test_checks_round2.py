"""Issue 23, items 12-15: wrong answers that used to pass the exercise checks are rejected, each with a message that
names the cause, while the solution's answer still passes; and a hanging answer keeps a check waiting once."""
from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course.checks import ch01_convolution as ch01
from course.checks import ch02_fast_convolution as ch02
from course.checks import ch05_video_data as ch05
from course.checks import ch06_frames_vs_time as ch06
from course.checks import ch07_3d_convolution as ch07
from course.checks import ch08_c3d as ch08
from course.checks import ch09_rnn_cnn_lstm as ch09
from course.checks import ch10_residual_3d as ch10
from course.checks import ch11_attention_fusion as ch11
from course.checks import ch12_video_transformers as ch12
from course.checks import ch13_training as ch13
from course.checks import ch14_real_videos as ch14
from course.checks import core
from course.checks.core import Case, check_function, check_value, compare
from course.train.calibration import expected_calibration_error as reference_ece


@pytest.fixture(autouse=True)
def lenient(monkeypatch):
    monkeypatch.setenv("COURSE_STRICT_CHECKS", "0")


def messages(result):
    return " | ".join(c.message for c in result.cases if not c.passed)


def failed(result):
    """The failing cases' names, and their messages and hints in one text."""
    bad = [c for c in result.cases if not c.passed]
    return [c.name for c in bad], " | ".join(f"{c.message} {c.hint or ''}" for c in bad)


# =====================================================================================================================
# item 12: numbers are numbers, counts are exact ints
# =====================================================================================================================

@pytest.mark.parametrize("got, expected, words", [
    ("0.3", 0.3, ["string", "expected a number"]),
    (True, 1.0, ["bool", "expected a number"]),
    (np.bool_(False), 0.0, ["bool"]),
    (np.array([0.3]), 0.3, ["not an array", ".item()"]),
    (torch.tensor([0.3]), 0.3, ["not an array", ".item()"]),
    ([0.3], 0.3, ["not an array"]),
    (None, 0.3, ["None"]),
    ("3", 3, ["string", "int"]),
    (True, 1, ["bool", "int"]),
    (np.array([3]), 3, ["not an array"]),
    (3.0, 3, ["a float", "expected an int"]),
    (2.5, 3, ["a float", "not even a whole number"]),
    (3.0, np.int64(3), ["a float"]),
    (True, np.float64(1.0), ["bool"]),
    (1, True, ["a bool"]),
    (np.array([True, False]), np.array([1.0, 0.0]), ["True/False"]),
    (np.array([1.0, 2.0]), np.array([1, 2]), ["whole numbers", "dtype float64"]),
    (torch.tensor([5.0, 9.0]), torch.tensor([5, 9]), ["whole numbers"]),
])
def test_compare_names_the_wrong_type(got, expected, words):
    problem = compare(got, expected)
    assert problem is not None, f"{got!r} passed for {expected!r}"
    for word in words:
        assert word in problem, (word, problem)


@pytest.mark.parametrize("got, expected", [
    (0.3, 0.3), (np.float64(0.3), 0.3), (np.float32(0.5), 0.5), (1, 1.0), (np.int64(0), 0.0),
    (3, 3), (np.int64(3), 3), (3, np.int64(3)), (True, True), (np.array([1.0, 0.0]), np.array([1.0, 0.0])),
    ([1, 2], np.array([1, 2])), (np.array([1, 2], np.int32), torch.tensor([1, 2])),
    (float("nan"), float("nan")),
])
def test_compare_accepts_the_right_types(got, expected):
    assert compare(got, expected) is None


def test_counts_are_exact_in_compare_and_check_value():
    assert compare(78_408_873, 78_409_573) == "expected 78409573, got 78408873"
    assert compare(78_409_574, 78_409_573) is not None        # one parameter off: within any rtol, still wrong
    assert not check_value(78_409_573.0, 78_409_573, title="count", report=False).passed
    assert check_value(78_409_573, 78_409_573, title="count", report=False).passed


def c3d_parameters(num_classes, in_channels=3):
    """The paper's C3D counted by hand: 8 convs (3x3x3, with bias), fc6-fc8."""
    convs = [(in_channels, 64), (64, 128), (128, 256), (256, 256), (256, 512), (512, 512), (512, 512), (512, 512)]
    linears = [(8192, 4096), (4096, 4096), (4096, num_classes)]
    return sum(i * o * 27 + o for i, o in convs) + sum(i * o + o for i, o in linears)


@pytest.mark.parametrize("wrong, words", [
    (lambda n, in_channels=3: c3d_parameters(n, in_channels) - 700, "expected 78409573, got 78408873"),
    (lambda n, in_channels=3: float(c3d_parameters(n, in_channels) - 700), "a float"),
    (lambda n, in_channels=3: float(c3d_parameters(n, in_channels)), "a float"),
    (lambda n, in_channels=3: c3d_parameters(n, in_channels) + 1, "expected 78409573, got 78409574"),
    (lambda n, in_channels=3: str(c3d_parameters(n, in_channels)), "the string"),
    (lambda n, in_channels=3: np.array([c3d_parameters(n, in_channels)]), "not an array"),
])
def test_c3d_num_parameters_is_exact(wrong, words):
    assert ch08.c3d_num_parameters(c3d_parameters).passed
    result = ch08.c3d_num_parameters(wrong)
    assert not result.passed and words in messages(result)


def conv_flops(c_in, c_out, kernel, out_size):       # the solution of chapter 07
    return 2 * c_in * c_out * int(np.prod(kernel)) * int(np.prod(out_size))


@pytest.mark.parametrize("wrong, words", [
    (lambda *a: conv_flops(*a) + 1, "expected 18, got 19"),        # off by one: one 3x3 window has 18 FLOPs
    (lambda *a: conv_flops(*a) - 1, "expected 18, got 17"),
    (lambda *a: float(conv_flops(*a)), "a float"),
    (lambda *a: float(conv_flops(*a) + 1), "a float"),          # within rtol of the large cases: used to pass them
    (lambda *a: str(conv_flops(*a)), "the string"),
    (lambda *a: True, "bool"),
])
def test_conv_flops_is_exact(wrong, words):
    assert ch07.conv_flops(conv_flops).passed
    result = ch07.conv_flops(wrong)
    assert not result.passed and words in messages(result)


def test_number_checks_refuse_strings_and_bools_and_say_what_was_expected():
    right = lambda p, y, b: reference_ece(p, y, num_bins=b)                   # noqa: E731
    assert ch13.expected_calibration_error(right).passed
    as_text = ch13.expected_calibration_error(lambda p, y, b: str(right(p, y, b)))
    assert not as_text.passed and "the string" in messages(as_text) and "expected a number" in messages(as_text)
    as_array = ch13.expected_calibration_error(lambda p, y, b: np.array([right(p, y, b)]))
    assert not as_array.passed and "not an array" in messages(as_array)
    still = ch14.active_fraction(lambda e, c, t: False)           # False == 0.0 used to pass the still-video case
    assert all(not c.passed for c in still.cases) and "the bool False" in messages(still)


# =====================================================================================================================
# item 13: the "sees the order" case needs deterministic, finite outputs first
# =====================================================================================================================

def build_fusion_model(num_classes=10, num_frames=16):        # the solution of chapter 06
    return nn.Sequential(
        nn.Flatten(1, 2),
        nn.Conv2d(3 * num_frames, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes),
    )


class FrameAverage(nn.Module):
    """Order-blind: averages the frames, then a 2D CNN; ``mode`` adds the way it fakes seeing the order."""

    def __init__(self, num_classes, mode):
        super().__init__()
        self.mode, self.num_classes = mode, num_classes
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                 nn.Linear(8, num_classes))

    def forward(self, clips):                                   # (N, 3, T, H, W)
        out = self.net(clips.mean(dim=2))
        if self.mode == "dropout":
            return F.dropout(out, 0.5)                          # training=True by default, even in eval mode
        if self.mode == "randn":
            return torch.randn(clips.shape[0], self.num_classes)
        if self.mode == "nan":
            return out * float("nan")
        return out


@pytest.mark.parametrize("mode, words", [
    ("dropout", "F.dropout(x, p) defaults to training=True"),
    ("randn", "torch.rand/randn"),
    ("nan", "NaN or infinite"),
])
def test_fusion_model_that_averages_frames_cannot_fake_order(mode, words):
    assert ch06.fusion_model(build_fusion_model).passed
    result = ch06.fusion_model(lambda num_classes, num_frames: FrameAverage(num_classes, mode))
    names, text = failed(result)
    assert not result.passed and words in text
    assert "sees the order (reversing the input in time changes the output)" in names
    assert "deterministic" in messages(result) or "finite" in messages(result)
    plain = ch06.fusion_model(lambda num_classes, num_frames: FrameAverage(num_classes, "plain"))
    assert failed(plain)[0] == ["sees the order (reversing the input in time changes the output)"]


def build_sequence_classifier(feature_size, hidden_size, num_classes):   # the solution of chapter 09
    class LastStateLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(feature_size, hidden_size, batch_first=True)
            self.classifier = nn.Linear(hidden_size, num_classes)

        def forward(self, features):
            states, _ = self.lstm(features)
            return self.classifier(states[:, -1])
    return LastStateLSTM()


def averaging_lstm(mode):
    def build(feature_size, hidden_size, num_classes):
        class MeanState(nn.Module):
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(feature_size, hidden_size, batch_first=True)
                self.classifier = nn.Linear(feature_size, num_classes)

            def forward(self, features):                        # averages the frames: order-blind
                out = self.classifier(features.mean(dim=1))
                if mode == "dropout":
                    return F.dropout(out, 0.5)
                if mode == "randn":
                    return torch.randn(features.shape[0], num_classes)
                return out / 0.0 * 0.0                         # NaN
        return MeanState()
    return build


@pytest.mark.parametrize("mode, words", [
    ("dropout", "training=self.training"), ("randn", "something random"), ("nan", "NaN or infinite")])
def test_sequence_classifier_that_averages_cannot_fake_order(mode, words):
    assert ch09.sequence_classifier(build_sequence_classifier).passed
    result = ch09.sequence_classifier(averaging_lstm(mode))
    names, text = failed(result)
    assert not result.passed and words in text
    assert "sees the order (reversing the input in time changes the output)" in names


# =====================================================================================================================
# item 14: chapter 13 (ECE, splits), 14 (ties, types, messages), 11 (a Python float), 10 (a NumPy array)
# =====================================================================================================================

def ece_solution(probs, labels, num_bins):                    # the solution of chapter 13
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, num_bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        in_bin = (confidence > lo) & (confidence <= hi)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


def ece_no_bins(probs, labels, num_bins):
    return float(abs((probs.argmax(1) == labels).mean() - probs.max(1).mean()))


def ece_one_bin_too_few(probs, labels, num_bins):
    return ece_solution(probs, labels, max(num_bins - 1, 1))


def ece_left_closed(probs, labels, num_bins):                 # bins [lo, hi), the last one [lo, 1]
    confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, num_bins + 1)
    ece = 0.0
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        in_bin = (confidence >= lo) & ((confidence < hi) if i < num_bins - 1 else (confidence <= hi))
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(ece)


@pytest.mark.parametrize("wrong, case, words", [
    (ece_no_bins, "over-confident in some bins, under-confident in others (10 bins)", "must not cancel"),
    (ece_one_bin_too_few, "the same predictions in 5 bins", "num_bins + 1"),
    (ece_left_closed, "confidences exactly on bin edges (0.5, 0.75 with 4 bins)", "a bin is (lo, hi]"),
])
def test_ece_wrong_binnings_are_rejected(wrong, case, words):
    assert ch13.expected_calibration_error(ece_solution).passed
    result = ch13.expected_calibration_error(wrong)
    names, text = failed(result)
    assert case in names and words in text


def stratified_solution(labels, val_fraction, seed):
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(labels)), test_size=val_fraction, stratify=labels, random_state=seed)


def stratified_seed_ignored(labels, val_fraction, seed):
    return stratified_solution(labels, val_fraction, 0)


def stratified_global_rng(labels, val_fraction, seed):
    return stratified_solution(labels, val_fraction, int(np.random.randint(1 << 30)))


def stratified_last_k(labels, val_fraction, seed):
    labels = np.asarray(labels)
    val = np.concatenate([np.flatnonzero(labels == c)[-round(val_fraction * np.sum(labels == c)):]
                          for c in np.unique(labels)])
    return np.setdiff1d(np.arange(len(labels)), val), val


def group_solution(groups, val_fraction, seed):
    groups = np.asarray(groups)
    names = np.unique(groups)
    rng = np.random.default_rng(seed)
    val_groups = rng.choice(names, size=max(1, round(val_fraction * len(names))), replace=False)
    in_val = np.isin(groups, val_groups)
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


def group_seed_ignored(groups, val_fraction, seed):
    return group_solution(groups, val_fraction, 0)


def group_last_k(groups, val_fraction, seed):
    groups = np.asarray(groups)
    names = np.unique(groups)
    in_val = np.isin(groups, names[len(names) - max(1, round(val_fraction * len(names))):])
    return np.flatnonzero(~in_val), np.flatnonzero(in_val)


@pytest.mark.parametrize("check, solution, wrong, words", [
    (ch13.stratified_split, stratified_solution, stratified_seed_ignored, "gave the same validation set"),
    (ch13.stratified_split, stratified_solution, stratified_global_rng, "twice gave two different splits"),
    (ch13.stratified_split, stratified_solution, stratified_last_k, "the last samples of every class"),
    (ch13.group_split, group_solution, group_seed_ignored, "gave the same validation set"),
    (ch13.group_split, group_solution, group_last_k, "the validation groups are the last ones"),
])
def test_splits_need_the_seed_and_a_random_choice(check, solution, wrong, words):
    assert check(solution).passed
    result = check(wrong)
    assert not result.passed and words in messages(result)


def active_fraction_solution(energy, clip_len, threshold):    # the solution of chapter 14
    energy = np.asarray(energy, dtype=float)
    if clip_len - 1 > len(energy) or clip_len < 2:
        return float(energy.mean() >= threshold)
    means = np.convolve(energy, np.ones(clip_len - 1) / (clip_len - 1), mode="valid")
    return float((means >= threshold).mean())


def active_fraction_strict(energy, clip_len, threshold):      # > where the exercise says "at least"
    energy = np.asarray(energy, dtype=float)
    if clip_len - 1 > len(energy) or clip_len < 2:
        return float(energy.mean() > threshold)
    means = np.convolve(energy, np.ones(clip_len - 1) / (clip_len - 1), mode="valid")
    return float((means > threshold).mean())


def test_active_fraction_counts_ties_as_motion():
    assert ch14.active_fraction(active_fraction_solution).passed
    names, text = failed(ch14.active_fraction(active_fraction_strict))
    assert names == ["clips exactly at the threshold count as moving"] and ">=, not >" in text


def trainable_share(model):                                    # the solution of chapter 11
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad) / total


@pytest.mark.parametrize("wrong, words", [
    (lambda m: torch.tensor(trainable_share(m), dtype=torch.float64), "returned a tensor (torch.float64"),
    (lambda m: torch.tensor(trainable_share(m), dtype=torch.float32), "returned a tensor (torch.float32"),
    (lambda m: np.float32(trainable_share(m)), "NumPy float32"),
    (lambda m: str(trainable_share(m)), "the string"),
])
def test_trainable_share_must_be_a_python_float(wrong, words):
    assert ch11.trainable_share(trainable_share).passed
    result = ch11.trainable_share(wrong)
    assert all(not c.passed for c in result.cases)
    assert words in messages(result) and "Python float" in messages(result)
    assert "p.numel()" not in messages(result)                  # the message is about the type, not the counting


def edge_ratios(conv2d, image, num_frames):                    # the solution of chapter 10
    w3d = conv2d.weight.detach().unsqueeze(2).repeat(1, 1, 3, 1, 1) / 3
    clip = image.unsqueeze(2).repeat(1, 1, num_frames, 1, 1)
    with torch.no_grad():
        out3d = F.conv3d(clip, w3d, padding=(1, *conv2d.padding))
        out2d = conv2d(image)
    return [float((out3d[:, :, t] * out2d).sum() / (out2d ** 2).sum()) for t in range(num_frames)]


@pytest.mark.parametrize("wrong, words", [
    (lambda *a: torch.tensor(edge_ratios(*a)), "return a NumPy array: .detach().numpy()"),
    (lambda *a: edge_ratios(*a), "expected a NumPy array"),
])
def test_zero_padding_edge_ratios_must_be_an_array(wrong, words):
    assert ch10.zero_padding_edge_ratios(lambda *a: np.array(edge_ratios(*a))).passed
    result = ch10.zero_padding_edge_ratios(wrong)
    assert not result.passed and words in messages(result)


def busiest_solution(energy, clip_len):
    energy = np.asarray(energy, dtype=float)
    span = clip_len - 1
    if span > len(energy) or span < 1:
        return 0
    return int(np.argmax(np.convolve(energy, np.ones(span), mode="valid")))


def test_busiest_clip_start_says_a_float_is_not_a_start_frame():
    assert ch14.busiest_clip_start(busiest_solution).passed
    as_float = ch14.busiest_clip_start(lambda e, c: float(busiest_solution(e, c)))
    assert all(not c.passed for c in as_float.cases)
    assert "a float: a start frame is an index, so return an int" in messages(as_float)
    off = ch14.busiest_clip_start(lambda e, c: float(busiest_solution(e, c) + 1))
    assert "a float" in messages(off) and "the value is wrong too" in messages(off)


def person_split_solution(names, persons):
    out = {subset: [] for subset in persons}
    for name in names:
        person = int(name[len("person"):len("person") + 2])
        for subset, members in persons.items():
            if person in members:
                out[subset].append(name)
    return out


def person_split_sorted(names, persons):
    return {subset: sorted(found) for subset, found in person_split_solution(names, persons).items()}


def person_split_one_digit(names, persons):
    out = {subset: [] for subset in persons}
    for name in names:
        for subset, members in persons.items():
            if int(name[7]) in members:
                out[subset].append(name)
    return out


def test_person_split_messages_say_what_is_wrong():
    assert ch14.person_split(person_split_solution).passed
    order = ch14.person_split(person_split_sorted)
    assert not order.passed and "the right names, but in a different order — keep the order of `names`" in \
        messages(order)
    digit = ch14.person_split(person_split_one_digit)
    assert not digit.passed and "missing" in messages(digit)
    no_empty = ch14.person_split(lambda n, p: {k: v for k, v in person_split_solution(n, p).items() if v})
    assert "missing ['test']" in messages(no_empty) and "even an empty one" in messages(no_empty)


# =====================================================================================================================
# item 15: a learner function that never returns keeps a check waiting once
# =====================================================================================================================

def test_output_size_that_never_returns_waits_one_time_limit_not_seven():
    calls = []

    def forever(n, k, p, s, d=1):
        calls.append(n)
        while True:
            pass

    start = time.perf_counter()
    result = ch01.output_size(forever)
    elapsed = time.perf_counter() - start
    assert len(calls) == 1 and elapsed < core.DEFAULT_TIME_LIMIT + 3, (len(calls), elapsed)
    assert "did not return within 10 s" in result.cases[0].message
    assert all("skipped" in c.message for c in result.cases[1:]) and len(result.cases) == 7


@pytest.fixture
def short_limit(monkeypatch):
    """Every guarded call gets 0.3 s, so hanging answers are quick to test."""
    real = core.run_guarded
    monkeypatch.setattr(core, "run_guarded", lambda thunk, time_limit=None: real(thunk, 0.3))


def hang(calls):
    def forever(*args, **kwargs):
        calls.append(1)
        while True:
            pass
    return forever


class HangingModel(nn.Module):
    def __init__(self, calls):
        super().__init__()
        self.calls = calls
        self.lstm = nn.LSTM(2, 2)
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        self.calls.append(1)
        while True:
            pass


@pytest.mark.parametrize("name, run", [
    ("ch01 output_size", lambda calls: ch01.output_size(hang(calls))),
    ("ch02 gradient_check", lambda calls: ch02.gradient_check(hang(calls))),
    ("ch05 random_crop_clip", lambda calls: ch05.random_crop_clip(hang(calls))),
    ("ch07 conv_flops", lambda calls: ch07.conv_flops(hang(calls))),
    ("ch08 shuffle_frames", lambda calls: ch08.shuffle_frames(hang(calls))),
    ("ch12 tubelet_vectors", lambda calls: ch12.tubelet_vectors(hang(calls))),
    ("ch12 permutation_lesson", lambda calls: ch12.permutation_lesson(hang(calls), hang(calls))),
    ("ch13 expected_calibration_error", lambda calls: ch13.expected_calibration_error(hang(calls))),
    ("ch06 fusion_model, hanging build", lambda calls: ch06.fusion_model(hang(calls))),
    ("ch06 fusion_model, hanging forward", lambda calls: ch06.fusion_model(lambda *a: HangingModel(calls))),
    ("ch09 sequence_classifier", lambda calls: ch09.sequence_classifier(lambda *a: HangingModel(calls))),
    ("ch11 adapter_module", lambda calls: ch11.adapter_module(lambda *a: HangingModel(calls))),
])
def test_after_a_case_times_out_the_rest_are_skipped(short_limit, name, run):
    calls: list = []
    start = time.perf_counter()
    result = run(calls)
    assert len(calls) == 1, f"{name}: the hanging answer was called {len(calls)} times"
    assert time.perf_counter() - start < 5
    assert not result.passed
    timed_out = [i for i, c in enumerate(result.cases) if "did not return within" in c.message]
    assert len(timed_out) == 1
    assert all("not run" in c.message for c in result.cases[timed_out[0] + 1:])


def test_a_timeout_error_raised_by_the_learner_is_not_a_time_limit():
    def raises(x):
        raise TimeoutError("my socket")

    result = check_function(raises, [Case((1,)), Case((2,))], title="t", reference=lambda x: x, report=False)
    assert all("TimeoutError: my socket" in c.message for c in result.cases)   # both cases ran
