"""course.deploy.monitor: input and confidence statistics, window z-scores, thresholds from clean data."""
from __future__ import annotations

import numpy as np
import pytest

from course.deploy import DriftMonitor, clip_statistics, confidence_statistics


def _clips(n, seed, brightness=0.0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, 3, 4, 8, 8)) * 0.5 + 0.25 + brightness).astype(np.float32)


def _stats(clips, seed=0, sure=0.9):
    rng = np.random.default_rng(seed)
    p = np.clip(rng.normal(sure, 0.03, len(clips)), 0.5, 0.999)
    return clip_statistics(clips) | confidence_statistics(np.stack([p, 1 - p], axis=1))


def test_statistics_of_known_clips():
    clips = np.zeros((2, 3, 3, 2, 2), dtype=np.float32)
    clips[1, :, 1] = 1.0                                               # one bright frame in the middle
    stats = clip_statistics(clips)
    assert stats["brightness"].tolist() == pytest.approx([0.0, 1 / 3])
    assert stats["motion"].tolist() == pytest.approx([0.0, 1.0])      # 0 -> 1 -> 0: every difference is 1
    conf = confidence_statistics(np.array([[0.5, 0.5], [1.0, 0.0]]))
    assert conf["confidence"].tolist() == [0.5, 1.0]
    assert conf["entropy"].tolist() == pytest.approx([np.log(2), 0.0], abs=1e-9)


def test_monitor_is_quiet_on_clean_data_and_fires_on_a_brightness_shift():
    monitor = DriftMonitor(window=16).fit(_stats(_clips(300, 0), seed=0))
    clean = monitor.alarm_rate(_stats(_clips(300, 1), seed=1))
    bright = monitor.alarm_rate(_stats(_clips(300, 2, brightness=0.1), seed=2))
    assert clean["any"] <= 0.1
    assert bright["brightness"] == 1.0 and bright["any"] == 1.0
    assert bright["motion"] <= 0.1                                    # a brightness shift does not change motion


def test_monitor_notices_lower_confidence():
    monitor = DriftMonitor(window=16, statistics=("confidence",)).fit(_stats(_clips(200, 0), seed=0))
    unsure = monitor.alarm_rate(_stats(_clips(200, 1), seed=1, sure=0.7))
    assert unsure["confidence"] == 1.0


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match=r"DriftMonitor\(window\)"):
        DriftMonitor(window=1)
    with pytest.raises(ValueError, match=r"DriftMonitor\(false_alarm\)"):
        DriftMonitor(false_alarm=0.0)
    with pytest.raises(ValueError, match=r"DriftMonitor\(statistics\)"):
        DriftMonitor(statistics=("colour",))
    with pytest.raises(RuntimeError, match="fit"):
        DriftMonitor().scores(_stats(_clips(40, 0)))
    with pytest.raises(ValueError, match=r"DriftMonitor.fit\(stats\)"):
        DriftMonitor(window=64).fit(_stats(_clips(40, 0)))
    with pytest.raises(ValueError, match=r"clip_statistics\(clips\)"):
        clip_statistics(np.zeros((2, 3, 1, 4, 4)))
    with pytest.raises(ValueError, match=r"confidence_statistics\(probs\)"):
        confidence_statistics(np.array([[0.2, 0.2]]))
