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


def _grouped_bars(ax, groups: dict[str, list[RunRecord]], backends: list[str], categories: list[str],
                  values: Callable[[list[RunRecord], str], list[float]]) -> None:
    """One bar per backend in each category: the median of `values(runs, category)`, whiskers min to max."""
    names = [b for b in backends if b in groups]
    width = 0.8 / max(1, len(names))
    for i, backend in enumerate(names):
        meds, lows, highs = [], [], []
        for category in categories:
            vals = values(groups[backend], category)
            m, lo, hi = _median_range(vals) if vals else (np.nan, np.nan, np.nan)
            meds.append(m), lows.append(m - lo), highs.append(hi - m)
        ax.bar(np.arange(len(categories)) + i * width, meds, width, yerr=[lows, highs], capsize=2, label=backend,
               color=colour(backend, backends))
    ax.set_xticks(np.arange(len(categories)) + width * (len(names) - 1) / 2, categories)


def phase_bars(groups: dict[str, list[RunRecord]], backends: list[str], title: str) -> str:
    """Median wall time per phase and backend (log scale), whiskers from min to max."""
    phases = [p for p in PHASE_ORDER if any(p in r.phases for rs in groups.values() for r in rs)]
    fig, ax = plt.subplots(figsize=(9, 4.2))
    # a phase with nothing to do (NEST's compile, under 0.5 ms): no bar on a log axis
    _grouped_bars(ax, groups, backends, phases,
                  lambda rs, p: [r.phases[p].wall_s for r in rs if p in r.phases and r.phases[p].wall_s >= 5e-4])
    ax.set_yscale("log")
    finite = [v for b in groups for p in phases for r in groups[b] if p in r.phases and (v := r.phases[p].wall_s) >= 5e-4]
    if finite:
        log_axis(ax.yaxis, min(finite) / 2, max(finite) * 2)
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


def _number(v: float, _pos: Any = None) -> str:
    """A tick label: 500, 2,000, 0.05 (never 5e+02)."""
    return f"{v:,.0f}" if v >= 1000 else f"{v:g}"


def log_axis(axis, low: float, high: float) -> None:
    """Readable labels on a log axis: the decades, and 2 and 5 between them when the range
    spans less than ~1.5 decades (otherwise unlabelled minor ticks: labels would collide)."""
    ticker = matplotlib.ticker
    axis.set_major_locator(ticker.LogLocator(base=10, numticks=12))
    axis.set_major_formatter(ticker.FuncFormatter(_number))
    if high / low < 10**1.5:
        axis.set_minor_locator(ticker.LogLocator(base=10, subs=(2.0, 5.0), numticks=12))
        axis.set_minor_formatter(ticker.FuncFormatter(_number))
    else:
        axis.set_minor_locator(ticker.LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
        axis.set_minor_formatter(ticker.NullFormatter())


def scaling(df, models: dict[tuple[str, str], Any], backends: list[str], phase: str, axis: str, fixed: float,
            backend_of: dict[str, str], scenario: str = "") -> tuple[str, list[str]]:
    """Cost vs N_pop (at simtime = fixed) or vs simtime (at N_pop = fixed), log-log.

    Points: medians with min-max bars over the runs that measure the cost (`fit.cost_rows`: warm
    code caches). A fitted line with its 95 % prediction band only where the model holds on these
    points (`fit.holds`), over the measured range only; otherwise the points alone and the reason
    in the returned notes, as for a backend without a model. Published figures of the same
    quantity (`snnbench.published`) are drawn beside the backend they measure, dashed, with
    their hardware. Returns the PNG and the notes for the caption.
    """
    from ..fit import cost_rows, holds
    from ..published import overlays

    unit = "MiB" if phase == "memory" else "ms"
    quantity = "peak memory" if phase == "memory" else f"{phase} time"
    column = "N" if axis == "N_pop" else "simtime"
    other = "simtime" if axis == "N_pop" else "N"
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    shown: list[float] = []  # measured values and fitted means: the y range of the plot
    xs_all: list[float] = []
    notes: list[str] = []
    plotted: set[str] = set()
    for backend in backends:
        rows, _ = cost_rows(df, backend, phase)
        rows = rows[(rows[other] == fixed) & rows[phase].notna()] if len(rows) and phase in rows.columns else rows.iloc[0:0]
        rows = rows[rows[phase] > 0]
        if not len(rows):
            continue
        plotted.add(backend_of.get(backend, backend))
        stats = rows.groupby(column)[phase].agg(["median", "min", "max"])
        xs = stats.index.to_numpy(dtype=float)
        xs_all += list(xs)
        med = stats["median"].to_numpy()
        c = colour(backend, backends)
        model = models.get((backend, phase))
        ok, why = (holds(model, rows) if model is not None else (False, "no model"))
        if model is None:
            from ..fit import no_model_reason

            why = f"no model: {no_model_reason(cost_rows(df, backend, phase)[0], backend, phase)}"
        elif xs.size < 2:
            ok, why = False, "one size in this slice"
        label = f"{backend} (measured)" if ok else f"{backend} (measured; no fitted line)"
        ax.errorbar(xs, med, yerr=[med - stats["min"].to_numpy(), stats["max"].to_numpy() - med], fmt="o", ms=4,
                    capsize=2, color=c, label=label)
        shown += list(rows[phase].to_numpy(dtype=float))
        if ok:
            grid = np.geomspace(xs.min(), xs.max(), 60)
            pred = model.predict(grid, fixed) if axis == "N_pop" else model.predict(np.full_like(grid, fixed), grid)
            checks = ", ".join(f"{k.split(' ')[0]} p {v:.2g}" for k, v in model.checks.items())
            ax.plot(grid, np.clip(pred["mean"], 1e-9, None), "-", color=c, lw=1.2, label=f"{backend} fit (R² {model.r2:.3f})")
            ax.fill_between(grid, np.clip(pred["low"], 1e-9, None), np.clip(pred["high"], 1e-9, None), color=c, alpha=0.15)
            shown += [float(v) for v in pred["mean"] if v > 0]
            notes.append(f"{backend}: {model.formula()}; R² {model.r2:.3f}; residual checks: {checks}"
                         + (f"; {model.note}" if model.note else ""))
        else:
            notes.append(f"{backend}: measured points only ({why})")
    published_models, published_rates = overlays(scenario, plotted, phase)
    if xs_all:
        grid = np.geomspace(min(xs_all), max(xs_all), 60)
        for p in published_models:
            y = [p.predict_ms(x, fixed) if axis == "N_pop" else p.predict_ms(fixed, x) for x in grid]
            ax.plot(grid, np.clip(y, 1e-9, None), "--", color="0.35", lw=1.0, label=f"published: {p.label} ({p.hardware})")
            shown += [v for v in y if v > 0]
            notes.append(f"published: {p.label}, T = {p.a_ms_per_neuron:g} N + {p.b_ms_per_neuron_per_s:g} N simtime/1000 ms "
                         f"({p.hardware}; {p.source})")
        for p in published_rates:
            if axis == "N_pop":
                x, y = np.array([p.N_pop]), np.array([p.seconds_per_biological_second * fixed])
            elif fixed == p.N_pop:
                x = grid
                y = p.seconds_per_biological_second * grid
            else:
                continue
            c = next((colour(b, backends) for b in backends if backend_of.get(b, b) in p.backends), "0.35")
            ax.plot(x, y, "*--" if x.size > 1 else "*", color=c, ms=11, mec="k", mew=0.6,
                    label=f"published: {p.label}, {p.seconds_per_biological_second:g} s per s ({p.hardware})")
            shown += list(y)
            notes.append(f"published: {p.label} at N_pop {p.N_pop:,}, {p.seconds_per_biological_second:g} s of wall time per "
                         f"biological second ({p.hardware}; {p.source})")
    ax.set_xscale("log")
    if xs_all:
        lo, hi = min(xs_all), max(xs_all)
        ax.set_xlim(lo / 1.25, hi * 1.25)
        log_axis(ax.xaxis, lo / 1.25, hi * 1.25)
    if shown:
        low, high = min(shown), max(shown)
        if high / low >= 10:  # log scale, limited to the data and fits: a band through 0 must not set it
            ax.set_yscale("log")
            ax.set_ylim(low / 2, high * 2)
            log_axis(ax.yaxis, low / 2, high * 2)
        else:
            pad = 0.15 * (high - low) or 0.1 * high
            ax.set_ylim(max(0.0, low - pad), high + pad)
    ax.set_xlabel("N_pop (neurons)" if axis == "N_pop" else "simtime (ms of biological time)")
    ax.set_ylabel(f"{quantity} ({unit})")
    ax.set_title(f"{quantity} vs {axis} at {'simtime' if axis == 'N_pop' else 'N_pop'} = {_number(fixed)}"
                 + (" ms" if axis == "N_pop" else ""))
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=6.5, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    return to_png(fig), notes


def rates(groups: dict[str, list[RunRecord]], backends: list[str], title: str) -> str:
    """Mean firing rate of every population of cells, per backend: median over runs, min-max whiskers."""
    populations = list(dict.fromkeys(name for rs in groups.values() for r in rs for name in r.cell_populations))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(populations) + 3), 3.6))
    _grouped_bars(ax, groups, backends, populations,
                  lambda rs, pop: [r.rate_hz(pop) for r in rs if r.rate_hz(pop) is not None])
    ax.set_ylabel("mean firing rate (Hz), whole run")
    ax.set_xlabel("population")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    return to_png(fig)


def winner_map(points: list[Any], backends: list[str], phase: str = "total") -> str:
    """The cheapest validated configuration at each measured (N_pop, simtime), coloured, with how
    many times cheaper it is than the best other backend; hatched where their ranges overlap."""
    from matplotlib.patches import Patch

    sizes = sorted({p.N_pop for p in points})
    times = sorted({p.simtime for p in points})
    fig, ax = plt.subplots(figsize=(min(11.0, 1.3 * len(sizes) + 2.5), 0.75 * len(times) + 1.9))
    winners = []
    for p in points:
        x, y = sizes.index(p.N_pop), times.index(p.simtime)
        if p.winner is None:
            ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color="0.92"))
            ax.text(x, y, "no validated\nrun", ha="center", va="center", fontsize=7, color="0.4")
            continue
        winners.append(p.winner)
        ax.add_patch(plt.Rectangle((x - 0.5, y - 0.5), 1, 1, color=colour(p.winner, backends), alpha=0.55,
                                   hatch=None if p.clear else "//", ec="white", lw=1.5))
        ratio = f"{p.ratio:.2g}x" if p.ratio else "only one"
        ax.text(x, y, f"{p.winner}\n{ratio}" + ("" if p.clear else " (overlap)"), ha="center", va="center", fontsize=7)
    ax.set_xlim(-0.5, len(sizes) - 0.5)
    ax.set_ylim(-0.5, len(times) - 0.5)
    ax.set_xticks(range(len(sizes)), [_number(n) for n in sizes])
    ax.set_yticks(range(len(times)), [f"{t:g}" for t in times])
    ax.set_xlabel("N_pop (neurons), as measured")
    ax.set_ylabel("simtime (ms)")
    ax.set_title(f"cheapest validated configuration by median {phase} time, and its lead over the next backend")
    handles = [Patch(color=colour(w, backends), alpha=0.55, label=w) for w in dict.fromkeys(winners)]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="//", label="ranges overlap"))
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
