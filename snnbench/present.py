"""What snnbench's commands print: functions that return lines, as pyperf's `_cli.py` does.

Each takes records or results and returns a list of strings; `snnbench.cli` only parses the
arguments, calls, and prints. The lines can be tested without capturing stdout. Grouping and
aggregation (medians [min-max] over repeats) are pandas'.
"""

from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from .record import RunRecord, ValidationRecord, as_run_records

# ------------------------------------------------------------------------------ small formats


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n / 2**20:.0f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def fmt_value(value: Any) -> str:
    """A scenario value: a number, or a distribution / connector as kind(k=v, ...)."""
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "model_dump"):
        d = value.model_dump()
        kind = d.pop("distribution", d.pop("type", ""))
        return f"{kind}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items()) + ")"
    return str(value)


def median_spread(values: Iterable[float | None]) -> str:
    """'0.123 s' for one value, '0.123 s  [0.120-0.130, n=3]' for several, '-' for none."""
    series = pd.Series([v for v in values if v is not None], dtype=float)
    if series.empty:
        return "-"
    if len(series) == 1:
        return f"{series.iloc[0]:.3f} s"
    return f"{series.median():.3f} s  [{series.min():.3f}-{series.max():.3f}, n={len(series)}]"


def _num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "-" if x is None else fmt.format(x)


def _label(text: str) -> str:
    return f"{text:23s}: "


# ------------------------------------------------------------------------------ list and show


def list_lines(scenarios: list[tuple[str, Any, Any]] | None, backends: list[tuple[str, type]] | None,
               options: list[tuple[str, type]] | None) -> list[str]:
    """`snnbench list`: scenarios (id, path, Scenario or ScenarioError), backends, their options."""
    lines: list[str] = []
    if scenarios is not None:
        lines.append("Scenarios")
        for sid, path, scenario in scenarios:
            problems = getattr(scenario, "problems", None)
            if problems is not None:
                lines.append(f"  {sid:28s} INVALID: {problems[0][0]}: {problems[0][1]}  ({path})")
                continue
            n = sum(p.size for p in scenario.cell_populations.values())
            lines.append(f"  {sid:28s} {n:>7d} neurons  {scenario.scenario.title}")
    if backends is not None:
        if lines:
            lines.append("")
        lines.append("Backends")
        for name, cls in backends:
            ok, why = cls.available()
            state = "available" if ok else "unavailable"
            lines.append(f"  {name:20s} {state:12s} {why}   [{cls.where}]")
            if cls.accepted_options:
                lines.append(f"  {'':20s} options: {', '.join(o.describe() for o in cls.accepted_options)}")
    if options is not None:
        lines.append("Backend options (snnbench run --option NAME=VALUE; a sweep file's [design.options.BACKEND])")
        for name, cls in options:
            lines.append(f"  {name}" + ("" if cls.accepted_options else ": none"))
            for o in cls.accepted_options:
                lines.append(f"    {o.describe()}")
                lines.append(f"        {o.doc}")
    return lines


def support_matrix_lines(backends: list[tuple[str, type]]) -> list[str]:
    """`snnbench list --matrix`: which backend runs which PyNN cell type, plastic synapse and
    source drive, from the declarations its `supports()` checks (`cell_types`,
    `plasticity_rules`, `source_multiplicity`), as the README's Markdown table."""
    from .scenario.model import CELL_TYPES, PLASTICITY_RULES

    def yes(flag: bool) -> str:
        return "yes" if flag else "no"

    header = ["cell type, synapse or source", *(f"`{name}`" for name, _ in backends)]
    rows = [[f"`{cell_type}`", *(yes(cell_type in cls.cell_types) for _, cls in backends)] for cell_type in CELL_TYPES]
    rows += [[f"STDP `{rule}`", *(yes(rule in cls.plasticity_rules) for _, cls in backends)] for rule in PLASTICITY_RULES]
    rows.append(["sources with several spikes per step", *(yes(cls.source_multiplicity) for _, cls in backends)])
    return table_lines(header, rows, markdown=True)


def show_lines(scenario: Any, resolved: Any) -> list[str]:
    """`snnbench show`: a scenario resolved with its overrides."""
    meta = scenario.scenario
    lines = [f"{scenario.id}: {meta.title}", f"  source     : {meta.source}"]
    if meta.description:
        lines.append(f"  description: {meta.description}")
    lines.append(f"  hash {resolved.hash}   dt {resolved.dt:g} ms   simtime {resolved.simtime:g} ms   seed {resolved.seed}"
                 f"   transient {scenario.run.transient:g} ms")
    lines.append(f"  N_pop {resolved.N_pop} (scale {resolved.scale:g})   scaling holds {scenario.scaling.hold}"
                 f"   expected synapses {resolved.expected_synapses():.0f}")
    lines.append("Populations")
    for name, pop in resolved.populations.items():
        spec = pop.spec
        lines.append(f"  {name:10s} {pop.cell_type:20s} size {pop.size:>7d}   record spikes {pop.n_record_spikes}, v {pop.n_record_v}")
        params = spec.parameters.model_dump()
        lines.append("      " + ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items()))
        if not pop.is_source:
            initial = spec.initial_values.model_dump()
            v0 = spec.initial_values.v
            initial["v"] = fmt_value(v0) if v0 is not None else f"{spec.parameters.resting_v:g} (rest)"
            lines.append("      initial " + ", ".join(f"{k} = {fmt_value(v)}" for k, v in initial.items()))
    lines.append("Projections")
    for proj in resolved.projections:
        conn = proj.connector
        # a SONATA projection's file paths are long and the same for many projections: its edge population and count
        connector = (f"sonata_edges({conn.population}, {conn.n} edges in the file)" if conn.type == "sonata_edges"
                     else fmt_value(conn))
        lines.append(f"  {proj.label:10s} {proj.pre:>8s} -> {proj.post:<8s} {proj.receptor:11s} {connector}"
                     f"   weight {fmt_value(proj.weight)}   delay {fmt_value(proj.delay)}")
    if resolved.notes:
        lines += ["Notes"] + [f"  {note}" for note in resolved.notes]
    return lines


# ------------------------------------------------------------------------------ run


_PHASE_LABELS = [("import", "Import time"), ("compile", "Compile time"), ("realise", "Realise time (exact)"),
                 ("build", "Build time"), ("sim", "Simulation time"), ("collect", "Collect time")]


def run_summary_lines(records: list[RunRecord], runs_file: str) -> list[str]:
    """A summary in the style of PyNN's VAbenchmarks.py; medians and ranges over repeats."""
    records = as_run_records(records)
    ok = [r for r in records if r.ok]
    first = records[0]
    lines = ["", f"--- {first.scenario_title} ---",
             _label("Scenario") + f"{first.scenario} (hash {first.scenario_hash})",
             _label("Backend") + f"{first.backend} {first.backend_version}, {first.threads} thread(s), "
             f"{first.connectivity} connectivity" + "".join(f", {k}={v}" for k, v in sorted((first.options or {}).items()))]
    for r in records:
        if not r.ok:
            f = r.failure
            lines.append(f"FAILED run {r.run_id}  : [{f.kind if f else None}] {f.message if f else None}")
    if not ok:
        return lines
    r0 = ok[0]
    cells = r0.cell_populations
    sizes = ", ".join(f"{n} {p.size}" for n, p in cells.items())
    lines.append(_label("Number of Neurons") + f"{r0.neurons} ({sizes})" + (f" + {r0.sources} sources" if r0.sources else ""))
    lines.append(_label("Number of Synapses") + f"{r0.synapses}")
    plasticity = r0.resolved.plasticity
    if plasticity is not None:  # a scenario with plastic projections: say which path ran
        lines.append(_label("Plasticity") + ("off (--static-synapses: its plastic projections static at their initial weights)"
                                             if plasticity == "off" else "on"))
    transient = r0.resolved.transient
    info = r0.backend_info or {}
    no_data = info.get("spike_data")  # e.g. "none: virtual board"
    rates = pd.DataFrame([{"population": n, "rate": p.rate_hz, "after": p.rate_hz_after_transient}
                          for r in ok for n, p in r.cell_populations.items()],
                         columns=["population", "rate", "after"]).astype({"rate": float, "after": float})
    medians = rates.groupby("population", sort=False)[["rate", "after"]].median()
    for name in cells:
        rate = medians.at[name, "rate"] if name in medians.index else None
        if rate is None or pd.isna(rate):
            why = no_data.split(":", 1)[-1].strip() if no_data else "no cells recorded"
            lines.append(_label(f"{name} rate") + f"n/a ({why})")
            continue
        line = _label(f"{name} rate") + f"{rate:.2f} Hz"
        after = medians.at[name, "after"]
        if transient and cells[name].rate_hz_after_transient is not None and not pd.isna(after):
            line += f"  ({after:.2f} Hz after the {transient:g} ms transient)"
        lines.append(line)
    host_only = info.get("machine") if r0.estimates else None
    for key, label in _PHASE_LABELS:
        if any(key in r.phases for r in ok):
            note = f"  (measured; {host_only}: host-side mapping + data generation only)" if key == "sim" and host_only else ""
            lines.append(_label(label) + median_spread(r.wall_s(key) for r in ok) + note)
            lines += stage_lines(ok, key)
    lines.append(_label(f"Writing time ({r0.data_format})") + median_spread(r.wall_s("write") for r in ok))
    if info.get("compile_cache"):
        lines.append(_label("Compile cache") + ", ".join((r.backend_info or {}).get("compile_cache", "?") for r in ok))
    rtf = pd.Series([r.realtime_factor for r in ok], dtype=float).median()
    note = "host side only: not a board figure" if r0.estimates else "sim wall time / biological time"
    lines.append(_label("Real-time factor") + f"{rtf:.3f}  ({note})")
    lines += estimate_lines(r0)
    if r0.validation and not r0.validation.get("possible", True):
        lines.append(_label("Validation") + f"{r0.validation['why']}")
    lines.append(_label("Peak memory") + fmt_bytes(pd.Series([r.peak_rss_bytes for r in ok], dtype=float).median()))
    # all translations are in the record; the summary shows at most 3 of a kind (PD has 55 delay lines)
    by_kind: dict[str, list[str]] = {}
    for t in r0.translations or []:
        by_kind.setdefault(t["what"], []).append(t["detail"])
    for what, details in by_kind.items():
        for detail in details[:3]:
            lines.append(_label("Translation") + f"[{what}] {detail}")
        if len(details) > 3:
            lines.append(_label("Translation") + f"[{what}] ... and {len(details) - 3} more of this kind (in the record)")
    lines.append(_label("Records") + f"{runs_file} ({', '.join(r.run_id for r in records)})")
    files = [f for r in ok for f in r.data_files]
    if files:
        lines.append(_label("Data") + files[0] + (f" (+{len(files) - 1} more)" if len(files) > 1 else ""))
    return lines


def stage_lines(ok: list[RunRecord], phase: str) -> list[str]:
    """The simulator's own timers inside one phase (phases[phase].stages), medians over runs."""
    stages = ok[0].phases[phase].stages if phase in ok[0].phases else None
    lines = []
    for name, stage in (stages or {}).items():
        values = [((r.phases[phase].stages or {}).get(name) or {}).get("wall_s") if phase in r.phases else None for r in ok]
        top = sorted(stage.get("steps", {}).items(), key=lambda kv: -kv[1])[:3]
        steps = ", ".join(f"{k} {v:.3f} s" for k, v in top if v >= 0.0005)
        lines.append(f"  {name:21s}: {median_spread(values)}" + (f"  ({steps})" if steps else ""))
    return lines


def estimate_lines(record: RunRecord) -> list[str]:
    """The on-board phases a backend estimated (never a measured phase), e.g. SpiNNaker's."""
    est = record.estimates
    if not est:
        return []
    ph, k = est["phases"], est["constants"]
    line = f"  on board in all       : ~{ph['on_board_s']:.1f} s"
    if est.get("sim_phase_with_board_s") is not None:
        line += f"; sim phase with a board ~{est['sim_phase_with_board_s']:.1f} s (measured host stages + estimate)"
    return [
        _label("Board phases") + f"{est['label']}",
        f"  on-board load         : ~{ph['load_s']:.1f} s  (a N, a = {k['a_load_s_per_neuron'] * 1000:.1f} ms/neuron)",
        f"  on-board run          : ~{ph['run_s']:.2f} s  (simtime x time_scale_factor {k['time_scale_factor']:g})",
        f"  on-board extraction   : ~{ph['extract_s']:.2f} s  (b N simtime, b = "
        f"{k['b_extract_s_per_neuron_per_s'] * 1000:.2f} ms/neuron/s)",
        line,
        f"  calibration           : {est['calibration']['source']}",
    ]


# ------------------------------------------------------------------------------ validate


def validation_lines(record: dict[str, Any] | ValidationRecord) -> list[str]:
    """`snnbench validate`: the tier, per population/cell comparisons, the verdict."""
    r = record
    lines = ["", f"Validation of {r['candidate']} {r['candidate_version']} against {r['reference']} "
                 f"{r['reference_version']} on {r['scenario']} (N = {r['N_pop']}, {r['simtime']:g} ms)"]
    if r["tier"] == "exact":
        ex = r["exact"]
        lines.append(f"Exact tier (identical inputs, exact connectivity): spike times within dt = {ex['dt']:g} ms, v RMS < 0.05 mV")
        lines.append(f"  {'population':12s} {'cell':>5s} {'spikes X':>9s} {'spikes Y':>9s} {'max shift (ms)':>15s} {'v RMS (mV)':>11s}  verdict")
        for c in ex["cells"]:
            lines.append(f"  {c['population']:12s} {c['index']:>5d} {c['spikes_x']:>9d} {c['spikes_y']:>9d} "
                         f"{_num(c['max_shift_ms'], '{:.3g}'):>15s} {_num(c['v_rms_mv'], '{:.2e}'):>11s}  {'PASS' if c['passed'] else 'FAIL'}")
    else:
        st = r["statistical"]
        lines.append(f"Statistical tier: {st['candidate_seeds']} candidate seeds (X) vs {st['reference_seeds']} reference seeds (Y), "
                     f"{r['connectivity']} connectivity, after the {r['transient']:g} ms transient")
        lines.append("  pass if mean D_XY <= mean D_YY + 2 sd D_YY (KS distances; KL divergence reported, not used)")
        lines.append(f"  {'population':10s} {'statistic':12s} {'D_XY':>7s} {'D_YY mean+-sd':>15s} {'limit':>7s} {'KL(X||Y)':>9s} {'KL(Y||Y)':>9s}  verdict")
        for c in st["statistics"]:
            tag = "PASS" if c["passed"] else "FAIL"
            lines.append(f"  {c['population']:10s} {c['statistic']:12s} {c['d_xy_mean']:7.3f} {c['d_yy_mean']:7.3f}+-{c['d_yy_sd']:5.3f} "
                         f"{c['limit']:7.3f} {_num(c['kl_xy'], '{:.4f}'):>9s} {_num(c['kl_yy'], '{:.4f}'):>9s}  {tag}"
                         + (f"  ({c['note']})" if c["note"] else ""))
        for c in st.get("projections", []):  # a plastic projection's final weight distribution: the same rule
            tag = "PASS" if c["passed"] else "FAIL"
            label = f"{c['projection']}: {c['statistic'].replace('_', ' ')}"
            lines.append(f"  {label:23s} {c['d_xy_mean']:7.3f} {c['d_yy_mean']:7.3f}+-{c['d_yy_sd']:5.3f} "
                         f"{c['limit']:7.3f} {_num(c['kl_xy'], '{:.4f}'):>9s} {_num(c['kl_yy'], '{:.4f}'):>9s}  {tag}"
                         + (f"  ({c['note']})" if c["note"] else ""))
        for note in st.get("notes", []):
            lines.append(f"  note: {note}")
        lines.append("  mean rate per population: |X - Y| <= max(2 sd across Y seeds, 5 %)")
        for c in st["rates"]:
            lines.append(f"  {c['population']:10s} X {c['mean_x']:.2f} Hz  Y {c['mean_y']:.2f} +- {c['sd_y']:.2f} Hz  "
                         f"|diff| {c['difference']:.2f} <= {c['tolerance']:.2f} Hz  {'PASS' if c['passed'] else 'FAIL'}")
        div = r.get("first_divergence_ms")
        if div is None:
            lines.append("Rasters of one exact-connectivity pair: identical for the whole run (information only)")
        else:
            lines.append(f"Rasters of one exact-connectivity pair first diverge at {div:g} ms (information only: the network is chaotic)")
    lines.append(f"Verdict: {r['verdict']}")
    return lines


# ------------------------------------------------------------------------------ sweep


def sweep_outcome_line(outcome: dict[str, Any], runs_file: str) -> str:
    claimed = f", {outcome['claimed_elsewhere']} run by another sweep" if outcome.get("claimed_elsewhere") else ""
    return (f"sweep {outcome['name']}: {outcome['ok']} ok, {outcome['failed']} failed, {outcome['skipped']} skipped "
            f"(already recorded){claimed} of {outcome['points']} points; records in {runs_file}")


def sweep_plan_lines(name: str, n_points: int, todo: list[Any], done: list[Any]) -> list[str]:
    return ([f"sweep {name}: {n_points} points, {len(done)} already recorded, {len(todo)} to run"]
            + [f"  {p.scenario} {p.label}" for p in todo])


# ------------------------------------------------------------------------------ fit


def fit_lines(report: dict[str, Any], predictions: list[tuple[float, float]]) -> list[str]:
    """`snnbench fit`: each configuration's models with intervals and checks, crossovers, predictions."""
    from .fit import format_ci, plastic_event_cost

    lines = [f"Cost models for {report['scenario']} from {report['runs']} runs on {len(report['machines'])} machine(s); "
             f"simtimes {', '.join(f'{t:g}' for t in report['simtimes'])} ms",
             "(OLS, model chosen by AIC, 95 % CIs from HC3 robust covariance; R^2 centred)"]
    if report["cold_runs_left_out"]:
        lines.append(f"({report['cold_runs_left_out']} runs with a cold or partly cold code cache left out of the compile, build, "
                     "total and memory fits; --include-cold keeps them)")
    def model_lines(m: Any) -> list[str]:
        out = ["", f"{m.backend:18s} {m.formula()}",
               f"{'':18s} R^2 {m.r2:.4f}   n {m.n}   AIC {m.aic:.1f}   model '{m.name}'   residual sd {m.residual_sd:.3g} {m.unit}"]
        out += [f"{'':20s}{c.term:12s} {format_ci(c)}" for c in m.coefficients]
        checks = ", ".join(f"{k.replace(' p', '')} p = {v:.2g}" for k, v in m.checks.items())
        out.append(f"{'':20s}residual checks: {checks}")
        if m.note:
            out.append(f"{'':20s}note: {m.note}")
        return out

    for m in report["models"]:
        lines += model_lines(m)
    if report.get("plasticity"):
        lines += ["", "What plasticity costs: plastic and static (--static-synapses) runs of one configuration fitted together"]
        for m in report["plasticity"]:
            lines += model_lines(m)
            cost = plastic_event_cost(m)
            lines.append(f"{'':20s}per plastic synaptic event: " + (
                f"{cost.value * 1e6:.3g} ns [{cost.ci_low * 1e6:.3g}, {cost.ci_high * 1e6:.3g}] on top of the event itself"
                if cost else "no cost told apart from zero (the chosen model has no plastic term, or its interval reaches 0)"))
    if report["crossovers"]:
        lines += ["", "Crossovers (where predicted costs meet, searched over the N range both backends were measured in)"]
        lines += [f"  {c.phase:7s} simtime {c.simtime:>6g} ms  {c.backend_a} vs {c.backend_b}: {c.note}" for c in report["crossovers"]]
    for n, t in predictions:
        lines += ["", f"Predictions at N_pop = {n:,.0f}, simtime = {t:g} ms (95 % prediction interval)"]
        for m in report["models"]:
            p = m.predict(n, t)
            extrapolated = "  (extrapolated)" if not m.helpers["N_min"] <= n <= m.helpers["N_max"] else ""
            lines.append(f"  {m.backend:18s} {m.phase:8s} {p['mean'][0]:12.4g} {m.unit} [{p['low'][0]:.4g}, {p['high'][0]:.4g}]{extrapolated}")
    return lines


# ------------------------------------------------------------------------------ recommend


def _interval(p: Any, scale: float = 1 / 1000, unit: str = "s") -> str:
    """'1.23 [0.98, 1.48] s' from a prediction in ms (or MiB with scale 1, unit MiB)."""
    return f"{p.mean * scale:.3g} [{p.low * scale:.3g}, {p.high * scale:.3g}] {unit}"


def _memory_interval(p: Any) -> str:
    if p.high >= 1024:
        return _interval(p, 1 / 1024, "GiB")
    return _interval(p, 1.0, "MiB")


def _verdict_text(verdict: Any) -> str:
    return verdict.state + (" (with caveats)" if verdict.caveats else "")


def recommend_lines(rec: Any) -> list[str]:
    """`snnbench recommend`: the answer first, then both rankings with their 95 % prediction
    intervals, memory against the budget, validation verdicts, and what is listed apart and why."""
    machines = "; ".join(f"{m.get('machine_id')}: {m.get('cpu') or '?'}, {m.get('cores_logical') or '?'} cores, "
                         f"{(m.get('ram_bytes') or 0) / 2**30:.1f} GiB" for m in rec.machines) or "unknown"
    lines = [f"Which simulator for {rec.scenario} at N_pop {rec.N_pop:,}, simtime {rec.simtime:g} ms?",
             f"  runs        : {rec.runs_file} (measured on {machines})",
             f"  validations : {rec.validations_file} (the latest verdict of each backend on {rec.scenario})",
             f"  memory      : {rec.memory_budget_bytes / 2**30:.3g} GiB budget ({rec.memory_source})",
             "", f"Answer: {rec.answer}"]
    lines += [f"  note: {n}" for n in rec.notes]
    w = max([len("configuration")] + [len(o.configuration) for o in rec.by_total + rec.apart])
    header = f"  {'#':>2s}  {'configuration':{w}s} {'total time [95 % PI]':24s} {'sim time [95 % PI]':24s} {'peak memory [95 % PI]':30s} validation"
    if rec.by_total:
        lines += ["", "Ranked by predicted total time (compile + build + sim + collect + write; warm code caches where runs had them)",
                  header]
        for i, o in enumerate(rec.by_total, 1):
            sim = o.predictions.get("sim")
            mem = o.predictions.get("memory")
            lines.append(f"  {i:>2d}  {o.configuration:{w}s} {_interval(o.predictions['total']):24s} "
                         f"{_interval(sim) if sim else '-':24s} "
                         f"{(_memory_interval(mem) + ' ' + o.memory.split(' (')[0]) if mem else 'no model':30s} {_verdict_text(o.verdict)}")
        lines += ["", "Ranked by predicted sim time"]
        for i, o in enumerate(rec.by_sim, 1):
            lines.append(f"  {i:>2d}  {o.configuration:{w}s} {_interval(o.predictions['sim'])}")
        lines += ["", "Per configuration"]
        for o in rec.by_total:
            lines += _option_lines(o)
    if rec.apart:
        lines += ["", "Listed apart (not ranked), with the reason"]
        by_reason: dict[str, list[Any]] = {}
        for o in rec.apart:
            by_reason.setdefault(o.apart, []).append(o)
        for reason, group in by_reason.items():
            lines.append(f"  {reason}")
            for o in group:
                total, here, memory = o.predictions.get("total"), o.measured.get("total"), o.predictions.get("memory")
                extra = [f"validation {o.verdict.state}"]
                if total:
                    extra.append(f"predicted total {_interval(total)}")
                if memory:
                    extra.append(f"peak memory {_memory_interval(memory)}, {o.memory.split(' (')[0]}")
                if here:
                    extra.append(f"measured here: total {here['median'] / 1000:.3g} s, median of {here['n']}")
                lines.append(f"    {o.configuration:{w}s} " + "; ".join(extra))
                if o.predictions:
                    lines += [f"    {'':{w}s} {text}" for text in o.outside_range]
                lines += [f"    {'':{w}s} failed runs: {f}" for f in o.failures]
    return lines


def _option_lines(o: Any) -> list[str]:
    """What stands behind one ranked configuration: its range, validation, models and failures."""
    lines = [f"  {o.configuration} ({o.backend} {o.version}): {o.runs_ok} runs, N_pop {o.N_range[0]:,.0f}-{o.N_range[1]:,.0f}, "
             f"simtime {o.simtime_range[0]:g}-{o.simtime_range[1]:g} ms",
             f"      validation: {o.verdict.state}, {o.verdict.detail}"]
    lines += [f"      validation caveat: {c}" for c in o.verdict.caveats]
    lines += [f"      {text}" for text in o.outside_range]
    for phase, p in o.predictions.items():
        state = "" if p.holds else f"; does not hold: {p.why_not}"
        note = f"; {p.note}" if p.note else ""
        here = o.measured.get(phase)
        measured = (f"; measured here: median {here['median'] / (1 if phase == 'memory' else 1000):.3g} "
                    f"{'MiB' if phase == 'memory' else 's'} ({here['n']} runs)") if here else ""
        lines.append(f"      {phase} model: R² {p.r2:.3f}, '{p.model}'{note}{state}{measured}")
    for phase, why in o.missing.items():
        lines.append(f"      {phase}: no model ({why})")
    if o.predictions.get("memory"):
        lines.append(f"      peak memory: {o.memory}")
    lines += [f"      failed runs: {f}" for f in o.failures]
    return lines


# ------------------------------------------------------------------------------ table


def _seconds(value: float) -> str:
    return "0" if value < 5e-4 else f"{value:.3g}"


def _cell(values: pd.Series, scale: float = 1.0, fmt: str | None = None) -> str:
    """Median [min-max]; seconds by default (below 0.5 ms shown as 0: a phase with nothing to do)."""
    values = values.dropna() * scale
    if values.empty:
        return "-"
    show = fmt.format if fmt else _seconds
    if len(values) == 1:
        return show(values.iloc[0])
    return f"{show(values.median())} [{show(values.min())}-{show(values.max())}]"


_TABLE_PHASES = ("compile", "build", "sim", "write")


def results_table(records: list[RunRecord | dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Medians [min-max] over the repeats of each configuration (`RunRecord.configuration_key`).

    One rate column per population of cells in these runs (VA: E, I; Potjans-Diesmann: all
    eight); "-" where a run's scenario has no such population.
    """
    ok = [r for r in as_run_records(records) if r.ok]
    populations = list(dict.fromkeys(name for r in ok for name in r.cell_populations))
    header = ["scenario", "N", "T (ms)", "backend", "threads", "runs", "compile (s)", "build (s)", "sim (s)",
              "write (s)", "peak RSS (MiB)"] + [f"{name} rate (Hz)" for name in populations]
    if not ok:
        return header, []
    df = pd.DataFrame([{
        "key": r.configuration_key(), "scenario": r.scenario, "N": r.resolved.N_pop, "simtime": r.resolved.simtime,
        "backend": f"{r.backend} {r.backend_version or '?'}" + (f" ({options})" if (options := ", ".join(
            f"{k}={v}" for k, v in sorted(r.option_items().items()))) else "") + (" static synapses" if r.static_synapses else ""),
        "threads": str(r.threads), "format": r.data_format, "peak": r.peak_rss_bytes,
        **{p: r.wall_s(p) for p in _TABLE_PHASES}, **{f"rate:{name}": r.rate_hz(name) for name in populations},
    } for r in ok])
    numbers = [*_TABLE_PHASES, "peak", *(f"rate:{name}" for name in populations)]
    df[numbers] = df[numbers].astype(float)
    visible = ["scenario", "N", "simtime", "backend", "threads", "format"]
    suffix = _distinguishing(df, visible)
    rows = []
    for (*shown, key), g in df.groupby([*visible, "key"], sort=True):
        scenario, n, simtime, backend, threads, fmt = shown
        rows.append([
            scenario, str(n), f"{simtime:g}", backend + suffix.get(key, ""), threads, str(len(g)),
            *(_cell(g[p]) for p in ("compile", "build", "sim")), _cell(g["write"]) + f" {fmt}",
            _cell(g["peak"], 1 / 2**20, "{:.0f}"),
            *(_cell(g[f"rate:{p}"], fmt="{:.1f}") for p in populations),
        ])
    return header, rows


def _distinguishing(df: pd.DataFrame, visible: list[str]) -> dict[Any, str]:
    """For configurations whose visible columns are alike: what tells them apart (machine, seed...)."""
    out = {}
    for _, g in df.groupby(visible):
        keys = list(dict.fromkeys(g["key"]))
        if len(keys) < 2:
            continue
        for field in ("machine_id", "overrides", "scenario_hash", "connectivity"):
            if len({getattr(k, field) for k in keys}) > 1:
                common = set.intersection(*(set(k.overrides) for k in keys))
                for k in keys:
                    value = getattr(k, field)
                    text = ",".join(f"{n}={v}" for n, v in value if (n, v) not in common) if field == "overrides" else str(value)
                    out[k] = out.get(k, "") + f" [{field.removesuffix('_id')}: {text or '-'}]"
    return out


def table_lines(header: list[str], rows: list[list[str]], markdown: bool = False) -> list[str]:
    """The table as Markdown (as in the README) or as aligned columns."""
    if markdown:
        return (["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
                + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    return ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in [header, *rows]]
