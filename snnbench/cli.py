"""The `snnbench` command.

    snnbench list                      scenarios, and backends with availability (or why not)
    snnbench show SCENARIO             the scenario resolved with any overrides
    snnbench run SCENARIO              measured, isolated run(s); numba by default
    snnbench table                     medians [min-max] of stored runs

Exit status: 0 success, 1 a run failed (recorded), 2 bad input (nothing run).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any, Callable

from . import __version__
from .backends import backend_class, backend_names
from .io import FORMATS
from .scenario import Overrides, ScenarioError, list_scenarios, load_scenario, resolve
from .store import ResultStore, dumps

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        _COMMANDS[name] = fn
        return fn
    return register


# ------------------------------------------------------------------------------ helpers


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(N_pop=args.N_pop, scale=args.scale, simtime=args.simtime, seed=args.seed, dt=args.dt)


def _add_override_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("overrides")
    g.add_argument("--N-pop", dest="N_pop", type=int, metavar="N", help="total neurons (scales every scaling population)")
    g.add_argument("--scale", type=float, help="scale factor for population sizes (instead of --N-pop)")
    g.add_argument("--simtime", type=float, metavar="MS", help="biological time to simulate, ms")
    g.add_argument("--seed", type=int, help="random seed (connectivity, initial values, sources)")
    g.add_argument("--dt", type=float, metavar="MS", help="time step, ms")


def _options(items: list[str] | None) -> dict[str, Any]:
    """--option KEY=VALUE pairs; a VALUE that reads as JSON (a number, true, ...) is taken as such."""
    options: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"snnbench: --option expects KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except ValueError:
            options[key] = value
    return options


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
    print(f"snnbench: {message}", file=sys.stderr)


# ------------------------------------------------------------------------------ list


@command("list")
def cmd_list(args: argparse.Namespace) -> int:
    show_all = not (args.scenarios or args.backends)
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
    for name in cells:
        rates = [r["populations"][name]["rate_hz"] for r in ok]
        after = [r["populations"][name]["rate_hz_after_transient"] for r in ok]
        line = f"{name} rate".ljust(23) + f": {statistics.median(rates):.2f} Hz"
        if transient and after[0] is not None:
            line += f"  ({statistics.median(after):.2f} Hz after the {transient:g} ms transient)"
        print(line)
    labels = [("import", "Import time"), ("compile", "Compile time"), ("realise", "Realise time (exact)"),
              ("build", "Build time"), ("sim", "Simulation time"), ("collect", "Collect time")]
    for key, label in labels:
        if any(key in r["phases"] for r in ok):
            print(f"{label:23s}: {_median_spread([_phase(r, key) for r in ok])}")
    fmt = r0["data"]["format"]
    print(f"{'Writing time (' + fmt + ')':23s}: {_median_spread([_phase(r, 'write') for r in ok])}")
    cache = r0.get("backend_info", {}).get("compile_cache")
    if cache:
        print(f"Compile cache          : {', '.join(r.get('backend_info', {}).get('compile_cache', '?') for r in ok)}")
    rtf = [r["realtime_factor"] for r in ok]
    print(f"Real-time factor       : {statistics.median(rtf):.3f}  (sim wall time / biological time)")
    print(f"Peak memory            : {_fmt_bytes(statistics.median([r['peak_rss_bytes'] for r in ok]))}")
    for t in r0.get("translations", []):
        print(f"Translation            : [{t['what']}] {t['detail']}")
    print(f"Records                : {ResultStore(results_dir).runs_file} ({', '.join(r['run_id'] for r in records)})")
    files = [f for r in ok for f in r["data"]["files"]]
    if files:
        print(f"Data                   : {files[0]}" + (f" (+{len(files) - 1} more)" if len(files) > 1 else ""))


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from .runner import RunSpec, run_repeated

    spec = RunSpec(
        scenario=args.scenario, backend=args.backend, overrides=_overrides(args), threads=args.threads,
        connectivity=args.connectivity, format=args.format, timeout=args.timeout, options=_options(args.option),
        memory_limit_bytes=int(args.memory_limit * 2**30) if args.memory_limit else None,
    )
    store = ResultStore(args.results)

    def announce(i: int, n: int) -> None:
        if not args.json:
            print(f"snnbench: run {i + 1}/{n}: {args.scenario} on {args.backend} ...", file=sys.stderr, flush=True)

    records = run_repeated(spec, store, args.repeat, before_each=announce)
    if args.json:
        print(dumps(records[0]) if len(records) == 1 else "[" + ",".join(dumps(r) for r in records) + "]")
    else:
        print_summary(records, args.results)
    return EXIT_OK if all(r["status"] == "ok" for r in records) else EXIT_FAILED


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
        key = (r["scenario"], r["resolved"]["N_pop"], r["resolved"]["simtime"], r["backend"], options, r["threads"],
               r["connectivity"], r["data"]["format"])
        groups.setdefault(key, []).append(r)
    header = ["scenario", "N", "T (ms)", "backend", "threads", "runs", "compile (s)", "build (s)", "sim (s)",
              "write (s)", "peak RSS (MiB)", "E rate (Hz)", "I rate (Hz)"]
    rows = []
    for key, rs in sorted(groups.items(), key=lambda kv: tuple(str(k) for k in kv[0])):
        scenario, n, simtime, backend, options, threads, _, fmt = key
        def phase(name):
            return [r["phases"].get(name, {}).get("wall_s") for r in rs]
        def rate(pop):
            return [r["populations"].get(pop, {}).get("rate_hz") for r in rs]
        rows.append([
            scenario, str(n), f"{simtime:g}", f"{backend} {rs[0]['backend_version']}" + (f" ({options})" if options else ""),
            str(threads), str(len(rs)),
            _cell(phase("compile")), _cell(phase("build")), _cell(phase("sim")), _cell(phase("write")) + f" {fmt}",
            _cell([r["peak_rss_bytes"] for r in rs], 1 / 2**20, "{:.0f}"), _cell(rate("E"), fmt="{:.1f}"),
            _cell(rate("I"), fmt="{:.1f}"),
        ])
    return header, rows


@command("table")
def cmd_table(args: argparse.Namespace) -> int:
    records = ResultStore(args.results).runs()
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
    parser = argparse.ArgumentParser(prog="snnbench", description="Benchmark spiking-network simulators on scenarios written once.")
    parser.add_argument("--version", action="version", version=f"snnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="scenarios and backends (with availability)")
    p.add_argument("--scenarios", action="store_true", help="only scenarios")
    p.add_argument("--backends", action="store_true", help="only backends")

    p = sub.add_parser("show", help="a scenario, resolved with any overrides")
    p.add_argument("scenario", help="scenario id (from scenarios/) or a path to a .toml file")
    _add_override_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("run", help="measured runs, each in a fresh process")
    p.add_argument("scenario", help="scenario id (from scenarios/) or a path to a .toml file")
    p.add_argument("--backend", "-b", default="numba", choices=backend_names(), help="backend (default: numba)")
    _add_override_options(p)
    p.add_argument("--threads", type=int, default=1, help="threads for the backend (default 1)")
    p.add_argument("--connectivity", choices=("native", "exact"), default="native",
                   help="native: the backend's own connectors and RNG; exact: the harness's arrays (default native)")
    p.add_argument("--format", choices=FORMATS, default="pickle", help="data format for spikes and v (default pickle)")
    p.add_argument("--repeat", type=int, default=1, help="number of measured runs (medians are printed)")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds before a run is killed and recorded as failed")
    p.add_argument("--memory-limit", type=float, metavar="GiB", help="resident memory limit per run (default 90%% of RAM)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="a backend option (repeatable), e.g. --option connection=dense for bindsnet")
    p.add_argument("--json", action="store_true", help="print the run record(s) as JSON instead of the summary")
    p = sub.add_parser("table", help="medians [min-max] of the stored runs, per scenario, backend and threads")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--scenario", help="only this scenario")
    p.add_argument("--markdown", action="store_true", help="a Markdown table (as in the README)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "repeat", 1) < 1:
        parser.error("--repeat must be >= 1")
    if getattr(args, "threads", 1) < 1:
        parser.error("--threads must be >= 1")
    try:
        return _COMMANDS[args.command](args)
    except ScenarioError as exc:
        _err(f"invalid scenario:\n{exc}")
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
