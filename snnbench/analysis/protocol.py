"""The cross-backend equivalence protocol (docs/validation.md), as pure functions.

After NetworkUnit (Gutzen et al. 2018, Front Neuroinform 12:90) and van Albada et al. 2018
(Front Neurosci 12:291): distributions of rates, CVs and count correlations compared against the
reference's own seed-to-seed spread.

Statistical tier ("backend X reproduces reference Y"): for every population and statistic,
the KS distance between every pair of reference seeds (D_YY) and between every candidate seed
and every reference seed (D_XY). The statistic passes if

    mean(D_XY) <= mean(D_YY) + 2 sd(D_YY)

and the population passes the rate rule if the seed-averaged population-mean rates differ by
at most max(2 sd across reference seeds, 5 % of the reference). KS p-values are not used (with
thousands of samples they reject trivial differences). The KL divergence of the pooled
distributions is reported beside, for comparison with the literature, and does not decide.

Plastic projections whose weights were recorded at the end of the run: the final weight
distribution of each (`<projection>: final weight`) is one more statistic under the same rule
(D_XY against D_YY), beside the populations' (docs/validation.md).

Silent seeds: a network whose self-sustained activity dies (it happens to some realisations of
the Vogels-Abbott COBA network) is in a different state, not a sample of the active dynamics.
Mixing silent and active seeds makes D_YY so wide that nothing can fail. So the distributions
are compared over the seeds that stayed active, the number of silent seeds of each backend is
reported, a candidate whose every seed fell silent fails, and fewer than 2 active reference
seeds is an error (run more seeds). A comparison whose limit reaches 1 cannot fail and is
flagged as uninformative.

Exact tier (no recurrence, identical inputs): every recorded cell's spike times agree within
one dt, and v within 0.05 mV RMS. For networks the time at which the rasters first diverge is
reported, for information only (chaos makes divergence certain).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.stats import entropy, ks_2samp

from ..output import SimulationOutput
from .statistics import PROJECTION_STATISTICS, STATISTICS, PopulationStatistics, ProjectionStatistics

V_RMS_LIMIT_MV = 0.05
RATE_RELATIVE_TOLERANCE = 0.05
KL_BINS = 30
# Weights are compared on a grid of this fraction of the largest reference weight: a weight no
# spike moved is the initial weight through two unit conversions, which may differ by an ulp
# between backends, and the KS distance would count that as a shift of every such synapse.
WEIGHT_GRID = 1e-6


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov-Smirnov statistic; 1 when exactly one sample is empty."""
    if a.size == 0 and b.size == 0:
        return 0.0
    if a.size == 0 or b.size == 0:
        return 1.0
    return float(ks_2samp(a, b).statistic)


def kl_divergence(x: np.ndarray, y: np.ndarray, bins: int = KL_BINS) -> float | None:
    """KL(X || Y) of the histograms of x and y on common bins (lightly smoothed)."""
    if x.size == 0 or y.size == 0:
        return None
    edges = np.histogram_bin_edges(np.concatenate([x, y]), bins=bins)
    px, _ = np.histogram(x, edges)
    py, _ = np.histogram(y, edges)
    eps = 1e-10
    return float(entropy(px / px.sum() + eps, py / py.sum() + eps))


@dataclass(kw_only=True)
class _DistanceComparison:
    """One statistic's distances, candidate against reference, and the decision rule's verdict."""

    statistic: str
    d_xy_mean: float
    d_yy_mean: float
    d_yy_sd: float
    limit: float
    kl_xy: float | None
    kl_yy: float | None
    n_x: int  # samples pooled over candidate seeds
    n_y: int
    passed: bool
    note: str = ""


@dataclass(kw_only=True)
class StatisticComparison(_DistanceComparison):
    population: str


@dataclass(kw_only=True)
class ProjectionComparison(_DistanceComparison):
    """A statistic of one plastic projection (its final weights), under the statistics' rule."""

    projection: str


@dataclass
class RateComparison:
    population: str
    mean_x: float
    mean_y: float
    sd_y: float
    tolerance: float
    difference: float
    passed: bool


@dataclass
class StatisticalResult:
    statistics: list[StatisticComparison]
    rates: list[RateComparison]
    reference_seeds: int
    candidate_seeds: int
    reference_silent: int = 0
    candidate_silent: int = 0
    notes: list[str] = field(default_factory=list)
    projections: list[ProjectionComparison] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        if self.candidate_silent == self.candidate_seeds:
            return False
        return (all(s.passed for s in self.statistics) and all(r.passed for r in self.rates)
                and all(p.passed for p in self.projections))

    def as_dict(self) -> dict:
        return {"passed": self.passed, "reference_seeds": self.reference_seeds, "candidate_seeds": self.candidate_seeds,
                "reference_silent": self.reference_silent, "candidate_silent": self.candidate_silent, "notes": self.notes,
                "statistics": [asdict(s) for s in self.statistics], "rates": [asdict(r) for r in self.rates],
                "projections": [asdict(p) for p in self.projections]}


class InsufficientReference(ValueError):
    """Too few reference seeds (or too few that stayed active) to estimate D_YY."""


def is_silent(seed: dict[str, PopulationStatistics]) -> bool:
    """True when no population of neurons fired after the transient: the activity died."""
    return all(s.rate.size == 0 or not np.any(s.rate > 0) for s in seed.values())


def _distances(ys: list[np.ndarray], xs: list[np.ndarray]) -> dict:
    """The rule for one statistic: per-seed samples of the reference (ys) and the candidate (xs)."""
    d_yy = np.array([ks_distance(a, b) for a, b in itertools.combinations(ys, 2)])
    d_xy = np.array([ks_distance(x, y) for x in xs for y in ys])
    mean_yy, sd_yy = float(d_yy.mean()), float(d_yy.std(ddof=1)) if d_yy.size > 1 else 0.0
    limit = mean_yy + 2 * sd_yy
    pooled_x, pooled_y = np.concatenate(xs), np.concatenate(ys)
    kl_yy = [kl_divergence(a, b) for a, b in itertools.combinations(ys, 2)]
    kl_yy = [k for k in kl_yy if k is not None]
    note = ""
    if pooled_x.size == 0 and pooled_y.size == 0:
        note = "no samples in either backend (e.g. no cell with 3 spikes): not applicable"
    elif limit >= 1.0:
        note = "uninformative: the reference seeds disagree so much that no distance can fail"
    return dict(d_xy_mean=float(d_xy.mean()), d_yy_mean=mean_yy, d_yy_sd=sd_yy, limit=limit,
                kl_xy=kl_divergence(pooled_x, pooled_y), kl_yy=float(np.mean(kl_yy)) if kl_yy else None,
                n_x=int(pooled_x.size), n_y=int(pooled_y.size), passed=bool(d_xy.mean() <= limit + 1e-12), note=note)


def compare_projections(reference: list[dict[str, ProjectionStatistics]],
                        candidate: list[dict[str, ProjectionStatistics]]) -> list[ProjectionComparison]:
    """Each projection of every reference seed, its statistics compared as the populations' are; a
    candidate seed without the projection counts as an empty sample (a KS distance of 1)."""
    names = [name for name in (reference[0] if reference else {}) if all(name in seed for seed in reference)]
    comparisons = []
    for name in names:
        for stat in PROJECTION_STATISTICS:
            ys = [seed[name].values(stat) for seed in reference]
            xs = [seed[name].values(stat) if name in seed else np.empty(0) for seed in candidate]
            largest = max((float(np.abs(y).max()) for y in ys if y.size), default=0.0)
            if largest > 0:
                grid = WEIGHT_GRID * largest
                ys, xs = [np.round(y / grid) for y in ys], [np.round(x / grid) for x in xs]
            result = _distances(ys, xs)
            missing = sum(name not in seed for seed in candidate)
            if missing:
                result["note"] = f"not recorded by {missing} of {len(candidate)} candidate seeds"
            comparisons.append(ProjectionComparison(projection=name, statistic=stat, **result))
    return comparisons


def compare_statistical(reference: list[dict[str, PopulationStatistics]],
                        candidate: list[dict[str, PopulationStatistics]],
                        reference_projections: list[dict[str, ProjectionStatistics]] | None = None,
                        candidate_projections: list[dict[str, ProjectionStatistics]] | None = None) -> StatisticalResult:
    """Compare per-seed statistics of a candidate backend (X) with a reference backend (Y): those of
    the populations and, when given (one dictionary per seed, in the same order), of the plastic
    projections."""
    if not candidate:
        raise ValueError("the statistical tier needs at least 1 candidate seed")
    reference_projections = reference_projections or [{} for _ in reference]
    candidate_projections = candidate_projections or [{} for _ in candidate]
    if len(reference_projections) != len(reference) or len(candidate_projections) != len(candidate):
        raise ValueError("one dictionary of projection statistics per seed")
    n_ref, n_cand = len(reference), len(candidate)
    ref_active = [not is_silent(s) for s in reference]
    cand_active = [not is_silent(s) for s in candidate]
    ref_silent, cand_silent = ref_active.count(False), cand_active.count(False)
    reference = [s for s, active in zip(reference, ref_active) if active]
    reference_projections = [s for s, active in zip(reference_projections, ref_active) if active]
    if len(reference) < 2:
        raise InsufficientReference(
            f"only {len(reference)} of {n_ref} reference seeds stayed active (the statistical tier needs 2): run more seeds")
    notes = []
    if ref_silent or cand_silent:
        notes.append(f"activity died in {ref_silent} of {n_ref} reference seeds and {cand_silent} of {n_cand} candidate "
                     "seeds; the distributions are compared over the active seeds")
    if cand_silent == n_cand:
        notes.append("every candidate seed fell silent: FAIL")
        return StatisticalResult([], [], n_ref, n_cand, ref_silent, cand_silent, notes)
    candidate = [s for s, active in zip(candidate, cand_active) if active]
    candidate_projections = [s for s, active in zip(candidate_projections, cand_active) if active]
    populations = list(reference[0])
    comparisons, rates = [], []
    for pop in populations:
        for stat in STATISTICS:
            ys = [seed[pop].values(stat) for seed in reference]
            xs = [seed[pop].values(stat) for seed in candidate]
            comparisons.append(StatisticComparison(population=pop, statistic=stat, **_distances(ys, xs)))
        m_y = np.array([seed[pop].mean_rate for seed in reference])
        m_x = np.array([seed[pop].mean_rate for seed in candidate])
        sd_y = float(m_y.std(ddof=1))
        tolerance = max(2 * sd_y, RATE_RELATIVE_TOLERANCE * abs(float(m_y.mean())))
        difference = abs(float(m_x.mean()) - float(m_y.mean()))
        rates.append(RateComparison(pop, float(m_x.mean()), float(m_y.mean()), sd_y, tolerance, difference,
                                    bool(difference <= tolerance)))
    return StatisticalResult(comparisons, rates, n_ref, n_cand, ref_silent, cand_silent, notes,
                             compare_projections(reference_projections, candidate_projections))


# ------------------------------------------------------------------------------ exact tier


@dataclass
class CellComparison:
    population: str
    index: int
    spikes_x: int
    spikes_y: int
    max_shift_ms: float | None
    v_rms_mv: float | None
    passed: bool


@dataclass
class ExactResult:
    dt: float
    cells: list[CellComparison] = field(default_factory=list)
    first_divergence_ms: float | None = None

    @property
    def passed(self) -> bool:
        return bool(self.cells) and all(c.passed for c in self.cells)

    def as_dict(self) -> dict:
        return {"passed": self.passed, "dt": self.dt, "first_divergence_ms": self.first_divergence_ms,
                "cells": [asdict(c) for c in self.cells]}


def first_divergence(x: SimulationOutput, y: SimulationOutput, dt: float) -> float | None:
    """The earliest time at which any recorded cell's spikes differ by more than one dt; None if never."""
    earliest = None
    for name, px in x.populations.items():
        if px.cell_type.startswith("SpikeSource"):
            continue
        py = y.populations[name]
        for tx, ty in zip(px.trains(), py.trains()):
            n = min(tx.size, ty.size)
            off = np.nonzero(np.abs(tx[:n] - ty[:n]) > dt + 1e-9)[0]
            if off.size:
                t = float(min(tx[off[0]], ty[off[0]]))
            elif tx.size != ty.size:
                t = float((tx if tx.size > n else ty)[n])
            else:
                continue
            earliest = t if earliest is None else min(earliest, t)
    return earliest


def compare_exact(candidate: SimulationOutput, reference: SimulationOutput) -> ExactResult:
    """Spike times within one dt and v within 0.05 mV RMS, cell by cell."""
    dt = reference.dt
    result = ExactResult(dt=dt, first_divergence_ms=first_divergence(candidate, reference, dt))
    for name, py in reference.populations.items():
        if py.cell_type.startswith("SpikeSource"):
            continue
        px = candidate.populations[name]
        v_rms = {}
        if px.v.size and py.v.size:
            n = min(px.v.shape[0], py.v.shape[0])
            for col, idx in enumerate(py.v_index):
                v_rms[int(idx)] = float(np.sqrt(np.mean((px.v[:n, col] - py.v[:n, col]) ** 2)))
        for idx, tx, ty in zip(py.recorded, px.trains(), py.trains()):
            shift = float(np.max(np.abs(tx - ty))) if tx.size == ty.size and tx.size else (0.0 if tx.size == ty.size else None)
            rms = v_rms.get(int(idx))
            ok = shift is not None and shift <= dt + 1e-9 and (rms is None or rms < V_RMS_LIMIT_MV)
            result.cells.append(CellComparison(name, int(idx), int(tx.size), int(ty.size), shift, rms, ok))
    return result
