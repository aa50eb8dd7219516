"""The report's figures (matplotlib, Agg), returned as base64 PNG for a self-contained page."""

from __future__ import annotations

import base64
import io
import statistics
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..fit import configuration  # noqa: E402
from ..record import RunRecord  # noqa: E402

PHASE_ORDER = ("compile", "build", "sim", "collect", "write")
_COLOURS = plt.get_cmap("tab10").colors


def colour(backend: str, backends: list[str]) -> tuple:
    return _COLOURS[backends.index(backend) % len(_COLOURS)]


def to_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _median_range(values: list[float]) -> tuple[float, float, float]:
    return statistics.median(values), min(values), max(values)


def phase_bars(groups: dict[str, list[RunRecord]], backends: list[str], title: str) -> str:
    """Median wall time per phase and backend (log scale), whiskers from min to max."""
    phases = [p for p in PHASE_ORDER if any(p in r.phases for rs in groups.values() for r in rs)]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    width = 0.8 / max(1, len(groups))
    for i, backend in enumerate(b for b in backends if b in groups):
        meds, lows, highs = [], [], []
        for p in phases:
            vals = [r.phases[p].wall_s for r in groups[backend] if p in r.phases]
            m, lo, hi = _median_range(vals) if vals else (np.nan, np.nan, np.nan)
            if not m >= 5e-4:  # a phase with nothing to do (NEST's compile): no bar on a log axis
                m, lo, hi = np.nan, np.nan, np.nan
            meds.append(m), lows.append(m - lo), highs.append(hi - m)
        x = np.arange(len(phases)) + i * width
        ax.bar(x, meds, width, yerr=[lows, highs], capsize=2, label=backend, color=colour(backend, backends))
    ax.set_xticks(np.arange(len(phases)) + width * (len(groups) - 1) / 2, phases)
    ax.set_yscale("log")
    ax.set_ylabel("wall time (s), log scale; no bar: < 0.5 ms")
    ax.set_xlabel("phase")
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    return to_png(fig)


def memory_bars(groups: dict[str, list[RunRecord]], backends: list[str], title: str) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.4))
    names = [b for b in backends if b in groups]
    meds, lows, highs = [], [], []
    for b in names:
        m, lo, hi = _median_range([r.peak_rss_bytes / 2**20 for r in groups[b]])
        meds.append(m), lows.append(m - lo), highs.append(hi - m)
    ax.bar(names, meds, yerr=[lows, highs], capsize=3, color=[colour(b, backends) for b in names])
    ax.set_ylabel("peak resident memory (MiB)")
    ax.set_xlabel("backend")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    plt.setp(ax.get_xticklabels(), rotation=20, ha="right")
    return to_png(fig)


def _value(record: RunRecord, phase: str) -> float | None:
    if phase == "memory":
        return record.peak_rss_bytes / 2**20
    if phase == "total":
        return sum(record.wall_s(p) or 0.0 for p in ("compile", "realise", "build", "sim", "collect", "write")) * 1000
    wall = record.wall_s(phase)
    return wall * 1000 if wall is not None else None


def scaling(records: list[RunRecord], models: dict[tuple[str, str], Any], backends: list[str], phase: str,
            axis: str, fixed: float, label_of: Callable[[Any], str] = configuration) -> str:
    """Cost vs N_pop (at simtime = fixed) or vs simtime (at N_pop = fixed), log-log: measured
    medians with min-max bars, and the fitted model with its 95 % prediction band."""
    unit = "MiB" if phase == "memory" else "ms"
    quantity = "peak memory" if phase == "memory" else f"{phase} time"
    other = "simtime" if axis == "N_pop" else "N_pop"
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    shown: list[float] = []  # measured values and fitted means: the y range of the plot
    xs_all: set[float] = set()  # the measured abscissae, labelled on the axis
    for backend in backends:
        points: dict[float, list[float]] = {}
        for r in records:
            if label_of(r) != backend or getattr(r.resolved, other) != fixed:
                continue
            v = _value(r, phase)
            if v is not None and v > 0:
                points.setdefault(float(getattr(r.resolved, axis)), []).append(v)
        if not points:
            continue
        xs = np.array(sorted(points))
        xs_all.update(points)
        med = np.array([statistics.median(points[x]) for x in xs])
        lo = med - np.array([min(points[x]) for x in xs])
        hi = np.array([max(points[x]) for x in xs]) - med
        c = colour(backend, backends)
        ax.errorbar(xs, med, yerr=[lo, hi], fmt="o", ms=4, capsize=2, color=c, label=f"{backend} (measured)")
        shown += [v for vals in points.values() for v in vals]
        model = models.get((backend, phase))
        if model is not None and xs.size > 1:
            grid = np.geomspace(xs.min(), xs.max(), 60)
            pred = model.predict(grid, fixed) if axis == "N_pop" else model.predict(np.full_like(grid, fixed), grid)
            mean = np.clip(pred["mean"], 1e-9, None)
            ax.plot(grid, mean, "-", color=c, lw=1.2, label=f"{backend} fit (R² {model.r2:.3f})")
            ax.fill_between(grid, np.clip(pred["low"], 1e-9, None), np.clip(pred["high"], 1e-9, None), color=c, alpha=0.15)
            shown += [float(v) for v in pred["mean"] if v > 0]
    ax.set_xscale("log")
    # label the measured sizes only: matplotlib's minor log labels (600, 700, ...) collide
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(sorted(xs_all)))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    if shown:
        low, high = min(shown), max(shown)
        if high / low >= 10:  # log scale, limited to the data and fits: a band through 0 must not set it
            ax.set_yscale("log")
            ax.set_ylim(low / 2, high * 2)
        else:
            pad = 0.15 * (high - low) or 0.1 * high
            ax.set_ylim(max(0.0, low - pad), high + pad)
    ax.set_xlabel("N_pop (neurons)" if axis == "N_pop" else "simtime (ms of biological time)")
    ax.set_ylabel(f"{quantity} ({unit})")
    ax.set_title(f"{quantity} vs {axis} at {other} = {fixed:g}" + (" ms" if other == "simtime" else ""))
    plain = matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return to_png(fig)


def raster(output, backend: str, max_cells: int = 300, max_ms: float = 1000.0) -> str:
    """Spikes of up to `max_cells` cells per population, in the first `max_ms` ms."""
    fig, ax = plt.subplots(figsize=(8, 3.6))
    offset = 0
    for i, (name, pop) in enumerate(p for p in output.populations.items() if not p[1].cell_type.startswith("SpikeSource")):
        keep = (pop.spike_index < max_cells) & (pop.spike_time < max_ms)
        ax.scatter(pop.spike_time[keep], pop.spike_index[keep] + offset, s=1.5, marker="|", color=_COLOURS[i], label=name)
        offset += min(max_cells, pop.size)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("cell (first cells of each population)")
    ax.set_title(f"raster, {backend}")
    ax.set_xlim(0, min(max_ms, output.simtime))
    ax.legend(fontsize=8, markerscale=6, loc="upper right")
    return to_png(fig)


def distributions(stats_by_backend: dict[str, dict[str, Any]], backends: list[str]) -> str:
    """Per-neuron rate and CV ISI distributions per backend and population (after the transient)."""
    pops = sorted({p for s in stats_by_backend.values() for p in s})
    fig, axes = plt.subplots(len(pops), 2, figsize=(9, 2.6 * max(1, len(pops))), squeeze=False)
    for row, pop in enumerate(pops):
        for col, (stat, label) in enumerate((("rate", "firing rate (Hz)"), ("cv_isi", "CV of ISI"))):
            ax = axes[row][col]
            values = [s[pop].values(stat) for s in stats_by_backend.values() if pop in s]
            finite = np.concatenate([v for v in values if v.size]) if any(v.size for v in values) else np.empty(0)
            bins = np.histogram_bin_edges(finite, bins=30) if finite.size else 10
            for backend, s in stats_by_backend.items():
                if pop in s and s[pop].values(stat).size:
                    ax.hist(s[pop].values(stat), bins=bins, histtype="step", density=True, lw=1.4,
                            color=colour(backend, backends), label=backend)
            ax.set_xlabel(f"{pop}: {label}")
            ax.set_ylabel("density")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return to_png(fig)
