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
class SimulationOutput:
    simtime: float
    dt: float
    populations: dict[str, PopulationOutput]
    synapses: dict[str, int]  # per projection label, as created by the backend

    @property
    def n_synapses(self) -> int:
        return int(sum(self.synapses.values()))


def spikes_from_steps(steps: list[np.ndarray], recorded: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Flatten per-source spike steps of the `recorded` sources into (index, time ms)."""
    chosen = [steps[i] for i in recorded]
    index = np.repeat(recorded.astype(np.int64), [s.size for s in chosen]) if chosen else np.empty(0, np.int64)
    times = np.concatenate(chosen).astype(float) * dt if chosen else np.empty(0)
    return index, times
