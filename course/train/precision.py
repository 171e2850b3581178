"""Mixed precision: which autocast dtype to use and whether a gradient scaler is needed.

On a GPU, most of a network's arithmetic can run in 16-bit floats, roughly doubling throughput and halving activation
memory. ``bfloat16`` keeps float32's exponent range, so it needs no loss scaling; ``float16`` has a narrow range, so
small gradients underflow to zero unless the loss is multiplied up first (``torch.amp.GradScaler``) and the gradients
divided back before the optimizer step. On a CPU the course trains in plain float32.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Precision:
    """How ``fit`` runs forward passes: ``dtype`` None means plain float32; ``scaler`` whether a GradScaler is used."""

    device_type: str
    dtype: object = None  # torch.dtype or None
    scaler: bool = False

    @property
    def enabled(self) -> bool:
        return self.dtype is not None

    def autocast(self):
        """A context manager for the forward pass (a no-op when mixed precision is off)."""
        import contextlib

        import torch

        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def make_scaler(self):
        """A ``torch.amp.GradScaler`` when float16 needs one, else None."""
        import torch

        return torch.amp.GradScaler(self.device_type) if self.scaler else None

    def describe(self) -> str:
        if not self.enabled:
            return f"float32 on {self.device_type}"
        name = str(self.dtype).replace("torch.", "")
        return f"mixed precision ({name} autocast{' + GradScaler' if self.scaler else ''}) on {self.device_type}"


def choose_precision(device, amp=None, *, bf16_supported: bool | None = None) -> Precision:
    """Pick the precision for ``device`` (a torch.device or name).

    ``amp``: None = automatic (on for CUDA, off elsewhere); False = float32; True = on (bfloat16 where supported, else
    float16 with a GradScaler; on CPU bfloat16); or a dtype ``torch.bfloat16`` / ``torch.float16`` to force one.
    ``bf16_supported`` overrides the hardware query (for tests and explanations).
    """
    import torch

    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"choose_precision(device={device!r}): not a torch device ({err})") from None
    kind = device.type
    if amp is None:
        amp = kind == "cuda"
    if amp is False:
        return Precision(kind)
    if amp is True:
        if kind == "cuda":
            if bf16_supported is None:
                bf16_supported = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
            amp = torch.bfloat16 if bf16_supported else torch.float16
        elif kind == "cpu":
            amp = torch.bfloat16
        else:
            amp = torch.float16
    if amp not in (torch.bfloat16, torch.float16):
        raise ValueError(f"choose_precision(amp={amp!r}): expected None, True, False, torch.bfloat16 or torch.float16")
    if kind == "cpu" and amp is torch.float16:
        raise ValueError("choose_precision(amp=torch.float16): float16 autocast is for GPUs; use torch.bfloat16 on CPU")
    return Precision(kind, amp, scaler=(amp is torch.float16 and kind == "cuda"))
