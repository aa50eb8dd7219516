"""Spike statistics per population, after a transient (docs/validation.md, "Statistics").

- firing rate of every recorded cell (Hz) in [t_start, t_stop)
- CV of the inter-spike intervals of every cell with >= 3 spikes in the window
- pairwise correlation coefficients of spike counts in 2 ms bins, over a sample of up to 200
  active cells (the sample is drawn with a fixed generator, so it is reproducible)

Rates and CVs are computed with numpy on the spike arrays (4000 neo objects per population would
cost more than the statistics); the correlations use elephant's BinnedSpikeTrain and
correlation_coefficient. Input may be a PopulationOutput or a list of neo SpikeTrains.

Per plastic projection whose weights were recorded at the end of the run (every synapse's value):

- the final weight of every synapse (PyNN units), or of a sample of WEIGHT_SAMPLE synapses drawn
  with a fixed generator when there are more (KS distances of millions of values cost seconds
  each and say nothing more)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import quantities as pq

from ..output import PopulationOutput, SimulationOutput, WeightSamples

STATISTICS = ("rate", "cv_isi", "correlation")
CORRELATION_CELLS = 200
CORRELATION_BIN_MS = 2.0
PROJECTION_STATISTICS = ("final_weight",)
WEIGHT_SAMPLE = 100_000


@dataclass
class PopulationStatistics:
    name: str
    n_cells: int
    window_ms: tuple[float, float]
    rate: np.ndarray  # Hz, one per recorded cell
    cv_isi: np.ndarray  # one per cell with >= 3 spikes
    correlation: np.ndarray  # one per pair of sampled active cells
    extra: dict = field(default_factory=dict)

    @property
    def mean_rate(self) -> float:
        return float(self.rate.mean()) if self.rate.size else float("nan")

    @property
    def fraction_silent(self) -> float:
        return float(np.mean(self.rate == 0)) if self.rate.size else float("nan")

    def values(self, statistic: str) -> np.ndarray:
        return getattr(self, statistic)

    def summary(self) -> dict:
        def med(x):
            return float(np.mean(x)) if x.size else None
        return {
            "n_cells": self.n_cells, "mean_rate_hz": self.mean_rate, "fraction_silent": self.fraction_silent,
            "mean_cv_isi": med(self.cv_isi), "n_cv": int(self.cv_isi.size),
            "mean_correlation": med(self.correlation), "n_pairs": int(self.correlation.size),
        }


def _as_trains(spikes) -> list[np.ndarray]:
    if isinstance(spikes, PopulationOutput):
        return spikes.trains()
    return [np.asarray(st.rescale(pq.ms).magnitude if hasattr(st, "rescale") else st, dtype=float) for st in spikes]


def population_statistics(spikes, t_start: float, t_stop: float, name: str = "",
                          n_correlation: int = CORRELATION_CELLS, bin_ms: float = CORRELATION_BIN_MS,
                          seed: int = 0) -> PopulationStatistics:
    """Statistics of one population's spike trains in [t_start, t_stop) ms."""
    trains = [t[(t >= t_start) & (t < t_stop)] for t in _as_trains(spikes)]
    duration_s = (t_stop - t_start) / 1000.0
    counts = np.array([t.size for t in trains], dtype=float)
    rate = counts / duration_s if trains else np.empty(0)
    cvs = []
    for t in trains:
        if t.size >= 3:
            isi = np.diff(np.sort(t))
            mean = isi.mean()
            cvs.append(isi.std() / mean if mean > 0 else 0.0)
    active = np.nonzero(counts > 0)[0]
    correlation = _count_correlations(trains, active, t_start, t_stop, n_correlation, bin_ms, seed)
    return PopulationStatistics(name, len(trains), (t_start, t_stop), rate, np.asarray(cvs), correlation)


def _count_correlations(trains, active, t_start, t_stop, n_cells, bin_ms, seed) -> np.ndarray:
    if active.size < 2:
        return np.empty(0)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(active, size=min(n_cells, active.size), replace=False))
    import neo
    from elephant.conversion import BinnedSpikeTrain
    from elephant.spike_train_correlation import correlation_coefficient

    sts = [neo.SpikeTrain(trains[i], units="ms", t_start=t_start, t_stop=t_stop) for i in chosen]
    binned = BinnedSpikeTrain(sts, bin_size=bin_ms * pq.ms, t_start=t_start * pq.ms, t_stop=t_stop * pq.ms)
    matrix = correlation_coefficient(binned)
    upper = matrix[np.triu_indices(len(sts), k=1)]
    return upper[np.isfinite(upper)]


def run_statistics(output: SimulationOutput, transient: float, **kw) -> dict[str, PopulationStatistics]:
    """Statistics of every population of neurons with recorded spikes, after `transient` ms."""
    stats = {}
    for name, pop in output.populations.items():
        if pop.cell_type.startswith("SpikeSource") or pop.recorded.size == 0:
            continue
        stats[name] = population_statistics(pop, transient, output.simtime, name=name, **kw)
    return stats


@dataclass
class ProjectionStatistics:
    name: str
    n_synapses: int
    time_ms: float
    final_weight: np.ndarray  # PyNN units (uS or nA): every synapse's, or a fixed sample of WEIGHT_SAMPLE

    def values(self, statistic: str) -> np.ndarray:
        return getattr(self, statistic)

    def summary(self) -> dict:
        w = self.final_weight
        return {"n_synapses": self.n_synapses, "time_ms": self.time_ms, "n_sampled": int(w.size),
                "mean_weight": float(w.mean()) if w.size else None, "sd_weight": float(w.std()) if w.size else None}


def projection_statistics(samples: WeightSamples, name: str = "", n_sample: int = WEIGHT_SAMPLE,
                          seed: int = 0) -> ProjectionStatistics:
    """The final weights of one projection's recording (its last time; every synapse's value needed)."""
    if samples.values is None:
        raise ValueError(f"{name}: its weights were recorded as a histogram; the final weight distribution needs every "
                         "synapse's value (record with Overrides(final_weights=True))")
    final = np.asarray(samples.values[-1], dtype=float)
    if final.size > n_sample:
        final = final[np.sort(np.random.default_rng(seed).choice(final.size, size=n_sample, replace=False))]
    return ProjectionStatistics(name, int(samples.values.shape[1]), float(samples.times[-1]), final)


def run_weight_statistics(output: SimulationOutput, **kw) -> dict[str, ProjectionStatistics]:
    """Statistics of every projection whose weights were recorded, every synapse's, at simtime."""
    stats = {}
    for name, samples in output.weights.items():
        if samples.values is not None and len(samples.times) and abs(samples.times[-1] - output.simtime) <= output.dt / 2:
            stats[name] = projection_statistics(samples, name=name, **kw)
    return stats
