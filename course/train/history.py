"""What a training run did, epoch by epoch: :class:`History`, returned by :func:`course.train.fit`."""
from __future__ import annotations

import math

#: The metrics ``fit`` records for every epoch (NaN where not measured, e.g. no validation loader).
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


def _mode_for(metric: str) -> str:
    return "min" if "loss" in metric or metric == "seconds" else "max"


class History:
    """Per-epoch records of a training run.

    ``history.records`` is a list of dicts, one per finished epoch, with ``epoch`` (1-based) and the keys in
    :data:`METRICS`; ``history["val_acc"]`` is that metric as a list. ``stopped_early`` says whether early stopping
    ended the run.
    """

    def __init__(self, records: list[dict] | None = None, *, stopped_early: bool = False):
        self.records: list[dict] = [dict(r) for r in (records or [])]
        self.stopped_early = bool(stopped_early)

    def append(self, record: dict) -> None:
        missing = [m for m in METRICS if m not in record]
        if missing:
            raise ValueError(f"History.append(record): missing keys {missing}")
        self.records.append({"epoch": len(self.records) + 1, **{k: float(v) for k, v in record.items()}})
        self.records[-1]["epoch"] = len(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, metric: str) -> list[float]:
        if metric not in METRICS and metric != "epoch":
            raise KeyError(f"History[{metric!r}]: unknown metric; expected one of {('epoch',) + METRICS}")
        return [r[metric] for r in self.records]

    @property
    def last(self) -> dict:
        if not self.records:
            raise ValueError("History.last: no epoch has finished yet")
        return self.records[-1]

    def best(self, metric: str = "val_acc", mode: str | None = None) -> dict:
        """The record of the epoch with the best ``metric`` (lowest for losses, highest otherwise, unless ``mode``).

        NaN values (metric not measured) are ignored; raises ValueError if there is no measured value at all.
        """
        values = self[metric]
        mode = mode or _mode_for(metric)
        if mode not in ("min", "max"):
            raise ValueError(f"History.best(mode={mode!r}): expected 'min' or 'max'")
        measured = [(v, i) for i, v in enumerate(values) if not math.isnan(v)]
        if not measured:
            raise ValueError(f"History.best({metric!r}): no epoch has a measured {metric}")
        sign = 1.0 if mode == "min" else -1.0
        _, index = min(measured, key=lambda vi: (sign * vi[0], vi[1]))  # ties: the earliest epoch
        return dict(self.records[index])

    def state_dict(self) -> dict:
        return {"records": [dict(r) for r in self.records], "stopped_early": self.stopped_early}

    @classmethod
    def from_state_dict(cls, state: dict) -> "History":
        return cls(state["records"], stopped_early=state.get("stopped_early", False))

    def __repr__(self) -> str:
        if not self.records:
            return "History(no epochs)"
        last = self.records[-1]
        parts = [f"{k}={last[k]:.4g}" for k in ("train_loss", "train_acc", "val_loss", "val_acc") if not math.isnan(last[k])]
        early = ", stopped early" if self.stopped_early else ""
        return f"History({len(self)} epochs{early}; last: {', '.join(parts)})"

    def plot(self, axes=None, *, title: str | None = None):
        """Loss and accuracy curves (train and validation) against the epoch. Returns the matplotlib figure.

        ``axes``: optional pair of matplotlib axes to draw into (loss, accuracy).
        """
        import matplotlib.pyplot as plt

        if not self.records:
            raise ValueError("History.plot(): nothing to plot, no epoch has finished")
        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        else:
            if len(axes) != 2:
                raise ValueError(f"History.plot(axes): expected 2 axes (loss, accuracy), got {len(axes)}")
            fig = axes[0].figure
        epochs = self["epoch"]
        for ax, kind in zip(axes, ("loss", "acc")):
            for split, style in (("train", "o-"), ("val", "s--")):
                values = self[f"{split}_{kind}"]
                if not all(math.isnan(v) for v in values):
                    ax.plot(epochs, values, style, ms=3, label=split)
            ax.set_xlabel("epoch")
            ax.set_ylabel("loss" if kind == "loss" else "accuracy")
            ax.grid(alpha=0.3)
            if ax.lines:
                ax.legend()
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig
