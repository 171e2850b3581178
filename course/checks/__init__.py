"""Exercise checks with friendly feedback.

``course.checks.core`` is the machinery (:func:`check_function`, :func:`check_value`, :class:`Case`); each chapter's
checks live in their own module (``course.checks.ch00_welcome``, ``course.checks.ch01_convolution``, ...), which a
notebook imports as ``from course.checks import ch01_convolution as check``.
"""
from .core import Case, CaseResult, CheckFailed, CheckResult, check_function, check_value, compare, strict_mode

__all__ = ["Case", "CaseResult", "CheckFailed", "CheckResult", "check_function", "check_value", "compare", "strict_mode"]
