"""The `snnbench` command.

    snnbench list                      scenarios, and backends with availability (or why not)
    snnbench show SCENARIO             the scenario resolved with any overrides
    snnbench run SCENARIO              measured, isolated run(s); numba by default
    snnbench validate SCENARIO -b X    X against a reference backend (statistical or exact tier)
    snnbench sweep SCENARIO|FILE       resumable sweeps over N_pop, simtime and backends
    snnbench fit                       cost models per backend and phase, crossovers
    snnbench report                    a self-contained HTML report (figures, models, validation)
    snnbench table                     medians [min-max] of stored runs

Exit status: 0 success (validate: PASS), 1 a run failed or validation FAILED (recorded), or
a record could not be written (the store is left as it was), 2 bad input or the validation
could not run (nothing was run), 130 interrupted by SIGINT/SIGTERM/SIGHUP (the run in progress is
recorded as failed, kind "interrupted").
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, NoReturn

from . import __version__
from .backends import backend_class, backend_names
from .io import FORMATS
from .interrupts import EXIT_INTERRUPTED, Interrupted, handling_interrupts
from .scenario import Overrides, ScenarioError, list_scenarios, load_scenario, resolve
from .store import ResultStore, StoreError, StoreWarning, dumps

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(ValueError):
    """An option that cannot be used; the message names it and says what was expected."""

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        _COMMANDS[name] = fn
        return fn
    return register


# ------------------------------------------------------------------------------ helpers


# ------------------------------------------------------------------------------ argument types
# Each says what it expected; argparse adds the option's name (one line, see _Parser.error).


def positive_float(text: str) -> float:
    """A finite number > 0 (nan, inf, 0 and negatives refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse with snnbench's one-line errors: `snnbench: run: argument --dt: ...`."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.split(" ", 1)[1] if " " in self.prog else ""
        where = f"{command}: " if command else ""
        self.exit(EXIT_BAD_INPUT, f"snnbench: {where}{message} (see {self.prog} --help)\n")


def _results_dir(path: str, option: str = "--results", write: bool = True) -> str:
    """`path` as a results directory: not a file; when written to, created and writable."""
    target = Path(path)
    try:
        if target.exists() and not target.is_dir():
            raise BadInput(f"{option} {path}: is a file, expected a directory")
        if write:
            target.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=target):
                pass
    except BadInput:
        raise
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInput(f"{option} {path}: cannot be {'written' if write else 'read'}: {reason}") from None
    return path


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(N_pop=args.N_pop, scale=args.scale, simtime=args.simtime, seed=args.seed, dt=args.dt,
                     k_scale=getattr(args, "K_scale", None))


def _add_override_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("overrides")
    g.add_argument("--N-pop", dest="N_pop", type=positive_int, metavar="N", help="total neurons (scales every scaling population)")
    g.add_argument("--scale", type=positive_float, help="scale factor for population sizes (instead of --N-pop)")
    g.add_argument("--K-scale", dest="K_scale", type=positive_float, metavar="K_S",
                   help="scale every in-degree (weights and DC follow as the scenario's [scaling] says)")
    g.add_argument("--simtime", type=positive_float, metavar="MS", help="biological time to simulate, ms")
    g.add_argument("--seed", type=non_negative_int, help="random seed (connectivity, initial values, sources)")
    g.add_argument("--dt", type=positive_float, metavar="MS", help="time step, ms")


def _options(items: list[str] | None, backend: str | None = None) -> dict[str, Any]:
    """--option KEY=VALUE (repeatable): VALUE is read as the type `backend` declares for KEY;
    for an undeclared KEY (refused later, by name) as JSON when it parses, else a string."""
    cls = backend_class(backend) if backend else None
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option expects KEY=VALUE, got {item!r}")
        declared = cls.declared_option(key) if cls else None
        if declared is not None:
            options[key] = declared.parse(value)
            continue
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """--option items plus the SpiNNaker machine flags (--spinnaker-host, --spalloc) as backend
    options, checked against the backend's declared options (OptionError, a ValueError: bad input)."""
    options = _options(args.option, args.backend)
    machine = {"spinnaker_host": getattr(args, "spinnaker_host", None), "spalloc": getattr(args, "spalloc", None)}
    for key, value in machine.items():
        if value is None:
            continue
        if args.backend != "spinnaker":
            raise ValueError(f"--{key.replace('_', '-')} is an option of --backend spinnaker, not of {args.backend}")
        options[key] = value
    if options.get("spinnaker_host") and options.get("spalloc"):
        raise ValueError("give either --spinnaker-host or --spalloc, not both")
    backend_class(args.backend).check_options(options)
    return options


def _add_machine_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("SpiNNaker (--backend spinnaker; without either, the user's sPyNNaker cfg or a virtual board)")
    g.add_argument("--spinnaker-host", metavar="HOST", help="a SpiNNaker board's host name or IP address")
    g.add_argument("--spalloc", metavar="URL", help="a spalloc server to allocate boards from")


def _fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    return f"{n / 2**20:.0f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def _fmt_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if hasattr(value, "model_dump"):
        d = value.model_dump()
        kind = d.pop("distribution", d.pop("type", ""))
        return f"{kind}(" + ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items()) + ")"
    return str(value)


def _err(message: str) -> None:
    try:
        print(f"snnbench: {message}", file=sys.stderr)
    except OSError:  # no terminal any more (SIGHUP): the exit status still tells
        pass


# ------------------------------------------------------------------------------ list


@command("list")
def cmd_list(args: argparse.Namespace) -> int:
    show_all = not (args.scenarios or args.backends or args.options)
    if args.scenarios or show_all:
        print("Scenarios")
        for sid, path, scenario in list_scenarios():
            if isinstance(scenario, ScenarioError):
                print(f"  {sid:28s} INVALID: {scenario.problems[0][0]}: {scenario.problems[0][1]}  ({path})")
                continue
            n = sum(p.size for p in scenario.cell_populations.values())
            print(f"  {sid:28s} {n:>7d} neurons  {scenario.scenario.title}")
    if args.backends or show_all:
        if show_all:
            print()
        print("Backends")
        for name in backend_names():
            cls = backend_class(name)
            ok, why = cls.available()
            state = "available" if ok else "unavailable"
            print(f"  {name:20s} {state:12s} {why}   [{cls.where}]")
            if cls.accepted_options:
                print(f"  {'':20s} options: {', '.join(o.describe() for o in cls.accepted_options)}")
    if args.options:
        print("Backend options (snnbench run --option NAME=VALUE; a sweep file's [design.options.BACKEND])")
        for name in backend_names():
            cls = backend_class(name)
            print(f"  {name}" + ("" if cls.accepted_options else ": none"))
            for o in cls.accepted_options:
                print(f"    {o.describe()}\n        {o.doc}")
    return EXIT_OK


# ------------------------------------------------------------------------------ show


@command("show")
def cmd_show(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    resolved = resolve(scenario, _overrides(args))
    if args.json:
        print(json.dumps({
            "id": scenario.id, "hash": resolved.hash, "overrides": resolved.overrides.as_dict(),
            "N_pop": resolved.N_pop, "scale": resolved.scale, "dt": resolved.dt, "simtime": resolved.simtime,
            "seed": resolved.seed, "expected_synapses": resolved.expected_synapses(),
            "sizes": {n: p.size for n, p in resolved.populations.items()},
            "scenario": scenario.model_dump(mode="json"),
        }, indent=2))
        return EXIT_OK
    meta = scenario.scenario
    print(f"{scenario.id}: {meta.title}")
    print(f"  source     : {meta.source}")
    if meta.description:
        print(f"  description: {meta.description}")
    print(f"  hash {resolved.hash}   dt {resolved.dt:g} ms   simtime {resolved.simtime:g} ms   seed {resolved.seed}"
          f"   transient {scenario.run.transient:g} ms")
    print(f"  N_pop {resolved.N_pop} (scale {resolved.scale:g})   scaling holds {scenario.scaling.hold}"
          f"   expected synapses {resolved.expected_synapses():.0f}")
    print("Populations")
    for name, pop in resolved.populations.items():
        spec = pop.spec
        print(f"  {name:10s} {pop.cell_type:20s} size {pop.size:>7d}   record spikes {pop.n_record_spikes}, v {pop.n_record_v}")
        params = spec.parameters.model_dump()
        print("      " + ", ".join(f"{k}={_fmt_value(v)}" for k, v in params.items()))
        if not pop.is_source:
            v0 = spec.initial_values.v
            print(f"      initial v = {_fmt_value(v0) if v0 is not None else 'v_rest'}")
    print("Projections")
    for proj in resolved.projections:
        print(f"  {proj.label:10s} {proj.pre:>8s} -> {proj.post:<8s} {proj.receptor:11s} {_fmt_value(proj.connector)}"
              f"   weight {_fmt_value(proj.weight)}   delay {_fmt_value(proj.delay)}")
    return EXIT_OK


# ------------------------------------------------------------------------------ run


def _phase(record: dict[str, Any], name: str) -> float | None:
    return record.get("phases", {}).get(name, {}).get("wall_s")


def _median_spread(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f} s"
    return f"{statistics.median(values):.3f} s  [{min(values):.3f}-{max(values):.3f}, n={len(values)}]"


def print_summary(records: list[dict[str, Any]], results_dir: str) -> None:
    """A summary in the style of PyNN's VAbenchmarks.py; medians and ranges over repeats."""
    ok = [r for r in records if r["status"] == "ok"]
    first = records[0]
    print(f"\n--- {first['scenario_title']} ---")
    print(f"Scenario               : {first['scenario']} (hash {first['scenario_hash']})")
    print(f"Backend                : {first['backend']} {first['backend_version']}, {first['threads']} thread(s), "
          f"{first['connectivity']} connectivity"
          + "".join(f", {k}={v}" for k, v in sorted((first.get("options") or {}).items())))
    for r in records:
        if r["status"] != "ok":
            f = r["failure"] or {}
            print(f"FAILED run {r['run_id']}  : [{f.get('kind')}] {f.get('message')}")
    if not ok:
        return
    r0 = ok[0]
    cells = {n: p for n, p in r0["populations"].items() if not p["cell_type"].startswith("SpikeSource")}
    sizes = ", ".join(f"{n} {p['size']}" for n, p in cells.items())
    print(f"Number of Neurons      : {r0['neurons']} ({sizes})" + (f" + {r0['sources']} sources" if r0.get("sources") else ""))
    print(f"Number of Synapses     : {r0['synapses']}")
    transient = r0["resolved"]["transient"]
    no_data = r0.get("backend_info", {}).get("spike_data")  # e.g. "none: virtual board"
    for name in cells:
        rates = [r["populations"][name]["rate_hz"] for r in ok if r["populations"][name]["rate_hz"] is not None]
        after = [r["populations"][name]["rate_hz_after_transient"] for r in ok]
        if not rates:
            why = no_data.split(":", 1)[-1].strip() if no_data else "no cells recorded"
            print(f"{name} rate".ljust(23) + f": n/a ({why})")
            continue
        line = f"{name} rate".ljust(23) + f": {statistics.median(rates):.2f} Hz"
        if transient and after[0] is not None:
            line += f"  ({statistics.median([a for a in after if a is not None]):.2f} Hz after the {transient:g} ms transient)"
        print(line)
    labels = [("import", "Import time"), ("compile", "Compile time"), ("realise", "Realise time (exact)"),
              ("build", "Build time"), ("sim", "Simulation time"), ("collect", "Collect time")]
    host_only = r0.get("backend_info", {}).get("machine") if r0.get("estimates") else None
    for key, label in labels:
        if any(key in r["phases"] for r in ok):
            note = f"  (measured; {host_only}: host-side mapping + data generation only)" if key == "sim" and host_only else ""
            print(f"{label:23s}: {_median_spread([_phase(r, key) for r in ok])}{note}")
            _print_stages(ok, key)
    fmt = r0["data"]["format"]
    print(f"{'Writing time (' + fmt + ')':23s}: {_median_spread([_phase(r, 'write') for r in ok])}")
    cache = r0.get("backend_info", {}).get("compile_cache")
    if cache:
        print(f"Compile cache          : {', '.join(r.get('backend_info', {}).get('compile_cache', '?') for r in ok)}")
    rtf = [r["realtime_factor"] for r in ok]
    note = "host side only: not a board figure" if r0.get("estimates") else "sim wall time / biological time"
    print(f"Real-time factor       : {statistics.median(rtf):.3f}  ({note})")
    _print_estimates(r0)
    if r0.get("validation") and not r0["validation"].get("possible", True):
        print(f"Validation             : {r0['validation']['why']}")
    print(f"Peak memory            : {_fmt_bytes(statistics.median([r['peak_rss_bytes'] for r in ok]))}")
    # all translations are in the record; the summary shows at most 3 of a kind (PD has 55 delay lines)
    by_kind: dict[str, list[str]] = {}
    for t in r0.get("translations", []):
        by_kind.setdefault(t["what"], []).append(t["detail"])
    for what, details in by_kind.items():
        for detail in details[:3]:
            print(f"Translation            : [{what}] {detail}")
        if len(details) > 3:
            print(f"Translation            : [{what}] ... and {len(details) - 3} more of this kind (in the record)")
    print(f"Records                : {ResultStore(results_dir).runs_file} ({', '.join(r['run_id'] for r in records)})")
    files = [f for r in ok for f in r["data"]["files"]]
    if files:
        print(f"Data                   : {files[0]}" + (f" (+{len(files) - 1} more)" if len(files) > 1 else ""))


def _print_stages(ok: list[dict[str, Any]], phase: str) -> None:
    """The simulator's own timers inside one phase (record["phases"][phase]["stages"]), medians over runs."""
    stages = ok[0]["phases"].get(phase, {}).get("stages")
    if not stages:
        return
    for name, stage in stages.items():
        values = [r["phases"][phase].get("stages", {}).get(name, {}).get("wall_s") for r in ok]
        top = sorted(stage.get("steps", {}).items(), key=lambda kv: -kv[1])[:3]
        steps = ", ".join(f"{k} {v:.3f} s" for k, v in top if v >= 0.0005)
        print(f"  {name:21s}: {_median_spread(values)}" + (f"  ({steps})" if steps else ""))


def _print_estimates(record: dict[str, Any]) -> None:
    est = record.get("estimates")
    if not est:
        return
    ph = est["phases"]
    print(f"Board phases           : {est['label']}")
    print(f"  on-board load         : ~{ph['load_s']:.1f} s  (a N, a = {est['constants']['a_load_s_per_neuron'] * 1000:.1f} ms/neuron)")
    print(f"  on-board run          : ~{ph['run_s']:.2f} s  (simtime x time_scale_factor {est['constants']['time_scale_factor']:g})")
    print(f"  on-board extraction   : ~{ph['extract_s']:.2f} s  (b N simtime, b = "
          f"{est['constants']['b_extract_s_per_neuron_per_s'] * 1000:.2f} ms/neuron/s)")
    line = f"  on board in all       : ~{ph['on_board_s']:.1f} s"
    if est.get("sim_phase_with_board_s") is not None:
        line += f"; sim phase with a board ~{est['sim_phase_with_board_s']:.1f} s (measured host stages + estimate)"
    print(line)
    print(f"  calibration           : {est['calibration']['source']}")


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from .runner import RunSpec, preflight, run_repeated

    try:
        options = _backend_options(args)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    spec = RunSpec(
        scenario=args.scenario, backend=args.backend, overrides=_overrides(args), threads=args.threads,
        connectivity=args.connectivity, format=args.format, timeout=args.timeout, options=options,
        memory_limit_bytes=int(args.memory_limit * 2**30) if args.memory_limit else None, force=args.force,
    )
    store = ResultStore(_results_dir(args.results))
    preflight(spec)  # bad settings, scenario or size: exit 2 before anything is announced or run

    def announce(i: int, n: int) -> None:
        if not args.json:
            print(f"snnbench: run {i + 1}/{n}: {args.scenario} on {args.backend} ...", file=sys.stderr, flush=True)

    records = run_repeated(spec, store, args.repeat, before_each=announce)
    if args.json:
        print(dumps(records[0]) if len(records) == 1 else "[" + ",".join(dumps(r) for r in records) + "]")
    else:
        print_summary(records, args.results)
    return EXIT_OK if all(r["status"] == "ok" for r in records) else EXIT_FAILED


# ------------------------------------------------------------------------------ validate


def _num(x: float | None, fmt: str = "{:.3f}") -> str:
    return "-" if x is None else fmt.format(x)


def print_validation(record: dict[str, Any]) -> None:
    verdict = record["verdict"]
    print(f"\nValidation of {record['candidate']} {record['candidate_version']} against {record['reference']} "
          f"{record['reference_version']} on {record['scenario']} (N = {record['N_pop']}, {record['simtime']:g} ms)")
    if record["tier"] == "exact":
        ex = record["exact"]
        print(f"Exact tier (identical inputs, exact connectivity): spike times within dt = {ex['dt']:g} ms, v RMS < 0.05 mV")
        print(f"  {'population':12s} {'cell':>5s} {'spikes X':>9s} {'spikes Y':>9s} {'max shift (ms)':>15s} {'v RMS (mV)':>11s}  verdict")
        for c in ex["cells"]:
            print(f"  {c['population']:12s} {c['index']:>5d} {c['spikes_x']:>9d} {c['spikes_y']:>9d} "
                  f"{_num(c['max_shift_ms'], '{:.3g}'):>15s} {_num(c['v_rms_mv'], '{:.2e}'):>11s}  {'PASS' if c['passed'] else 'FAIL'}")
    else:
        st = record["statistical"]
        print(f"Statistical tier: {st['candidate_seeds']} candidate seeds (X) vs {st['reference_seeds']} reference seeds (Y), "
              f"{record['connectivity']} connectivity, after the {record['transient']:g} ms transient")
        print("  pass if mean D_XY <= mean D_YY + 2 sd D_YY (KS distances; KL divergence reported, not used)")
        print(f"  {'population':10s} {'statistic':12s} {'D_XY':>7s} {'D_YY mean+-sd':>15s} {'limit':>7s} {'KL(X||Y)':>9s} {'KL(Y||Y)':>9s}  verdict")
        for c in st["statistics"]:
            tag = "PASS" if c["passed"] else "FAIL"
            print(f"  {c['population']:10s} {c['statistic']:12s} {c['d_xy_mean']:7.3f} {c['d_yy_mean']:7.3f}+-{c['d_yy_sd']:5.3f} "
                  f"{c['limit']:7.3f} {_num(c['kl_xy'], '{:.4f}'):>9s} {_num(c['kl_yy'], '{:.4f}'):>9s}  {tag}"
                  + (f"  ({c['note']})" if c["note"] else ""))
        for note in st.get("notes", []):
            print(f"  note: {note}")
        print("  mean rate per population: |X - Y| <= max(2 sd across Y seeds, 5 %)")
        for r in st["rates"]:
            print(f"  {r['population']:10s} X {r['mean_x']:.2f} Hz  Y {r['mean_y']:.2f} +- {r['sd_y']:.2f} Hz  "
                  f"|diff| {r['difference']:.2f} <= {r['tolerance']:.2f} Hz  {'PASS' if r['passed'] else 'FAIL'}")
        div = record.get("first_divergence_ms")
        if div is None:
            print("Rasters of one exact-connectivity pair: identical for the whole run (information only)")
        else:
            print(f"Rasters of one exact-connectivity pair first diverge at {div:g} ms (information only: the network is chaotic)")
    print(f"Verdict: {verdict}")


@command("validate")
def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import ValidationError, validate

    seeds, ref_seeds = (5, 5) if args.quick else (args.seeds, args.reference_seeds)
    try:
        options = _backend_options(args)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    try:
        record = validate(
            args.scenario, args.backend, args.reference, seeds=seeds, reference_seeds=ref_seeds,
            overrides=Overrides(N_pop=args.N_pop, scale=args.scale, simtime=args.simtime, dt=args.dt, k_scale=args.K_scale),
            threads=args.threads, connectivity=args.connectivity, store=ResultStore(_results_dir(args.results)),
            reuse=not args.fresh, options=options, timeout=args.timeout, force=args.force,
            progress=(lambda m: None) if args.json else (lambda m: print(m, file=sys.stderr, flush=True)),
        )
    except ValidationError as exc:
        _err(f"validation could not run: {exc}")
        return EXIT_BAD_INPUT
    if args.json:
        print(dumps(record))
    else:
        print_validation(record)
    return EXIT_OK if record["passed"] else EXIT_FAILED


# ------------------------------------------------------------------------------ sweep


@command("sweep")
def cmd_sweep(args: argparse.Namespace) -> int:
    from .sweep import SweepInputError, design_from_options, expand, load_sweep_file, plan, run_sweep

    if args.target.endswith(".toml") and not args.backends:
        try:
            sweep = load_sweep_file(args.target)
        except ScenarioError as exc:
            _err(f"invalid sweep file: {exc}" if len(exc.problems) == 1 else f"invalid sweep file:\n{exc}")
            return EXIT_BAD_INPUT
    else:
        if not args.backends or not args.N_pop:
            _err("a scenario sweep needs --backends and --N-pop (or give a sweep file)")
            return EXIT_BAD_INPUT
        try:
            design = design_from_options(scenario=args.target, backends=args.backends, N_pop=args.N_pop,
                                         simtime=args.simtime, repeat=args.repeat, threads=args.threads,
                                         connectivity=args.connectivity, format=args.format, timeout=args.timeout)
        except SweepInputError as exc:
            _err(f"invalid sweep: {exc}")
            return EXIT_BAD_INPUT
        sweep = expand([design], args.name or "")
    store = ResultStore(_results_dir(args.results, write=not args.dry_run))
    if args.dry_run:
        todo, done = plan(sweep, store, args.retry_failed)
        print(f"sweep {sweep.name}: {len(sweep.points)} points, {len(done)} already recorded, {len(todo)} to run")
        for p in todo:
            print(f"  {p.scenario} {p.label}")
        return EXIT_OK
    outcome = run_sweep(sweep, store, retry_failed=args.retry_failed, show_progress=not args.json, force=args.force)
    if args.json:
        print(dumps(outcome))
    else:
        claimed = f", {outcome['claimed_elsewhere']} run by another sweep" if outcome.get("claimed_elsewhere") else ""
        print(f"sweep {outcome['name']}: {outcome['ok']} ok, {outcome['failed']} failed, {outcome['skipped']} skipped "
              f"(already recorded){claimed} of {outcome['points']} points; records in {store.runs_file}")
    return EXIT_OK if outcome["failed"] == 0 else EXIT_FAILED


# ------------------------------------------------------------------------------ fit


@command("fit")
def cmd_fit(args: argparse.Namespace) -> int:
    from .fit import PHASES, fit_report, format_ci

    phases = tuple(args.phase.split(",")) if args.phase else PHASES
    unknown = [p for p in phases if p not in PHASES]
    if unknown:
        _err(f"unknown phase {unknown[0]!r}; expected one of: {', '.join(PHASES)}")
        return EXIT_BAD_INPUT
    predictions = []
    for item in args.predict or []:
        n, _, t = item.partition(",")
        try:
            point = (positive_float(n), positive_float(t) if t else None)
        except argparse.ArgumentTypeError as exc:
            _err(f"--predict {item!r}: expected N[,SIMTIME], {exc}")
            return EXIT_BAD_INPUT
        predictions.append(point)
    records = ResultStore(_results_dir(args.results, write=False)).runs()
    try:
        report = fit_report(records, args.scenario, phases, include_cold=args.include_cold)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    if not report["models"]:
        _err(f"no runs to fit in {ResultStore(args.results).runs_file} (run a sweep first)")
        return EXIT_FAILED
    predictions = [(n, t if t is not None else report["simtimes"][-1]) for n, t in predictions]
    if args.json:
        out = {k: v for k, v in report.items() if k not in ("models", "crossovers")}
        out["models"] = [m.as_dict() for m in report["models"]]
        out["crossovers"] = [c.as_dict() for c in report["crossovers"]]
        out["predictions"] = [
            {"backend": m.backend, "phase": m.phase, "N_pop": n, "simtime": t, "unit": m.unit,
             **{k: float(v[0]) for k, v in m.predict(n, t).items()}}
            for n, t in predictions for m in report["models"]
        ]
        print(dumps(out))
        return EXIT_OK
    print(f"Cost models for {report['scenario']} from {report['runs']} runs on {len(report['machines'])} machine(s); "
          f"simtimes {', '.join(f'{t:g}' for t in report['simtimes'])} ms")
    print("(OLS, model chosen by AIC, 95 % CIs from HC3 robust covariance; R^2 centred)")
    if report["cold_runs_left_out"]:
        print(f"({report['cold_runs_left_out']} runs with a cold or partly cold code cache left out of the compile, build, "
              "total and memory fits; --include-cold keeps them)")
    for m in report["models"]:
        print(f"\n{m.backend:18s} {m.formula()}")
        print(f"{'':18s} R^2 {m.r2:.4f}   n {m.n}   AIC {m.aic:.1f}   model '{m.name}'   residual sd {m.residual_sd:.3g} {m.unit}")
        for c in m.coefficients:
            print(f"{'':20s}{c.term:12s} {format_ci(c)}")
        checks = ", ".join(f"{k.replace(' p', '')} p = {v:.2g}" for k, v in m.checks.items())
        print(f"{'':20s}residual checks: {checks}")
    if report["crossovers"]:
        print("\nCrossovers (where predicted costs meet, searched over the N range both backends were measured in)")
        for c in report["crossovers"]:
            print(f"  {c.phase:7s} simtime {c.simtime:>6g} ms  {c.backend_a} vs {c.backend_b}: {c.note}")
    for n, t in predictions:
        print(f"\nPredictions at N_pop = {n:,.0f}, simtime = {t:g} ms (95 % prediction interval)")
        for m in report["models"]:
            p = m.predict(n, t)
            extrapolated = "  (extrapolated)" if not m.helpers["N_min"] <= n <= m.helpers["N_max"] else ""
            print(f"  {m.backend:18s} {m.phase:8s} {p['mean'][0]:12.4g} {m.unit} [{p['low'][0]:.4g}, {p['high'][0]:.4g}]{extrapolated}")
    return EXIT_OK


# ------------------------------------------------------------------------------ report


@command("report")
def cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report

    store = ResultStore(_results_dir(args.results, write=False))
    out = _results_dir(args.out, "--out")
    try:
        path = build_report(store, out, args.scenario, args.title)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_FAILED
    print(f"report written to {path}")
    return EXIT_OK


# ------------------------------------------------------------------------------ table


def _seconds(value: float) -> str:
    return "0" if value < 5e-4 else f"{value:.3g}"


def _cell(values: list[float], scale: float = 1.0, fmt: str | None = None) -> str:
    """Median [min-max]; seconds by default (below 0.5 ms shown as 0: a phase with nothing to do)."""
    values = [v * scale for v in values if v is not None]
    if not values:
        return "-"
    show = fmt.format if fmt else _seconds
    med = statistics.median(values)
    if len(values) == 1:
        return show(med)
    return f"{show(med)} [{show(min(values))}-{show(max(values))}]"


def results_table(records: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Medians [min-max] per (scenario, N_pop, simtime, backend, backend options, threads, connectivity, format)."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("status") != "ok":
            continue
        options = ", ".join(f"{k}={v}" for k, v in sorted((r.get("options") or {}).items()))
        key = (r["scenario"], r["resolved"]["N_pop"], r["resolved"]["simtime"], r["backend"], options, r.get("threads"),
               r.get("connectivity"), (r.get("data") or {}).get("format") or r.get("format") or "-")
        groups.setdefault(key, []).append(r)
    # One rate column per population of cells in these runs (VA: E, I; Potjans-Diesmann: all eight).
    populations = list(dict.fromkeys(name for r in records if r.get("status") == "ok"
                                     for name, pop in r["populations"].items()
                                     if not pop["cell_type"].startswith("SpikeSource")))
    header = ["scenario", "N", "T (ms)", "backend", "threads", "runs", "compile (s)", "build (s)", "sim (s)",
              "write (s)", "peak RSS (MiB)"] + [f"{name} rate (Hz)" for name in populations]
    rows = []
    for key, rs in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        scenario, n, simtime, backend, options, threads, _, fmt = key
        def phase(name):
            return [r["phases"].get(name, {}).get("wall_s") for r in rs]
        def rate(pop):
            return [r["populations"].get(pop, {}).get("rate_hz") for r in rs]
        rows.append([
            scenario, str(n), f"{simtime:g}", f"{backend} {rs[0].get('backend_version') or '?'}" + (f" ({options})" if options else ""),
            str(threads), str(len(rs)),
            _cell(phase("compile")), _cell(phase("build")), _cell(phase("sim")), _cell(phase("write")) + f" {fmt}",
            _cell([r["peak_rss_bytes"] for r in rs], 1 / 2**20, "{:.0f}"),
            *(_cell(rate(name), fmt="{:.1f}") for name in populations),
        ])
    return header, rows


@command("table")
def cmd_table(args: argparse.Namespace) -> int:
    records = ResultStore(_results_dir(args.results, write=False)).runs()
    if args.scenario:
        records = [r for r in records if r["scenario"] == args.scenario]
    header, rows = results_table(records)
    if not rows:
        _err(f"no successful runs in {ResultStore(args.results).runs_file}")
        return EXIT_FAILED
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
        for row in rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths)))
    return EXIT_OK


# ------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snnbench", description="Benchmark spiking-network simulators on scenarios written once.")
    parser.add_argument("--version", action="version", version=f"snnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="scenarios and backends (with availability)")
    p.add_argument("--scenarios", action="store_true", help="only scenarios")
    p.add_argument("--backends", action="store_true", help="only backends")
    p.add_argument("--options", action="store_true", help="each backend's options: type, default, what it does")

    p = sub.add_parser("show", help="a scenario, resolved with any overrides")
    p.add_argument("scenario", help="scenario id (from scenarios/) or a path to a .toml file")
    _add_override_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("run", help="measured runs, each in a fresh process")
    p.add_argument("scenario", help="scenario id (from scenarios/) or a path to a .toml file")
    p.add_argument("--backend", "-b", default="numba", choices=backend_names(), help="backend (default: numba)")
    _add_override_options(p)
    p.add_argument("--threads", type=positive_int, default=1, help="threads for the backend (default 1)")
    p.add_argument("--connectivity", choices=("native", "exact"), default="native",
                   help="native: the backend's own connectors and RNG; exact: the harness's arrays (default native)")
    p.add_argument("--format", choices=FORMATS, default="pickle", help="data format for spikes and v (default pickle)")
    p.add_argument("--repeat", type=positive_int, default=1, help="number of measured runs (medians are printed)")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--timeout", type=positive_float, default=3600.0, help="seconds before a run is killed and recorded as failed")
    p.add_argument("--memory-limit", type=positive_float, metavar="GiB", help="resident memory limit per run (default 90%% of RAM)")
    p.add_argument("--force", action="store_true",
                   help="run even if the network's estimated memory exceeds the memory limit or the RAM")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="a backend option (repeatable), e.g. cache=cold (brian2); each backend's: snnbench list --options")
    p.add_argument("--json", action="store_true", help="print the run record(s) as JSON instead of the summary")
    _add_machine_options(p)
    p = sub.add_parser("validate", help="does a backend reproduce a reference backend? (SCENARIOS.md section 4)")
    p.add_argument("scenario", help="scenario id or path")
    p.add_argument("--backend", "-b", required=True, choices=backend_names(), help="candidate backend (X)")
    p.add_argument("--reference", default="nest", choices=backend_names(), help="reference backend (Y), default nest")
    p.add_argument("--seeds", type=positive_int, default=5, help="candidate seeds (default 5)")
    p.add_argument("--reference-seeds", type=positive_int, default=10, help="reference seeds (default 10)")
    p.add_argument("--quick", action="store_true", help="5 reference and 5 candidate seeds")
    g = p.add_argument_group("overrides")
    g.add_argument("--N-pop", dest="N_pop", type=positive_int, metavar="N")
    g.add_argument("--scale", type=positive_float)
    g.add_argument("--K-scale", dest="K_scale", type=positive_float, metavar="K_S")
    g.add_argument("--simtime", type=positive_float, metavar="MS")
    g.add_argument("--dt", type=positive_float, metavar="MS")
    p.add_argument("--threads", type=positive_int, help="threads per run (default: the machine's cores, within the backend's limit)")
    p.add_argument("--connectivity", choices=("native", "exact"), default="native", help="for the statistical tier")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="a backend option for the candidate (repeatable)")
    p.add_argument("--fresh", action="store_true", help="do not reuse matching runs already in the store")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--timeout", type=positive_float, default=3600.0, help="seconds per run")
    p.add_argument("--force", action="store_true", help="run even if the estimated memory exceeds the limit or the RAM")
    p.add_argument("--json", action="store_true", help="print the validation record as JSON")
    _add_machine_options(p)

    p = sub.add_parser("sweep", help="isolated runs over N_pop, simtime and backends (resumable)")
    p.add_argument("target", help="scenario id or path, or a sweep file (.toml)")
    p.add_argument("--backends", help="comma-separated backends, e.g. numba,nest")
    p.add_argument("--N-pop", dest="N_pop", help="start:stop:count (log-spaced), start:stop:count:lin, or a,b,c")
    p.add_argument("--simtime", help="comma-separated simtimes in ms (default: the scenario's)")
    p.add_argument("--repeat", type=positive_int, default=3, help="runs per point (default 3)")
    p.add_argument("--threads", type=positive_int, default=1)
    p.add_argument("--connectivity", choices=("native", "exact"), default="native")
    p.add_argument("--format", choices=FORMATS, default="parquet", help="data format (default parquet)")
    p.add_argument("--timeout", type=positive_float, default=1800.0, help="seconds per run before it is killed and recorded")
    p.add_argument("--force", action="store_true", help="run points whose estimated memory exceeds the limit or the RAM")
    p.add_argument("--name", help="a name for the sweep (stored with its runs)")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--retry-failed", action="store_true", help="run again the points whose earlier run failed")
    p.add_argument("--dry-run", action="store_true", help="list the points that would run")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON (no progress bar)")

    p = sub.add_parser("fit", help="cost models per backend and phase, with crossovers")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--scenario", help="the scenario whose runs are fitted (needed when the store holds several)")
    p.add_argument("--phase", help="comma-separated phases (build, compile, sim, write, total, memory)")
    p.add_argument("--predict", action="append", metavar="N[,SIMTIME]", help="predict cost at this size (repeatable)")
    p.add_argument("--include-cold", action="store_true", help="also fit runs whose code cache was cold")
    p.add_argument("--json", action="store_true", help="machine-readable output, each model with its r2")

    p = sub.add_parser("report", help="a self-contained HTML report of the stored runs")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--out", default="reports/latest", help="output directory (default reports/latest)")
    p.add_argument("--scenario", help="the scenario to report (needed when the store holds several)")
    p.add_argument("--title", help="page title")

    p = sub.add_parser("table", help="medians [min-max] of the stored runs, per scenario, backend and threads")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--scenario", help="only this scenario")
    p.add_argument("--markdown", action="store_true", help="a Markdown table (as in the README)")
    return parser


def _show_store_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Store warnings (a skipped line) as one line each, like every other snnbench message."""
    if issubclass(category, StoreWarning):
        print(f"snnbench: warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv: list[str] | None = None) -> int:
    """Run one command; return its exit status (0, 1, 2 or 130, see the module's docstring)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a bad argument (already reported on one line)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    from .backends.base import OptionError
    from .runner import RunRefused

    try:
        with handling_interrupts(), warnings.catch_warnings():
            warnings.showwarning = _show_store_warning
            return _COMMANDS[args.command](args)
    except ScenarioError as exc:
        if len(exc.problems) == 1:
            _err(f"invalid scenario: {exc}")
        else:
            _err(f"invalid scenario:\n{exc}")
        return EXIT_BAD_INPUT
    except (BadInput, RunRefused, OptionError) as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:  # Interrupted (our handler), or Ctrl-C where it was not installed
        name = exc.name if isinstance(exc, Interrupted) else "SIGINT"
        detail = getattr(exc, "detail", "")
        _err(f"interrupted by {name}" + (f"; {detail}" if detail else "; nothing was recorded"))
        return EXIT_INTERRUPTED
    except StoreError as exc:
        _err(str(exc))
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_OK
    except OSError as exc:  # the machine, not the input: a full disk, a vanished directory
        _err(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
