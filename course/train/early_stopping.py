"""Early stopping: end training when a validation metric has stopped improving."""
from __future__ import annotations

import copy
import math
import numbers

from .history import METRICS


class EarlyStopping:
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs in a row.

    ``mode`` is ``"max"`` for accuracies and ``"min"`` for losses (default: ``"min"`` if the name contains "loss").
    With ``restore_best=True`` the model's weights from the best epoch are put back when training ends early (they are
    kept in memory, and in the checkpoint so a resumed run can do the same).

    ``fit`` calls :meth:`update` once per epoch; its state is saved in checkpoints.
    """

    def __init__(self, monitor: str = "val_acc", patience: int = 5, mode: str | None = None, *, min_delta: float = 0.0,
                 restore_best: bool = True):
        if monitor not in METRICS:
            raise ValueError(f"EarlyStopping(monitor={monitor!r}): expected one of {METRICS}")
        if not isinstance(patience, numbers.Integral) or isinstance(patience, bool) or patience < 1:
            raise ValueError(f"EarlyStopping(patience={patience!r}): expected an int >= 1")
        mode = mode or ("min" if "loss" in monitor else "max")
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping(mode={mode!r}): expected 'min' or 'max'")
        if not isinstance(min_delta, numbers.Real) or min_delta < 0:
            raise ValueError(f"EarlyStopping(min_delta={min_delta!r}): expected a number >= 0")
        self.monitor, self.patience, self.mode = monitor, int(patience), mode
        self.min_delta, self.restore_best = float(min_delta), bool(restore_best)
        self.reset()

    def reset(self) -> None:
        self.best: float | None = None
        self.best_epoch: int | None = None
        self.bad_epochs = 0
        self.best_state: dict | None = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        if self.mode == "max":
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def update(self, record: dict, model=None) -> bool:
        """Take one epoch's record (a dict with ``epoch`` and ``monitor``). Returns True when training should stop."""
        if self.monitor not in record:
            raise KeyError(f"EarlyStopping: the epoch record has no {self.monitor!r}; it has {sorted(record)}")
        value = float(record[self.monitor])
        if math.isnan(value):
            raise ValueError(f"EarlyStopping(monitor={self.monitor!r}): the value is NaN — "
                             "monitoring a validation metric needs fit(..., val_loader=...)")
        if self._improved(value):
            self.best, self.best_epoch, self.bad_epochs = value, int(record["epoch"]), 0
            if self.restore_best and model is not None:
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience

    def restore(self, model) -> bool:
        """Load the best epoch's weights into ``model`` (if kept). Returns True when weights were restored."""
        if self.best_state is None:
            return False
        model.load_state_dict(self.best_state)
        return True

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                "best_state": copy.copy(self.best_state)}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = state["best"], state["best_epoch"]
        self.bad_epochs, self.best_state = state["bad_epochs"], state["best_state"]

    def __repr__(self) -> str:
        return (f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, mode={self.mode!r}, "
                f"best={self.best}, best_epoch={self.best_epoch}, bad_epochs={self.bad_epochs})")
