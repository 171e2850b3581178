"""Chapter 19, the capstone: groups and splits, the report a project saves, and the rubric that checks it.

- :mod:`course.capstone.groups` — group files, group-disjoint splits, accuracy per group, a group bootstrap (NumPy);
- :mod:`course.capstone.report` — ``report.json``, the parity inputs and the model card a project writes;
- :mod:`course.capstone.check` — ``python -m course capstone check DIR``: the rubric's automatic lines;
- :mod:`course.capstone.project` — the plumbing of the template (data card, baseline, export and measurement),
  imported on demand because it needs PyTorch.
"""
from .check import HUMAN_LINES, RubricLine, RubricResult, check_report, format_rubric  # noqa: F401
from .groups import group_bootstrap_interval, per_group_accuracy, read_group_file, shared_groups, split_by_groups  # noqa: F401,E501
from .report import (MODEL_CARD_SECTIONS, build_report, clip_id, report_from_recipe, save_parity_inputs,  # noqa: F401
                     write_model_card, write_report)
