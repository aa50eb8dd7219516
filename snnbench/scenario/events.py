"""Event-camera input: (x, y, t, p) streams, as tonic makes them, turned into spike sources.

A stream is a numpy structured array with fields x, y (pixels), t (microseconds) and p
(polarity), tonic's own layout (`tonic.io.make_structured_array`), so tonic's transforms apply
to it unchanged. tonic's datasets download on first use, so nothing ships with snnbench: a
scenario either generates a synthetic stream (a moving dot, below) or names a .npy file holding
such an array (e.g. saved from a tonic dataset).

Mapping to sources (docs/scenario-format.md, "Event streams"): source index = x + W y (+ W H p when polarities are
kept separate), time in ms = t / 1000, sorted; the harness then puts the times on the dt grid,
keeps at most one spike per dt per source, and only times > 0.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np


def event_dtype() -> np.dtype:
    from tonic.io import events_struct

    return events_struct


def make_events(x, y, t, p) -> np.ndarray:
    """A tonic structured array (x, y in pixels, t in microseconds, p polarity)."""
    from tonic.io import make_structured_array

    order = np.argsort(t, kind="stable")
    return make_structured_array(np.asarray(x)[order], np.asarray(y)[order], np.asarray(t)[order],
                                 np.asarray(p)[order], dtype=event_dtype())


def moving_dot(width: int, height: int, duration_ms: float, speed: float, radius: float, direction_deg: float = 0.0,
               start: tuple[float, float] | None = None, seed: int = 0, sample_us: int = 100) -> np.ndarray:
    """The events a DVS sensor would report for a bright dot moving over a dark field.

    The dot (radius in pixels) moves at `speed` pixels per ms in direction `direction_deg`,
    wrapping at the sensor's edges. Pixels are sampled every `sample_us`: a pixel that the dot
    reaches gives an ON event (p = 1), one it leaves an OFF event (p = 0), at a time drawn
    uniformly inside the sample interval.
    """
    rng = np.random.default_rng(seed)
    n_samples = int(math.ceil(duration_ms * 1000 / sample_us)) + 1
    times = np.arange(n_samples) * sample_us
    x0, y0 = start if start is not None else (width / 2, height / 2)
    angle = math.radians(direction_deg)
    cx = (x0 + speed * times / 1000 * math.cos(angle)) % width
    cy = (y0 + speed * times / 1000 * math.sin(angle)) % height
    px, py = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)  # (height, width)
    xs, ys, ts, ps = [], [], [], []
    previous = None
    for k in range(n_samples):
        dx = np.abs(px - cx[k])
        dy = np.abs(py - cy[k])
        dx, dy = np.minimum(dx, width - dx), np.minimum(dy, height - dy)
        inside = dx * dx + dy * dy <= radius * radius
        if previous is not None:
            for polarity, changed in ((1, inside & ~previous), (0, previous & ~inside)):
                yy, xx = np.nonzero(changed)
                if xx.size:
                    xs.append(xx), ys.append(yy), ps.append(np.full(xx.size, polarity))
                    ts.append(times[k - 1] + rng.integers(1, sample_us + 1, size=xx.size))
        previous = inside
    if not xs:
        return make_events(np.empty(0, int), np.empty(0, int), np.empty(0, int), np.empty(0, int))
    return make_events(np.concatenate(xs), np.concatenate(ys), np.concatenate(ts), np.concatenate(ps))


def load_events(path: str | Path) -> np.ndarray:
    events = np.load(path, allow_pickle=False)
    missing = {"x", "y", "t", "p"} - set(events.dtype.names or ())
    if missing:
        raise ValueError(f"{path}: an event array needs the fields x, y, t, p (missing {sorted(missing)})")
    return events


def apply_transforms(events: np.ndarray, sensor: tuple[int, int], polarities: int, transforms: list[dict[str, Any]]) -> np.ndarray:
    """Apply tonic transforms by name: [{name = "Denoise", filter_time = 10000}, ...]."""
    import inspect

    import tonic.transforms as T

    for spec in transforms:
        args = {k: v for k, v in spec.items() if k != "name"}
        cls = getattr(T, spec["name"])
        if "sensor_size" in inspect.signature(cls).parameters and "sensor_size" not in args:
            args["sensor_size"] = (sensor[0], sensor[1], polarities)
        events = cls(**args)(events)
    return events


def to_sources(events: np.ndarray, width: int, height: int, separate_polarities: bool) -> tuple[np.ndarray, np.ndarray]:
    """(source index, time in ms) of every event, sorted by time."""
    x, y = events["x"].astype(np.int64), events["y"].astype(np.int64)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    index = x + width * y
    if separate_polarities:
        index = index + width * height * events["p"].astype(np.int64)
    times = events["t"].astype(np.float64) / 1000.0
    order = np.argsort(times[inside], kind="stable")
    return index[inside][order], times[inside][order]
