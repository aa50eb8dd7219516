"""What a backend hands back after a run: spikes and membrane potentials as plain arrays.

This is the one in-memory form every backend produces (`Backend.collect`), every writer
consumes (`snnbench.io`), and the statistics read. Times are in ms, potentials in mV,
indices are local to their population.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class PopulationOutput:
    name: str
    size: int
    cell_type: str
    recorded: np.ndarray  # local indices whose spikes were recorded
    spike_index: np.ndarray  # local index of each spike (int64)
    spike_time: np.ndarray  # ms (float64)
    v_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    v_times: np.ndarray = field(default_factory=lambda: np.empty(0))  # ms, one per sample
    v: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))  # mV, shape (samples, len(v_index))

    @property
    def n_spikes(self) -> int:
        return int(self.spike_index.size)

    def rate_hz(self, t_start: float, t_stop: float) -> float | None:
        """Mean rate per recorded cell in [t_start, t_stop) ms; None when nothing was recorded."""
        if self.recorded.size == 0 or t_stop <= t_start:
            return None
        inside = np.count_nonzero((self.spike_time >= t_start) & (self.spike_time < t_stop))
        return float(inside / self.recorded.size / ((t_stop - t_start) / 1000.0))

    def trains(self) -> list[np.ndarray]:
        """Spike times of each recorded cell, in the order of `recorded`."""
        order = np.lexsort((self.spike_time, self.spike_index))
        index, times = self.spike_index[order], self.spike_time[order]
        starts = np.searchsorted(index, self.recorded, side="left")
        ends = np.searchsorted(index, self.recorded, side="right")
        return [times[a:b] for a, b in zip(starts, ends)]


@dataclass
class WeightSamples:
    """The weights of one plastic projection at its recording times (PyNN units: uS or nA).

    Every synapse's weight (`values`, shape (times, synapses), in the order the backend reads
    them) or, for a projection over the scenario's `max_synapses`, a histogram (`counts`, shape
    (times, bins), over `bin_edges`); and the trajectory of the chosen synapses: the first k in
    (pre, post) order, local indices `chosen` (k, 2), weights `trajectory` (times, k).
    """

    times: np.ndarray  # ms
    chosen: np.ndarray  # (k, 2) int64: pre, post local indices
    trajectory: np.ndarray  # (times, k)
    values: np.ndarray | None = None  # (times, synapses)
    counts: np.ndarray | None = None  # (times, bins) int64
    bin_edges: np.ndarray | None = None  # (bins + 1,)

    def summary(self) -> dict[str, list[float]]:
        """Mean, min and max weight at each time (from the histogram's bin centres when binned)."""
        if self.values is not None:
            v = self.values
            empty = v.shape[1] == 0
            return {"times_ms": self.times.tolist(),
                    "mean": [] if empty else v.mean(axis=1).tolist(),
                    "min": [] if empty else v.min(axis=1).tolist(),
                    "max": [] if empty else v.max(axis=1).tolist()}
        centres = 0.5 * (self.bin_edges[1:] + self.bin_edges[:-1])
        total = np.maximum(self.counts.sum(axis=1), 1)
        return {"times_ms": self.times.tolist(), "mean": (self.counts @ centres / total).tolist(), "binned": True}


@dataclass
class SimulationOutput:
    simtime: float
    dt: float
    populations: dict[str, PopulationOutput]
    synapses: dict[str, int]  # per projection label, as created by the backend
    weights: dict[str, WeightSamples] = field(default_factory=dict)  # plastic projections that record them

    @property
    def n_synapses(self) -> int:
        return int(sum(self.synapses.values()))


def spikes_from_steps(steps: list[np.ndarray], recorded: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Flatten per-source spike steps of the `recorded` sources into (index, time ms)."""
    chosen = [steps[i] for i in recorded]
    index = np.repeat(recorded.astype(np.int64), [s.size for s in chosen]) if chosen else np.empty(0, np.int64)
    times = np.concatenate(chosen).astype(float) * dt if chosen else np.empty(0)
    return index, times
