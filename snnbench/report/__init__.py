"""`snnbench report`: one self-contained HTML page per scenario from the stored runs.

The page leads with the answer (`report.answer`): a map over the measured N_pop x simtime of the
cheapest validated configuration and its lead, the recommendation table at the sizes measured,
and a paragraph written from the data. Then the evidence: per-phase bars, memory and firing
rates per population at a reference size; scaling plots (log-log, medians with their range,
fitted lines with 95 % prediction bands only where the model holds, published figures beside
ours); published figures against ours; the fitted formulas and crossovers; the validation
verdicts; rasters and rate/CV distributions of one run per backend; every measurement; the
failed runs; and last the machines and software. A store holding several scenarios gets one
page per scenario and an index page. Figures are PNG embedded in the page (jinja2 +
matplotlib); tables sort on a click of their header (a few lines of the page's own JavaScript,
no external library).
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from .. import __version__
from .. import io as snnio
from ..analysis import run_statistics
from ..fit import Configurations, fit_report, format_ci, frame, holds, model_points
from ..published import comparisons
from ..record import RunRecord
from ..recommend import measured_winners, verdict_of, verdicts
from ..store import ResultStore, read_records
from . import answer, figures


def _reference_point(records: list[RunRecord], label: Configurations) -> tuple[int, float] | None:
    """The (N_pop, simtime) measured by the most configurations; ties: the largest."""
    backends_at: dict[tuple[int, float], set[str]] = {}
    for r in records:
        backends_at.setdefault((r.resolved.N_pop, r.resolved.simtime), set()).add(label(r))
    if not backends_at:
        return None
    return max(backends_at, key=lambda k: (len(backends_at[k]), k[0], k[1]))


_TABLE_PHASES = ("compile", "build", "sim", "write")


def _medians_table(records: list[RunRecord], label: Configurations) -> list[dict[str, Any]]:
    """Medians [min-max] over the repeats of each configuration (`RunRecord.configuration_key`) and size."""
    if not records:
        return []
    populations = list(dict.fromkeys(name for r in records for name in r.cell_populations))
    df = pd.DataFrame([{
        "key": r.configuration_key(), "backend": label(r), "version": r.backend_version or "?", "N": r.resolved.N_pop,
        "simtime": r.resolved.simtime, "threads": r.threads or 1, "memory": r.peak_rss_bytes / 2**20, "synapses": r.synapses,
        **{p: r.wall_s(p) for p in _TABLE_PHASES}, **{f"rate:{p}": r.rate_hz(p) for p in populations},
    } for r in records])
    rows = []
    for (backend, n, simtime, _), g in df.groupby(["backend", "N", "simtime", "key"], sort=True):
        phases = {}
        for p in _TABLE_PHASES:
            vals = g[p].dropna()
            phases[p] = (float(vals.median()) if len(vals) else None,
                         (float(vals.min()), float(vals.max())) if len(vals) > 1 else None)
        rate = g[[f"rate:{p}" for p in records[g.index[0]].cell_populations]].median()  # NaN: no spikes came back
        rates = {name.removeprefix("rate:"): (None if pd.isna(v) else float(v)) for name, v in rate.items()}
        rows.append({
            "backend": backend, "version": g["version"].iloc[0], "N": int(n), "simtime": float(simtime),
            "threads": int(g["threads"].iloc[0]), "runs": len(g), "phases": phases, "memory": float(g["memory"].median()),
            "synapses": g["synapses"].iloc[0], "rates": rates,
        })
    return rows


def _provenance(records: list[RunRecord]) -> dict[str, Any]:
    machines = {}
    software: dict[str, set[str]] = {}
    revisions = Counter()
    for r in records:
        prov = r.provenance or {}
        m = prov.get("machine") or {}
        if m:
            machines[m["machine_id"]] = m
        for name, version in (prov.get("software") or {}).items():
            if version:
                software.setdefault(name, set()).add(version)
        git = prov.get("git") or {}
        revisions[(git.get("revision") or "unknown")[:10] + (" (local changes)" if git.get("dirty") else "")] += 1
    return {"machines": list(machines.values()), "software": {k: ", ".join(sorted(v)) for k, v in sorted(software.items())},
            "revisions": dict(revisions)}


def _representative(records: list[RunRecord], point: tuple[int, float] | None, label: Configurations) -> dict[str, RunRecord]:
    """Per configuration, the latest run with readable data, preferring the reference point."""
    chosen = {}
    for r in sorted(records, key=lambda r: (point is not None and (r.resolved.N_pop, r.resolved.simtime) == point, r.timestamp)):
        files = r.data_files
        if files and Path(files[0]).exists():
            chosen[label(r)] = r  # later (better) records overwrite earlier ones
    return chosen


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("snnbench.report", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["ci"] = format_ci
    env.filters["sec"] = lambda v: "0" if v < 5e-4 else f"{v:.3g}"  # below 0.5 ms: a phase with nothing to do
    env.filters["num"] = figures._number
    return env


def build_report(store: ResultStore, out: str | Path, scenario: str | None = None, title: str | None = None,
                 validations_file: str | Path | None = None) -> Path:
    """Write <out>/index.html for the runs in `store`; return its path.

    One scenario (the store's only one, or `scenario`): its report. Several and no `scenario`:
    one report per scenario in <out>/<scenario>/index.html and an index page linking them, each
    with its answer. Validation verdicts come from `validations_file` (default: the store's).
    """
    runs = [r for r in store.runs() if r.kind == "run"]
    validations_file = Path(validations_file) if validations_file is not None else store.validations_file
    validations = read_records(validations_file, "validation") if validations_file.exists() else []
    scenarios = sorted({r.scenario for r in runs if r.ok})
    if not scenarios:
        raise ValueError(f"no successful runs in {store.runs_file}")
    out = Path(out)
    if scenario is not None or len(scenarios) == 1:
        page = _scenario_page(runs, validations, str(validations_file), scenario or scenarios[0], title)
        return _write(out, page["html"])
    pages = [_scenario_page(runs, validations, str(validations_file), sc, None) for sc in scenarios]
    for page in pages:
        _write(out / page["scenario"], page["html"])
    html = _environment().get_template("index.html").render(
        title=title or "snnbench: scenarios", pages=pages, version=__version__, results=str(store.root),
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    return _write(out, html)


def _write(folder: Path, html: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.html"
    path.write_text(html, encoding="utf-8")
    return path


def _scenario_page(all_runs: list[RunRecord], validations: list, validations_file: str, scenario: str,
                   title: str | None) -> dict[str, Any]:
    runs = [r for r in all_runs if r.scenario == scenario]
    ok = [r for r in runs if r.ok]
    if not ok:
        raise ValueError(f"no successful runs of {scenario}")
    failed = [r for r in runs if not r.ok]
    configuration_of = Configurations(ok)
    backends = sorted({configuration_of(r) for r in ok})
    backend_of = {configuration_of(r): r.backend for r in ok}
    fits = fit_report(ok, scenario)
    models = {(m.backend, m.phase): m for m in fits["models"]}
    df = frame(ok, configuration_of)
    model_holds = [holds(m, model_points(df, m)) for m in fits["models"]]  # aligned with fits["models"]
    point = _reference_point(ok, configuration_of)
    at_point = {}
    for r in ok:
        if (r.resolved.N_pop, r.resolved.simtime) == point:
            at_point.setdefault(configuration_of(r), []).append(r)

    # the answer: at the sizes measured, then in words
    points = measured_winners(ok, validations, scenario)
    latest, references = verdicts(validations, scenario)
    sample = {configuration_of(r): r for r in ok}
    judged = {b: verdict_of(backend_of[b], sample[b].backend_version or "", {r.scenario_hash for r in ok if r.scenario_hash},
                            latest, references, validations_file) for b in backends}
    states = {b: v.state for b, v in judged.items()}
    caveats = sorted({c for v in judged.values() for c in v.caveats})
    answer_map = figures.winner_map(points, backends) if any(p.winner for p in points) else None
    text = answer.paragraph(points, fits["models"], states, len(failed), Counter((r.failure_kind or "failed") for r in failed),
                            validations_file, fits["plasticity"])

    figs: list[dict[str, str]] = []
    if at_point:
        label = f"N_pop = {point[0]:,}, simtime = {point[1]:g} ms"
        figs.append({"id": "phase-bars", "png": figures.phase_bars(at_point, backends, f"phases at {label}"),
                     "caption": f"Median wall time per phase and backend at {label}; whiskers: min to max over repeats."})
        figs.append({"id": "memory-bars", "png": figures.memory_bars(at_point, backends, f"peak memory at {label}"),
                     "caption": f"Median peak resident memory (all phases) at {label}; whiskers: min to max."})
        figs.append({"id": "rates", "png": figures.rates(at_point, backends, f"firing rate per population at {label}"),
                     "caption": f"Mean firing rate of every population of cells (whole run) at {label}: median over "
                                "repeats, whiskers min to max. The network is chaotic: one seed is one trajectory; "
                                "the validation section compares distributions over seeds."})
    simtimes = sorted({r.resolved.simtime for r in ok})
    sizes = sorted({r.resolved.N_pop for r in ok})
    scaling = []
    fits_drawn = ("Points: medians over repeats, bars min to max, from the runs that measure the cost (warm code caches "
                  "for compile, build, total and memory). A fitted line and its 95 % prediction band are drawn only where "
                  "the model holds on these points (each median inside its prediction interval, one in ten allowed just "
                  "outside) and only over the measured range: nothing is extrapolated.")
    for phase in ("sim", "build", "total", "memory"):
        if len(sizes) > 1:
            png, notes = figures.scaling(df, models, backends, phase, "N_pop", simtimes[-1], backend_of, scenario)
            scaling.append({"id": f"{phase}-vs-N", "png": png, "notes": notes,
                            "caption": f"{phase} vs N_pop at simtime {simtimes[-1]:g} ms. {fits_drawn}"})
        if len(simtimes) > 1 and phase != "memory":
            png, notes = figures.scaling(df, models, backends, phase, "simtime", sizes[-1], backend_of, scenario)
            scaling.append({"id": f"{phase}-vs-simtime", "png": png, "notes": notes,
                            "caption": f"{phase} vs simtime at N_pop {sizes[-1]:,}. {fits_drawn}"})

    activity, stats_by_backend = [], {}
    scenario_transient = next((r.resolved.transient or 0.0 for r in ok), 0.0)
    for backend, record in sorted(_representative(ok, point, configuration_of).items()):
        try:
            output = snnio.read_output(record.data_files[0])
        except Exception:  # noqa: BLE001 - a damaged data file costs its figure, not the report
            continue
        if not any(p.recorded.size for p in output.populations.values()):
            continue  # no spike data came back (e.g. a SpiNNaker virtual board): nothing to draw
        activity.append({"backend": backend, "run_id": record.run_id, "N": record.resolved.N_pop,
                         "simtime": record.resolved.simtime, "png": figures.raster(output, backend)})
        if scenario_transient < output.simtime:
            stats_by_backend[backend] = run_statistics(output, scenario_transient)
    distribution_png = figures.distributions(stats_by_backend, backends) if stats_by_backend else None

    latest_validation = {}
    for v in sorted((v for v in validations if v.scenario == scenario), key=lambda v: v.timestamp):
        latest_validation[(v.candidate, v.reference)] = v  # the latest of each pair

    title = title or f"snnbench: {scenario}"
    html = _environment().get_template("report.html").render(
        title=title, scenario=scenario, scenario_title=ok[0].scenario_title or scenario,
        generated=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), version=__version__,
        n_runs=len(runs), n_ok=len(ok), backends=backends, provenance=_provenance(runs), point=point,
        answer_map=answer_map, answer_rows=answer.table(points), answer_text=text, states=states, caveats=caveats,
        validations_file=validations_file, published=comparisons(ok, fits["models"], scenario), model_holds=model_holds,
        medians=_medians_table(ok, configuration_of), figures=figs, scaling=scaling, fits=fits, activity=activity,
        distribution_png=distribution_png, transient=scenario_transient,
        validations=sorted(latest_validation.values(), key=lambda v: v.candidate), failed=failed,
    )
    summary = next((p for p in points if p.N_pop == max(q.N_pop for q in points) and p.winner), None) if points else None
    return {"scenario": scenario, "title": ok[0].scenario_title or scenario, "html": html, "runs": len(runs),
            "answer_text": text, "answer_map": answer_map, "largest": summary}
