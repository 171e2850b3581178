"""The course training loop, checkpoints, early stopping and metrics (chapter 04).

- :func:`fit` trains any classifier (or any model with a ``loss_fn``) and returns a :class:`History`;
- :func:`evaluate` gives predictions and labels, :func:`print_classification_report` and
  :func:`plot_confusion_matrix` show them with scikit-learn;
- :func:`warmup_cosine` / :func:`warmup_step_decay` are LR schedules with a linear warm-up;
- :func:`save_checkpoint` / :func:`load_checkpoint` write and read atomic, resumable checkpoints;
- :func:`recorded_runs` / :func:`format_runs_table` show committed GPU measurements (``course/results/``).
"""
from .checkpoint import load_checkpoint, save_checkpoint
from .early_stopping import EarlyStopping
from .history import History
from .loop import fit, validate
from .metrics import accuracy, evaluate, plot_confusion_matrix, print_classification_report
from .precision import Precision, choose_precision
from .recorded import format_runs_table, recorded_runs, save_record
from .schedules import lr_trace, warmup_cosine, warmup_cosine_factor, warmup_step_decay, warmup_step_decay_factor

__all__ = [
    "EarlyStopping", "History", "Precision", "accuracy", "choose_precision", "evaluate", "fit", "format_runs_table",
    "load_checkpoint", "lr_trace", "plot_confusion_matrix", "print_classification_report", "recorded_runs",
    "save_checkpoint", "save_record", "validate",
    "warmup_cosine", "warmup_cosine_factor", "warmup_step_decay", "warmup_step_decay_factor",
]
from .video_eval import MultiClipDataset, clip_starts, crop_boxes, evaluate_videos  # noqa: E402
__all__ += ["MultiClipDataset", "clip_starts", "crop_boxes", "evaluate_videos"]
from .sanity import SanityCheck, SanityReport, gradient_norms, sanity_checks, standard_train_step  # noqa: E402
__all__ += ["SanityCheck", "SanityReport", "gradient_norms", "sanity_checks", "standard_train_step"]
from .lr_finder import LRRangeTest, lr_range_test  # noqa: E402
__all__ += ["LRRangeTest", "lr_range_test"]
from .calibration import ReliabilityBins, TemperatureScaled, expected_calibration_error, fit_temperature, reliability_bins  # noqa: E402,E501
__all__ += ["ReliabilityBins", "TemperatureScaled", "expected_calibration_error", "fit_temperature", "reliability_bins"]
from .regularization import TensorSplit, l1_penalty, l2_penalty, noisy_digits, penalized_weights, weight_sparsity  # noqa: E402,E501
__all__ += ["TensorSplit", "l1_penalty", "l2_penalty", "noisy_digits", "penalized_weights", "weight_sparsity"]
from .experiments import format_runs_summary, log_uniform, run_seeds, summarize_runs, train_classifier  # noqa: E402
__all__ += ["format_runs_summary", "log_uniform", "run_seeds", "summarize_runs", "train_classifier"]
from .splits import grouped_copies, last_fraction_split, ucf101_group  # noqa: E402
__all__ += ["grouped_copies", "last_fraction_split", "ucf101_group"]
from .real_video import RecipeConfig, VideoClips, VideoSplit, compare_samplings, find_kth_videos, format_report, run_recipe, wilson_interval  # noqa: E402,E501
__all__ += ["RecipeConfig", "VideoClips", "VideoSplit", "compare_samplings", "find_kth_videos", "format_report",
            "run_recipe", "wilson_interval"]
