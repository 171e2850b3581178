"""Every figure the course draws is readable: no overlapping titles or labels, no text smaller than 8 pt.

``FIGURES`` below lists every figure-producing function of ``course.viz`` (and the plotting helpers of
``course.train`` that the chapters use) with small inputs. Each entry is rendered with the Agg backend and checked by
:func:`figure_problems`:

- **font size**: every visible text (titles, labels, tick labels, legends, annotations) must be at least
  ``MIN_POINTS`` as *displayed*. JupyterLab shrinks a figure wider than the notebook column to fit, so text in a figure
  whose (tight) width exceeds ``DISPLAY_WIDTH_INCHES`` is scaled down by the same factor before the comparison;
- **overlap**: the boxes of the figure's suptitle, every axes' titles and axis labels and every legend must not
  overlap one another (e.g. a suptitle drawn over the subplot titles).

Adding a figure function to ``course.viz``? Add a row to ``FIGURES``. The last tests show that the checker fails on
deliberately bad figures, so a green run means something.
"""
from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

MIN_POINTS = 8.0
LAST_CHAPTER = 19             # modules of chapters up to this one must all be in FIGURES (see the test at the end)
DISPLAY_WIDTH_INCHES = 10.0   # about what a JupyterLab notebook column shows at 100 dpi before it shrinks a figure


# --------------------------------------------------------------------------------------------------------------------
# The checker
# --------------------------------------------------------------------------------------------------------------------

def _named_boxes(fig, renderer) -> list[tuple[str, object]]:
    """(name, display-space bbox) of every title, axis label and legend of ``fig``."""
    boxes = []

    def add(name, text):
        if text is not None and text.get_visible() and text.get_text().strip():
            boxes.append((name, text.get_window_extent(renderer)))

    add("suptitle", getattr(fig, "_suptitle", None))
    add("supxlabel", getattr(fig, "_supxlabel", None))
    add("supylabel", getattr(fig, "_supylabel", None))
    all_axes = list(fig.axes)
    for ax in list(all_axes):
        all_axes += [child for child in getattr(ax, "child_axes", []) if child not in all_axes]
    for k, ax in enumerate(all_axes):
        if not ax.get_visible():
            continue
        for which, title in (("title", ax.title), ("left title", ax._left_title), ("right title", ax._right_title)):
            add(f"axes {k} {which} {title.get_text()!r}", title)
        add(f"axes {k} xlabel {ax.xaxis.label.get_text()!r}", ax.xaxis.label)
        add(f"axes {k} ylabel {ax.yaxis.label.get_text()!r}", ax.yaxis.label)
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            boxes.append((f"axes {k} legend", legend.get_window_extent(renderer)))
    for k, legend in enumerate(fig.legends):
        if legend.get_visible():
            boxes.append((f"figure legend {k}", legend.get_window_extent(renderer)))
    return boxes


def figure_problems(fig) -> list[str]:
    """What makes ``fig`` hard to read: texts below ``MIN_POINTS`` as displayed, and overlapping title/label boxes."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    problems = []
    width = fig.get_tightbbox(renderer).width  # inches
    shrink = min(1.0, DISPLAY_WIDTH_INCHES / width)
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip():
            continue
        if text.axes is not None and not text.axes.get_visible():
            continue
        shown = text.get_fontsize() * shrink
        if shown < MIN_POINTS - 1e-6:
            why = f" (drawn at {text.get_fontsize():.1f} pt in a {width:.1f} in wide figure)" if shrink < 1 else ""
            problems.append(f"text {text.get_text()[:40]!r} is {shown:.1f} pt as displayed{why}")
    for (name_a, a), (name_b, b) in itertools.combinations(_named_boxes(fig, renderer), 2):
        overlap_w = min(a.x1, b.x1) - max(a.x0, b.x0)
        overlap_h = min(a.y1, b.y1) - max(a.y0, b.y0)
        if overlap_w > 1 and overlap_h > 1:  # more than a pixel of shared ink box
            problems.append(f"{name_a} overlaps {name_b}")
    return problems


# --------------------------------------------------------------------------------------------------------------------
# The figures: one row per figure-producing function, with small inputs
# --------------------------------------------------------------------------------------------------------------------

def _digits_images(n=12):
    rng = np.random.default_rng(0)
    return rng.random((n, 8, 8))


def _clip_uint8(t=8, h=24, w=32):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)


def _history(epochs=3):
    from course.train import History

    h = History()
    for e in range(epochs):
        h.append({"epoch": e + 1, "train_loss": 1.0 / (e + 1), "train_acc": 0.5 + 0.1 * e, "val_loss": 1.1 / (e + 1),
                  "val_acc": 0.45 + 0.1 * e, "lr": 0.1 / (e + 1), "seconds": 0.1})
    return h


def _welcome_frame_slider():
    from course.viz import welcome

    welcome.frame_slider(welcome.bouncing_ball_clip(6, size=24, radius=3.0))


def _conv_pixel_values():
    from course.viz import convolution

    gray = np.linspace(0, 1, 40 * 50).reshape(40, 50)
    convolution.show_pixel_values(gray, top=10, left=20, size=8)


def _conv_footprints():
    from course.viz import convolution

    convolution.plot_footprints(11, 3, [(1, 1), (2, 1), (1, 2), (2, 2)])


def _conv_kernel_explorer():
    from course.viz import convolution

    convolution.kernel_explorer(np.ones((6, 6)))


def _conv_show_images_row():
    from course.viz import convolution

    convolution.show_images(list(_digits_images(10)), [f"label {i}" for i in range(10)], ncols=10, size=1.2)


def _conv_show_images_grid():
    from course.viz import convolution

    convolution.show_images(list(_digits_images(17)), ["input digit"] + [f"map {i}" for i in range(16)], ncols=9,
                            size=1.3)


def _conv_plot_filters():
    from course.viz import convolution

    convolution.plot_filters(np.random.default_rng(0).standard_normal((16, 1, 3, 3)), title="learned 3x3 filters")


def _conv_plot_history():
    from course.viz import convolution

    convolution.plot_history({"train_loss": [2.0, 1.0, 0.5], "train_acc": [0.3, 0.6, 0.8],
                              "test_acc": [0.3, 0.55, 0.75]})


def _training_lr_schedules():
    from course.viz import training

    steps = np.arange(100)
    training.plot_lr_schedules({"constant": [0.1] * 100, "warm-up + cosine": list(0.1 * np.cos(steps / 70)),
                                "warm-up + step decay (x0.3 every 2 epochs)": list(0.1 * 0.3 ** (steps // 30))},
                               xlabel="step (batch); 34 steps per epoch")


def _training_compare_histories():
    from course.viz import training

    runs = {f"{name}, seed {s}": _history() for name in ("no warm-up", "warm-up") for s in range(3)}
    training.compare_histories(runs, ("train_loss", "val_acc", "lr"), title="Adam at lr 0.2, with and without warm-up")


def _training_compare_optimizers():
    from course.viz import training

    runs = {name: _history() for name in ("SGD, lr 0.05", "SGD + momentum 0.9, lr 0.05", "Adam, lr 0.001",
                                                   "Adam, lr 0.01")}
    training.compare_histories(runs, ("train_loss", "val_acc"), title="same start, same batches, four optimizers")


def _training_show_mistakes():
    from course.viz import training

    training.show_mistakes(_digits_images(12), np.arange(12) % 10, (np.arange(12) + 1) % 10)


def _train_history_plot():
    _history().plot(title="the Part I CNN, trained in PyTorch")


def _train_confusion_matrix():
    from course import train

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 200)
    train.plot_confusion_matrix(np.where(rng.random(200) < 0.8, labels, rng.integers(0, 10, 200)), labels,
                                class_names=[str(d) for d in range(10)], title="digits, test set")


def _video_show_frames():
    from course.viz import video

    video.show_frames(_clip_uint8(), 6, title="our hand-made video: 6 of its frames")


def _video_stats_figure():
    from course.viz import video

    video.stats_figure(video.frame_stats(_clip_uint8()), fps=12)


def _video_scrubber():
    from course.viz import video

    video.video_scrubber(_clip_uint8(), fps=12, width=64, title="clip")


def _video_augmentation_preview():
    from course import data
    from course.viz import video

    video.augmentation_preview(_clip_uint8(8, 40, 48), data.train_transform(24, resize=(32, 40)))


def _video_sampling_timeline():
    from course.viz import video

    picks = {"random clip": np.arange(10, 26), "uniform": np.linspace(0, 249, 16).astype(int)}
    video.sampling_timeline(250, picks, fps=25)


def _frames_vs_time_pair_confusions():
    from course.viz import frames_vs_time

    rng = np.random.default_rng(0)
    classes = ["move_right", "move_left", "move_up", "move_down", "grow", "shrink"]
    labels = rng.integers(0, 6, 120)
    frames_vs_time.plot_pair_confusions(labels ^ (rng.random(120) < 0.3), labels, classes, [(0, 1), (2, 3), (4, 5)],
                                        title="pairs")


def _motion_plot_kernel():
    from course.viz import motion

    motion.plot_kernel(np.random.default_rng(0).standard_normal((3, 3, 3)))


def _motion_plot_responses():
    from course.viz import motion

    pattern = motion.square_pattern(12, 3)
    motion.plot_motion_responses({f"v={v}": motion.moving_clip(pattern, v, 6) for v in (-1, 0, 1)},
                                 np.random.default_rng(0).standard_normal((3, 3, 3)))


def _rf_layers():
    from course.viz.receptive_field import Layer3d

    return [Layer3d("conv1", (3, 3, 3), (1, 1, 1), (1, 1, 1)), Layer3d("pool1", (1, 2, 2), (1, 2, 2), (0, 0, 0)),
            Layer3d("conv2", (3, 3, 3), (1, 1, 1), (1, 1, 1)), Layer3d("pool2", (2, 2, 2), (2, 2, 2), (0, 0, 0))]


def _rf_growth():
    from course.viz import receptive_field

    receptive_field.plot_receptive_field_growth(_rf_layers())


def _rf_show():
    from course.viz import receptive_field

    receptive_field.show_receptive_field(np.random.default_rng(0).random((8, 16, 16)), _rf_layers(), 3, (1, 2, 2))


def _rf_explorer():
    from course.viz import receptive_field

    receptive_field.receptive_field_explorer(np.random.default_rng(0).random((8, 16, 16)), _rf_layers())


def _recurrent_gate_blocks():
    from course.viz import recurrent

    recurrent.plot_gate_blocks(np.random.default_rng(0).standard_normal((16, 6)), ["input", "forget", "cell", "output"])


def _recurrent_gradients():
    from course.viz import recurrent

    k = np.arange(16)
    recurrent.plot_gradients_through_time({"RNN": 0.7 ** k, "LSTM": 0.95 ** k})


def _recurrent_model_comparison():
    from course.viz import recurrent

    row = lambda a, w: {"test acc": a, "pair acc": 0.9, "within-pair acc": w, "same answer reversed": 0.2,
                        "parameters": 20_000, "MFLOPs / clip": 12.0, "CPU ms/clip": 3.0, "CPU ms / clip": 3.0}
    recurrent.plot_model_comparison({"single frame": row(0.45, 0.5), "C3D (small)": row(0.8, 0.85),
                                     "CNN-LSTM": row(0.75, 0.8)})


def _c3d_filter_frames():
    from course.viz import c3d

    c3d.plot_filter_frames(np.random.default_rng(0).standard_normal((8, 3, 3, 3, 3)))


def _c3d_animate_filters():
    from course.viz import c3d

    c3d.animate_filters(np.random.default_rng(0).standard_normal((8, 3, 3, 3, 3)))


def _c3d_clip_strip():
    from course.viz import c3d

    c3d.plot_clip_strip(np.random.default_rng(0).random((3, 8, 16, 16)), title="clip")


def _costs_plot_costs():
    from course.viz import costs

    costs.plot_costs({"NumPy, naive loops": 900.0, "NumPy, sliding windows": 12.0, "torch conv3d": 1.5},
                     xlabel="milliseconds per call", title="conv3d", log=True)


# chapters 10-14 ------------------------------------------------------------------------------------------------------

def _moving_clip(t=16, size=32):
    """A (3, T, size, size) float clip in [0, 1]: a coloured square sliding right over a grey background."""
    clip = np.full((3, t, size, size), 0.3, dtype=np.float32)
    for f in range(t):
        x = 2 + f
        clip[:, f, 10:18, x:x + 8] = np.array([0.9, 0.6, 0.1], dtype=np.float32)[:, None, None]
    return clip


def _recorded(name):
    from course.train import recorded_runs

    record = recorded_runs(name)   # course/results/<name>.json, what the notebooks show
    assert record is not None, f"course/results/{name}.json is missing"
    return record


def _residual_gradient_norms():
    from course.viz import residual

    layers = np.arange(33)
    residual.plot_gradient_norms({"plain (33 convs)": 1e-7 * 2.0 ** layers / 1e3,
                                  "residual (33 convs)": 1e-2 * 1.05 ** layers})


def _residual_runs_pair():
    """As chapter 10 draws them: training loss and validation accuracy side by side (the notebook's figure size)."""
    from course.viz import residual

    runs = {"inflated from 2D pretraining": {"train_loss": [1.9, 1.2, 0.8, 0.5, 0.4],
                                             "val_acc": [0.4, 0.6, 0.8, 0.9, 0.93]},
            "same network from scratch": {"train_loss": [2.2, 1.9, 1.5, 1.1, 0.9],
                                          "val_acc": [0.15, 0.3, 0.5, 0.6, 0.7]}}
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6))
    residual.plot_runs({k: h["train_loss"] for k, h in runs.items()}, ylabel="training loss", ax=axes[0],
                       title="Training loss, same budget")
    residual.plot_runs({k: h["val_acc"] for k, h in runs.items()}, ylabel="validation accuracy", chance=0.1,
                       ax=axes[1], title="Validation accuracy, same budget")
    fig.tight_layout()


def _residual_runs():
    from course.viz import residual

    residual.plot_runs({name: [0.2, 0.5, 0.7, 0.8, 0.85, 0.9, 0.92] for name in ("R3D-small", "MC3-small",
                                                                                  "R(2+1)D-small")},
                       ylabel="validation accuracy", chance=0.1, title="three small ResNets")


def _residual_edge_effect():
    from course.viz import residual

    residual.plot_edge_effect({"time_padding='zeros'": [0.67, 1, 1, 1, 1, 1, 1, 0.67],
                               "time_padding='replicate'": [1.0] * 8})


def _nonlocal_plot_query_attention():
    from course.viz import nonlocal_attention

    weights = np.random.default_rng(0).random((8, 16, 16))
    nonlocal_attention.plot_query_attention(_moving_clip(), weights / weights.sum(), (3, 5, 7),
                                            title="a 'move_right' clip: attention of one position")


def _nonlocal_explorer():
    import torch

    from course.models import NonLocalBlock
    from course.viz import nonlocal_attention

    clip = torch.from_numpy(_moving_clip())
    torch.manual_seed(0)
    nonlocal_attention.nonlocal_attention_explorer(NonLocalBlock(3, mode="gaussian"), clip,
                                                   torch.nn.functional.avg_pool3d(clip[None], 2) * 8)


def _pathways_frames_and_differences():
    from course.viz import pathways

    pathways.plot_frames_and_differences(_moving_clip(), frames=(0, 5, 10, 14))


def _pathways_architecture_tradeoff():
    from course.viz import pathways

    pathways.plot_architecture_tradeoff(_recorded("video_architectures"),
                                        title="recorded: within-pair accuracy vs cost")


def _small_transformer():
    """The architecture of the shipped chapter 12 checkpoint, with random weights."""
    import torch

    from course.models.transformer import VideoTransformer

    torch.manual_seed(0)
    return VideoTransformer(10, input_size=(16, 32, 32), tubelet=(4, 8, 8), dim=64, depth=3, heads=4,
                            attention="divided", pooling="mean", stem_channels=8).eval()


def _transformer_tubelets():
    from course.viz import transformer

    transformer.plot_tubelets(_moving_clip(), (2, 8, 8), frames=6)


def _transformer_attention_maps():
    import torch

    from course.viz import transformer

    model = _small_transformer()
    transformer.plot_attention_maps(model, torch.from_numpy(_moving_clip()), frames=range(0, model.grid[0], 2))


def _transformer_attention_explorer():
    import torch

    from course.viz import transformer

    transformer.attention_explorer(_small_transformer(), torch.from_numpy(_moving_clip()))


def _transformer_tube_masking():
    from course.viz import transformer

    transformer.plot_tube_masking(_moving_clip(), (2, 8, 8), ratio=0.9, seed=0)


def _transformer_attention_scaling():
    from course.models.transformer import attention_cost
    from course.viz import transformer

    rows = []
    for frames in (4, 8, 16, 32):
        row = {"frames": frames}
        for layout in ("joint", "divided"):
            cost = attention_cost(frames, size=64, tubelet=(1, 8, 8), dim=64, depth=4, heads=4, attention=layout)
            row.update({f"{layout}_flops": cost["flops"], f"{layout}_attention_flops": cost["attention_flops"]})
        rows.append(row)
    transformer.plot_attention_scaling(rows)


def _diagnostics_lr_range_test():
    from course.train import LRRangeTest
    from course.viz import diagnostics

    lrs = np.logspace(-5, 1, 150)
    loss = 2.3 - 1.8 / (1 + np.exp(-(np.log10(lrs) + 3) * 3)) + np.where(lrs > 0.3, 30 * (lrs - 0.3), 0)
    diagnostics.plot_lr_range_test(LRRangeTest(lrs=lrs, losses=loss + 0.05 * np.sin(np.arange(150)), smoothed=loss,
                                               suggested_lr=1.1e-3, min_loss_lr=2.4e-1, diverged=True))


def _diagnostics_runs_summary():
    from course.viz import diagnostics

    names = ["none", "L2 in Adam (wd 1e-2)", "AdamW decoupled (wd 1.0)", "L1 penalty (1e-4)", "dropout 0.5",
             "early stopping (patience 5)", "label smoothing 0.2", "augmentation (shift)"]
    rows = [{"name": n, "n": 5, "val_acc_mean": 0.7 + 0.01 * k, "val_acc_std": 0.02, "gap_mean": 0.3 - 0.02 * k,
             "gap_std": 0.01} for k, n in enumerate(names)]
    diagnostics.plot_runs_summary(rows)


def _diagnostics_random_search():
    from course.viz import diagnostics

    rng = np.random.default_rng(0)
    diagnostics.plot_random_search(10 ** rng.uniform(-4, -1, 12), 10 ** rng.uniform(-4, 0.5, 12), rng.random(12))


def _diagnostics_weight_histograms():
    from course.viz import diagnostics

    rng = np.random.default_rng(0)
    diagnostics.plot_weight_histograms({"none": rng.normal(0, 0.1, (256, 64)),
                                        "L1 penalty": rng.laplace(0, 0.01, (256, 64))})


def _diagnostics_reliability_diagram():
    import torch

    from course.train import reliability_bins
    from course.viz import diagnostics

    g = torch.Generator().manual_seed(0)
    logits, labels = 4 * torch.randn(300, 10, generator=g), torch.randint(0, 10, (300,), generator=g)
    diagnostics.plot_reliability_diagram({"before": reliability_bins(torch.softmax(logits, 1), labels),
                                          "after (T = 1.83)": reliability_bins(torch.softmax(logits / 1.83, 1),
                                                                               labels)})


def _diagnostics_curves_pair():
    """As chapter 13 draws them: two metrics of the same runs side by side (the notebook's figure size)."""
    from course.viz import diagnostics

    history = lambda a: [{"epoch": e, "train_loss": 2 / (e * a), "val_acc": 0.5 + 0.04 * e * a, "lr": 0.01 / e}
                         for e in range(1, 11)]
    runs = {"tiny (4 hidden units)": history(0.5), "large (256 hidden units)": history(1.0)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
    diagnostics.plot_curves(runs, "train_loss", axes[0], title="training loss")
    diagnostics.plot_curves(runs, "val_acc", axes[1], title="validation accuracy")


def _explain_maps(t=16, size=32):
    rng = np.random.default_rng(0)
    return {name: rng.random((t, size, size)) for name in ("saliency C3D", "Grad-CAM C3D", "saliency 1-frame")}


def _explain_profiles(t=16):
    rng = np.random.default_rng(1)
    return {"C3D occlusion": rng.random(t) - 0.3, "single-frame occlusion": 0.1 * rng.random(t)}


def _explain_strip():
    from course.viz import explain

    explain.plot_explanation_strip(_moving_clip(), _explain_maps(), every=2)


def _explain_frame_importance():
    from course.viz import explain

    explain.plot_frame_importance(_explain_profiles(), shade=(8, 16),
                                  title="|change of the twin margin| when a frame is blanked (60 clips)")


def _explain_scrubber():
    from course.viz import explain

    explain.explanation_scrubber(_moving_clip(), _explain_maps(), _explain_profiles(),
                                 title="drag the slider: frames, maps and importance per frame")


def _real_video(t=100, h=60, w=80):
    """uint8 (T, H, W, 3): a dark figure walking right over a light background."""
    video = np.full((t, h, w, 3), 200, dtype=np.uint8)
    for f in range(t):
        x = (f * 60) // t
        video[f, 20:50, x:x + 10] = 40
    return video


def _real_videos_contact_sheet():
    from course.viz import real_videos

    real_videos.contact_sheet(_real_video(), num_frames=12, fps=25, title="person01_walking_d1_uncomp.avi")


def _real_videos_motion_energy():
    from course.viz import real_videos

    energy = np.abs(np.sin(np.arange(99) / 9)) * 0.02
    real_videos.plot_motion_energy(energy, fps=25, threshold=0.004,
                                   clips={"3 random clips (naive)": np.arange(16)[None] + np.array([[0], [40], [80]]),
                                          "3 most active clips": np.arange(16)[None] + np.array([[5], [30], [60]])},
                                   title="motion energy of person01_walking_d1_uncomp.avi")


def _real_videos_active_fractions():
    from course.viz import real_videos

    rng = np.random.default_rng(0)
    real_videos.plot_active_fractions({"walking": list(rng.random(16)), "running": list(rng.random(16) * 0.5)})


def _real_videos_sampling_table():
    """Every row of the recorded KTH sampling comparisons (what chapter 14 shows in full mode: all samplings and the
    leaky split)."""
    from course.train.real_video import recorded_sampling_rows
    from course.viz import real_videos

    rows, records = recorded_sampling_rows("real_video_kth")
    assert records, "course/results/real_video_kth_samplings_*.json is missing"
    real_videos.plot_sampling_table(rows, title="KTH look-alike, validation persons")


def _real_videos_show_failures():
    from course.viz import real_videos

    result = {"y_true": [0, 1, 1, 0], "y_pred": [1, 1, 0, 1], "classes": ["walking", "running"],
              "paths": [f"/data/kth/person{k:02d}_walking_d{k}_uncomp.avi" for k in range(4)]}
    real_videos.show_failures(result, [_real_video(40, 32, 32) for _ in range(4)])


def _upload_plot_predictions():
    from course.viz import upload

    upload.plot_predictions(np.array([0.05, 0.4, 0.1, 0.3, 0.15]), ["boxing", "handclapping", "handwaving", "running",
                                                                    "walking"], top_k=5)


def _upload_widget():
    """The figures the upload widget draws for a small uploaded video (its ``handle``, as the upload event calls it),
    with the cache in a temporary folder."""
    import os
    import tempfile

    from course.data import write_video
    from course.data.shape_videos import shape_video_frames
    from course.train.real_video import RecipeConfig, build_model
    from course.viz import upload

    import torch

    config = RecipeConfig(decode_size=(32, 32), crop=(32, 32), step=1, eval_clips=2)
    torch.manual_seed(0)
    model = build_model(2, config)
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get("COURSE_DATA")
        os.environ["COURSE_DATA"] = os.path.join(tmp, "cache")
        try:
            path = write_video(os.path.join(tmp, "mine.mp4"),
                               shape_video_frames("fast", idle_before=10, idle_after=10, size=32), 25)
            widget = upload.upload_widget(model, ["walking", "running"], config=config)
            assert widget.handle("mine.mp4", path.read_bytes()) is not None, widget.status.value
        finally:
            if old is None:
                os.environ.pop("COURSE_DATA")
            else:
                os.environ["COURSE_DATA"] = old


# chapter 15 --------------------------------------------------------------------------------------------------------

def _efficiency_latency_runs():
    from course.viz import efficiency

    rng = np.random.default_rng(0)
    efficiency.plot_latency_runs({"PyTorch float32": list(rng.lognormal(3, 0.2, 30)) + [200.0],
                                  "onnxruntime float32": list(rng.lognormal(2, 0.2, 30))})


def _efficiency_sensitivity():
    from course.viz import efficiency

    names = ["conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b", "fc6", "fc7", "fc8"]
    efficiency.plot_sensitivity([{"layer": n, "mean_abs_logit_error": 0.01 * (k + 1), "acc": 1.0 - 0.01 * k}
                                 for k, n in enumerate(names)])


def _efficiency_pruning_curve():
    from course.viz import efficiency

    efficiency.plot_pruning_curve([{"fraction": f, "speedup": 1 + 2 * f, "acc": 1 - f / 4, "acc_before_fine_tune": 1 - f}
                                   for f in (0.25, 0.5, 0.75)], baseline_acc=1.0, title="channels removed")


def _efficiency_monitor():
    from course.viz import efficiency

    rng = np.random.default_rng(0)
    efficiency.plot_monitor(rng.random(80) * 3, {"brightness": 40 + rng.random(80), "noise": rng.random(80) * 5,
                                                 "frame rate": 8 + rng.random(80), "camera": rng.random(80) * 2},
                            threshold=4.0, statistic="brightness")


# chapter 16 --------------------------------------------------------------------------------------------------------

def _scaling_step_profile():
    from course.viz import scaling

    scaling.plot_step_profile({"decode": 737.4, "transform": 74.2, "data (other)": 67.3, "forward": 603.9,
                               "backward": 575.8, "optimizer": 24.7},
                              title="c3d_small, batch of 8 clips of 16 x 32 x 32, 2 threads")


def _scaling_loader_throughput():
    from course.viz import scaling

    names = ["num_workers=0", "num_workers=2", "num_workers=2, persistent_workers", "num_workers=2, prefetch_factor=4",
             "decoded-clip cache, num_workers=0", "num_workers=2, pin_memory"]
    rng = np.random.default_rng(0)
    scaling.plot_loader_throughput({n: {"clips_per_s": list(rng.random(2) * 400)} for n in names},
                                   title="128 videos, batches of 8, clips per second")


def _scaling_memory_and_time():
    from course.viz import scaling

    lengths = [4, 8, 16, 32]
    scaling.plot_memory_and_time(lengths, {"plain": [6.4, 12.8, 25.5, 51.0],
                                           "checkpointed (2 segments)": [0.4, 0.8, 1.5, 3.0]},
                                 {"plain": [0.08, 0.4, 0.5, 1.0], "checkpointed (2 segments)": [0.2, 0.77, 0.7, 1.5]})


def _scaling_gradient_magnitudes():
    import torch

    from course.viz import scaling

    rng = np.random.default_rng(0)
    scaling.plot_gradient_magnitudes([torch.from_numpy(10 ** rng.normal(-6, 1.5, 5000))],
                                     title="slow-fusion gradients (loss x 1e-3), float32")


def _capstone_training_curves():
    from course.viz import capstone

    capstone.plot_training_curves([0.69, 0.52, 0.31, 0.22, 0.18, 0.15, 0.13, 0.12],
                                  [0.5, 0.62, 0.81, 0.88, 0.88, 0.94, 0.94, 0.97], title="c3d_small on KTH")


def _capstone_group_accuracy():
    from course.viz import capstone

    per_group = {f"person{p:02d}": {"n": 8, "correct": c, "accuracy": c / 8}
                 for p, c in zip((1, 4, 19, 20, 21, 23, 24, 25), (8, 7, 8, 6, 8, 5, 8, 8))}
    capstone.plot_group_accuracy(per_group, 58 / 64, (0.81, 0.96), title="held-out accuracy per person")


def _small_mae():
    import torch

    from course.selfsup.masked import MaskedAutoencoder, MaskedVideoEncoder

    torch.manual_seed(0)
    return MaskedAutoencoder(MaskedVideoEncoder(dim=16, depth=1, heads=2), mask_ratio=0.9, decoder_dim=16, heads=2)


def _masked_reconstruction():
    import torch

    from course.selfsup.masked import make_mask
    from course.viz import masked

    model, clip = _small_mae(), torch.from_numpy(_moving_clip())
    mask = make_mask(1, model.encoder.grid, 0.9, generator=torch.Generator().manual_seed(0))
    masked.plot_reconstruction(clip, mask[0], model.reconstruct(clip[None], mask)[0], (2, 8, 8))


def _masked_slider():
    import torch

    from course.viz import masked

    masked.reconstruction_slider(_small_mae(), torch.from_numpy(_moving_clip()), ratios=(0.75, 0.9))


def _masked_losses():
    from course.viz import masked

    report = {"model": 0.8, "copy": 1.0, "mean_pixel": 1.0}
    masked.plot_masking_losses({"tube 0.9 pixels": report, "tube 0.75 pixels": report,
                                "random 0.9 pixels": {**report, "copy": 0.4}, "tube 0.9 patch": report})


def _selfsup_pretext_examples():
    import torch

    from course.viz import selfsup

    selfsup.plot_pretext_examples(torch.from_numpy(_moving_clip()[:, :12].copy()), (2, 0, 1))


def _selfsup_shortcut():
    from course.viz import selfsup

    selfsup.plot_shortcut({"fade, not blocked": {"pretext": 1.0, "downstream": 0.3},
                           "fade, blocked": {"pretext": 0.8, "downstream": 0.6},
                           "random encoder": {"pretext": None, "downstream": 0.2},
                           "chance": {"pretext": 1 / 6, "downstream": 0.1}}, title="clip order on faded clips")


def _selfsup_few_label():
    from course.viz import selfsup

    rows = [{"encoder": e, "mode": m, "labels": n, "mean": a, "std": 0.03}
            for e, base in (("scratch", 0.2), ("clip order", 0.35), ("arrow of time", 0.22), ("masked (MAE)", 0.3))
            for m in ("probe", "finetune") for n, a in ((10, base), (50, base + 0.3), (500, base + 0.5))]
    selfsup.plot_few_label(rows)


def _selfsup_retrieval():
    from course.viz import selfsup

    selfsup.plot_retrieval([{"encoder": e, "recall@1": r, "recall@5": min(1.0, r + 0.3)}
                            for e, r in (("raw pixels", 0.2), ("random encoder", 0.3), ("clip order", 0.6),
                                         ("arrow of time", 0.3), ("masked (MAE)", 0.4))])


def _prediction_clips():
    import torch

    g = torch.Generator().manual_seed(0)
    return (torch.rand(1, 10, 32, 32, generator=g), torch.rand(1, 10, 32, 32, generator=g),
            torch.rand(1, 10, 32, 32, generator=g))


def _prediction_horizon_mse():
    from course.viz import prediction

    steps = np.arange(1, 11)
    prediction.plot_horizon_mse({"ConvLSTM": 0.03 + 0.004 * steps, "copy last frame": 0.03 + 0.01 * steps,
                                 "mean frame": np.full(10, 0.09)})


def _prediction_frames():
    from course.viz import prediction

    past, future, guess = _prediction_clips()
    prediction.plot_prediction_frames(past, future, {"ConvLSTM (MSE)": guess, "ConvLSTM (BCE)": guess,
                                                     "copy last frame": guess}, title="test clip 0")


def _prediction_scrubber():
    from course.viz import prediction

    prediction.prediction_scrubber(*_prediction_clips())


def _prediction_denoising():
    from course.viz import prediction

    clean, noisy, out = _prediction_clips()
    prediction.plot_denoising(clean, noisy, {"single frame": out, "3 frames per layer": out}, frame=3,
                              scores={"noisy input": 9.3, "single frame": 16.2, "3 frames per layer": 16.6})


def _gan_toy_runs():
    from course.train.gan import ToyGANRun

    rng = np.random.default_rng(0)
    snaps = {s: rng.normal(3 * s / 200, 0.5, (500, 1)) for s in (0, 100, 200)}
    run = ToyGANRun(d_real=list(0.5 + 0.3 * rng.random(200)), d_fake=list(0.5 * rng.random(200)), snapshots=snaps)
    return {"D loss with the minus sign (articles)": run, "D loss BCE(D(x),1) + BCE(D(G(z)),0)": run}


def _gan_toy_densities():
    from course.viz import gan

    gan.plot_toy_densities(_gan_toy_runs(), np.random.default_rng(1).normal(3, 0.5, 1000),
                           title="real (grey) and generated (red) distributions over training")


def _gan_discriminator_outputs():
    from course.viz import gan

    gan.plot_discriminator_outputs(_gan_toy_runs(), title="what the discriminator says during training")


def _gan_clip_grid():
    import torch

    from course.viz import gan

    gan.plot_clip_grid({s: torch.rand(6, 3, 16, 16, 16) for s in (0, 300, 600, 900, 1200)}, max_clips=4)
    gan.plot_clip_grid({name: torch.rand(4, 3, 16, 16, 16) for name in ("move_right", "move_left", "move_down",
                                                                           "move_up")},
                       title="real clips, one row per motion (frames 0, 5, 10, 15)")


def _gan_training():
    from course.train.gan import VideoGANRun
    from course.viz import gan

    rng = np.random.default_rng(0)
    gan.plot_gan_training(VideoGANRun(d_loss=list(1 + rng.random(300)), g_loss=list(2 + rng.random(300)),
                                      d_real=list(0.6 + 0.2 * rng.random(300)), d_fake=list(0.3 * rng.random(300))))


def _gan_judgement():
    from course.viz import gan

    classes = ("move_right", "move_left", "move_down", "move_up")
    results = {"untrained generator": {"frechet_distance": 300.0, "confidence": 0.99,
                                       "predicted_share": [0, 0, 1.0, 0]},
               "trained generator": {"frechet_distance": 40.0, "confidence": 0.8,
                                     "predicted_share": [0.3, 0.2, 0.3, 0.2]},
               "real held-out clips": {"frechet_distance": 0.2, "confidence": 0.99,
                                       "predicted_share": [0.25, 0.25, 0.25, 0.25]}}
    gan.plot_judgement(results, classes, title="the judge's verdict")


def _gan_interpolation():
    import torch

    from course.models.gan import VideoGenerator
    from course.viz import gan

    torch.manual_seed(0)
    g = VideoGenerator(8, widths=(16, 8, 4))
    gan.plot_interpolation(g, torch.randn(8), torch.randn(8))


def _gan_widget():
    import torch

    from course.models.gan import VideoGenerator
    from course.viz import gan

    torch.manual_seed(0)
    g = VideoGenerator(8, widths=(16, 8, 4))
    gan.latent_interpolation_widget(g, torch.randn(8), torch.randn(8))


FIGURES = {
    # chapter 00
    "welcome.frame_slider": _welcome_frame_slider,
    # chapters 01 and 03
    "convolution.show_pixel_values": _conv_pixel_values,
    "convolution.plot_footprints": _conv_footprints,
    "convolution.kernel_explorer": _conv_kernel_explorer,
    "convolution.show_images (one row)": _conv_show_images_row,
    "convolution.show_images (grid)": _conv_show_images_grid,
    "convolution.plot_filters": _conv_plot_filters,
    "convolution.plot_history": _conv_plot_history,
    # chapter 04
    "training.plot_lr_schedules": _training_lr_schedules,
    "training.compare_histories (6 runs, 3 metrics)": _training_compare_histories,
    "training.compare_histories (4 runs, 2 metrics)": _training_compare_optimizers,
    "training.show_mistakes": _training_show_mistakes,
    "train.History.plot": _train_history_plot,
    "train.plot_confusion_matrix": _train_confusion_matrix,
    # chapter 05
    "video.show_frames": _video_show_frames,
    "video.stats_figure": _video_stats_figure,
    "video.video_scrubber": _video_scrubber,
    "video.augmentation_preview": _video_augmentation_preview,
    "video.sampling_timeline": _video_sampling_timeline,
    # chapter 06
    "frames_vs_time.plot_pair_confusions": _frames_vs_time_pair_confusions,
    # chapter 07
    "motion.plot_kernel": _motion_plot_kernel,
    "motion.plot_motion_responses": _motion_plot_responses,
    "receptive_field.plot_receptive_field_growth": _rf_growth,
    "receptive_field.show_receptive_field": _rf_show,
    "receptive_field.receptive_field_explorer": _rf_explorer,
    "costs.plot_costs": _costs_plot_costs,
    # chapter 09
    "recurrent.plot_gate_blocks": _recurrent_gate_blocks,
    "recurrent.plot_gradients_through_time": _recurrent_gradients,
    "recurrent.plot_model_comparison": _recurrent_model_comparison,
    # chapter 08
    "c3d.plot_filter_frames": _c3d_filter_frames,
    "c3d.animate_filters": _c3d_animate_filters,
    "c3d.plot_clip_strip": _c3d_clip_strip,
    # chapter 10
    "residual.plot_gradient_norms": _residual_gradient_norms,
    "residual.plot_runs (one axes)": _residual_runs,
    "residual.plot_runs (two panels, as in the notebook)": _residual_runs_pair,
    "residual.plot_edge_effect": _residual_edge_effect,
    # chapter 11
    "nonlocal_attention.plot_query_attention": _nonlocal_plot_query_attention,
    "nonlocal_attention.nonlocal_attention_explorer": _nonlocal_explorer,
    "pathways.plot_frames_and_differences": _pathways_frames_and_differences,
    "pathways.plot_architecture_tradeoff (recorded)": _pathways_architecture_tradeoff,
    # chapter 12
    "transformer.plot_tubelets": _transformer_tubelets,
    "transformer.plot_attention_maps": _transformer_attention_maps,
    "transformer.attention_explorer": _transformer_attention_explorer,
    "transformer.plot_tube_masking": _transformer_tube_masking,
    "transformer.plot_attention_scaling": _transformer_attention_scaling,
    # chapter 13
    "diagnostics.plot_lr_range_test": _diagnostics_lr_range_test,
    "diagnostics.plot_runs_summary": _diagnostics_runs_summary,
    "diagnostics.plot_random_search": _diagnostics_random_search,
    "diagnostics.plot_weight_histograms": _diagnostics_weight_histograms,
    "diagnostics.plot_reliability_diagram": _diagnostics_reliability_diagram,
    "diagnostics.plot_curves (two panels, as in the notebook)": _diagnostics_curves_pair,
    "explain.plot_explanation_strip": _explain_strip,
    "explain.plot_frame_importance": _explain_frame_importance,
    "explain.explanation_scrubber": _explain_scrubber,
    # chapter 14
    "real_videos.contact_sheet": _real_videos_contact_sheet,
    "real_videos.plot_motion_energy": _real_videos_motion_energy,
    "real_videos.plot_active_fractions": _real_videos_active_fractions,
    "real_videos.plot_sampling_table (recorded KTH rows)": _real_videos_sampling_table,
    "real_videos.show_failures": _real_videos_show_failures,
    "upload.plot_predictions": _upload_plot_predictions,
    "upload.upload_widget (the figures of an upload)": _upload_widget,
    # chapter 15
    "efficiency.plot_latency_runs": _efficiency_latency_runs,
    "efficiency.plot_sensitivity": _efficiency_sensitivity,
    "efficiency.plot_pruning_curve": _efficiency_pruning_curve,
    "efficiency.plot_monitor": _efficiency_monitor,
    # chapter 16
    "scaling.plot_step_profile": _scaling_step_profile,
    "scaling.plot_loader_throughput": _scaling_loader_throughput,
    "scaling.plot_memory_and_time": _scaling_memory_and_time,
    "scaling.plot_gradient_magnitudes": _scaling_gradient_magnitudes,
    # chapter 17 (prediction and enhancement)
    "prediction.plot_horizon_mse": _prediction_horizon_mse,
    "prediction.plot_prediction_frames": _prediction_frames,
    "prediction.prediction_scrubber": _prediction_scrubber,
    "prediction.plot_denoising": _prediction_denoising,
    # chapter 17 (GANs)
    "gan.plot_toy_densities": _gan_toy_densities,
    "gan.plot_discriminator_outputs": _gan_discriminator_outputs,
    "gan.plot_clip_grid": _gan_clip_grid,
    "gan.plot_gan_training": _gan_training,
    "gan.plot_judgement": _gan_judgement,
    "gan.plot_interpolation": _gan_interpolation,
    "gan.latent_interpolation_widget": _gan_widget,
    # chapter 18 (pretext tasks, few labels, retrieval)
    "selfsup.plot_pretext_examples": _selfsup_pretext_examples,
    "selfsup.plot_shortcut": _selfsup_shortcut,
    "selfsup.plot_few_label": _selfsup_few_label,
    "selfsup.plot_retrieval": _selfsup_retrieval,
    # chapter 18 (masked tube autoencoding)
    "masked.plot_reconstruction": _masked_reconstruction,
    "masked.reconstruction_slider": _masked_slider,
    "masked.plot_masking_losses": _masked_losses,
    # chapter 19
    "capstone.plot_training_curves": _capstone_training_curves,
    "capstone.plot_group_accuracy": _capstone_group_accuracy,
}


# Figures known to fail, owned by another chapter's ongoing rework. Strict: once fixed, the test fails until the entry
# is removed here.
KNOWN_UNREADABLE: dict[str, str] = {}


def _render(make) -> list:
    """Run ``make`` and return every figure it drew (including ones it closed itself, e.g. to embed a PNG)."""
    plt.close("all")
    closed = []
    real_close = plt.close

    def keep(fig=None):
        if fig is not None and not isinstance(fig, str):
            closed.append(fig)

    plt.close = keep
    try:
        make()
    finally:
        plt.close = real_close
    figures = [plt.figure(n) for n in plt.get_fignums()]
    return figures + [f for f in closed if f not in figures]


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN_UNREADABLE[n], strict=True))
                                  if n in KNOWN_UNREADABLE else n for n in FIGURES])
def test_figure_is_readable(name):
    figures = _render(FIGURES[name])
    assert figures, f"{name} drew no figure"
    try:
        problems = [f"figure {k}: {p}" for k, fig in enumerate(figures) for p in figure_problems(fig)]
    finally:
        plt.close("all")
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def _chapters(module) -> list[int]:
    import re

    first_line = (module.__doc__ or "").strip().splitlines()[0] if module.__doc__ else ""
    return [int(n) for n in re.findall(r"\b(\d\d)\b", first_line.split(":")[0])]


def test_every_viz_module_has_a_row():
    """Every ``course.viz`` module of chapters 00 to ``LAST_CHAPTER`` (its docstring's first line says "Chapter NN" /
    "Chapters NN-MM") must be in FIGURES, and every module must name its chapter. A module for a later chapter: add
    its rows and raise ``LAST_CHAPTER``."""
    import importlib
    import pkgutil

    import course.viz

    covered = {name.split(".")[0] for name in FIGURES}
    missing = []
    for info in pkgutil.iter_modules(course.viz.__path__):
        chapters = _chapters(importlib.import_module(f"course.viz.{info.name}"))
        if not chapters:
            missing.append(f"{info.name} (its docstring names no chapter)")
        elif min(chapters) <= LAST_CHAPTER and info.name not in covered:
            missing.append(info.name)
    assert not missing, f"course.viz modules without a figure in FIGURES: {missing}"


# --------------------------------------------------------------------------------------------------------------------
# The checker can fail
# --------------------------------------------------------------------------------------------------------------------

def test_checker_catches_a_suptitle_over_axes_titles():
    fig, axes = plt.subplots(1, 2, figsize=(6, 3))
    for ax in axes:
        ax.set_title("panel title")
    fig.subplots_adjust(top=0.9)
    fig.suptitle("a long suptitle drawn right over the panel titles", y=0.93)
    problems = figure_problems(fig)
    plt.close(fig)
    assert any("suptitle overlaps" in p for p in problems), problems


def test_checker_catches_small_text():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend(fontsize=6)
    ax.set_xlabel("x")
    problems = figure_problems(fig)
    plt.close(fig)
    assert any("'a line' is 6.0 pt" in p for p in problems), problems


def test_checker_scales_text_of_wide_figures():
    fig, axes = plt.subplots(1, 3, figsize=(15, 3))
    for ax in axes:
        ax.set_title("8 pt, but in a 15 inch figure", fontsize=8)
    problems = figure_problems(fig)
    plt.close(fig)
    assert any("6.6 pt as displayed" in p and "in wide figure" in p for p in problems), problems


def test_checker_accepts_a_plain_figure():
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ax.plot([0, 1], [0, 1], label="a line")
    ax.legend()
    ax.set(xlabel="x", ylabel="y", title="a readable figure")
    fig.suptitle("with a suptitle")
    assert figure_problems(fig) == []
    plt.close(fig)


# --------------------------------------------------------------------------------------------------------------------
# Bad input to the figure helpers added for the readable figures
# --------------------------------------------------------------------------------------------------------------------

def test_new_figure_helpers_reject_bad_input():
    from course.viz import convolution, video

    with pytest.raises(ValueError, match="show_pixel_values\\(top, left\\)"):
        convolution.show_pixel_values(np.zeros((10, 10)), top=5, left=0, size=8)
    with pytest.raises(ValueError, match="show_pixel_values\\(size\\)"):
        convolution.show_pixel_values(np.zeros((10, 10)), top=0, left=0, size=0)
    with pytest.raises(ValueError, match="footprint\\(stride\\)"):
        convolution.footprint(11, 3, 0, 1)
    with pytest.raises(ValueError, match="plot_footprints\\(settings\\)"):
        convolution.plot_footprints(11, 3, [(1, 1, 1)])
    with pytest.raises(ValueError, match="stats_figure\\(stats\\)"):
        video.stats_figure({"brightness": np.zeros(3)})
    assert convolution.footprint(7, 3, 2, 2, outputs=2).tolist() == [[1, 0, 1, 0, 1, 0, 0], [0, 0, 2, 0, 2, 0, 2]]
