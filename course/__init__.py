"""Deep learning for video — the course's helper package.

Modules follow the course's parts:

- ``course.config``    device, seeding, quick mode, data cache
- ``course.numpy_nn``  reference NumPy ops (Part I, chapters 01–03, 07, 09)
- ``course.data``      video IO, sampling, transforms, datasets, downloads (chapter 05)
- ``course.models``    frame baselines, C3D, CNN-LSTM, ... (chapters 06–10)
- ``course.train``     the training loop, checkpoints, metrics (chapter 04)
- ``course.viz``       plots and ipywidgets
- ``course.explain``   saliency, temporal occlusion, 3D Grad-CAM (chapter 13)
- ``course.checks``    exercise checks with friendly feedback
"""
from __future__ import annotations

from . import config
from .doctor import doctor

__version__ = "0.1.0"
__all__ = ["config", "doctor", "__version__"]
