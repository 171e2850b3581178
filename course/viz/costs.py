"""Chapters 07-09: horizontal bar charts of measured costs (milliseconds, FLOPs, parameters) per implementation."""
from __future__ import annotations

import numbers


def plot_costs(values: dict, *, xlabel: str, title: str = "", log: bool = False, ax=None):
    """One horizontal bar per entry of ``values`` ({name: positive number}), in the dict's order, top to bottom.

    ``log=True`` uses a logarithmic x axis (for costs that differ by orders of magnitude). Returns the axes.
    """
    import matplotlib.pyplot as plt

    if not isinstance(values, dict) or not values:
        raise TypeError(f"plot_costs(values): expected a non-empty dict {{name: number}}, got {type(values).__name__}")
    bad = {k: v for k, v in values.items() if not isinstance(v, numbers.Real) or isinstance(v, bool) or v < 0}
    if bad or (log and any(v == 0 for v in values.values())):
        raise ValueError(f"plot_costs(values): expected non-negative numbers (positive with log=True), got {bad or values}")
    if not isinstance(xlabel, str) or not xlabel:
        raise ValueError("plot_costs(xlabel): expected a non-empty string naming the unit")
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.45 * len(values) + 1.3), layout="constrained")
    names = [str(k) for k in values]
    ax.barh(names, list(values.values()), color="tab:blue")
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return ax
