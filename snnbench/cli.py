"""The `snnbench` command.

    snnbench list                      scenarios, and backends with availability (or why not)
    snnbench show SCENARIO             the scenario resolved with any overrides
    snnbench run SCENARIO              measured, isolated run(s); numba by default
    snnbench validate SCENARIO -b X    X against a reference backend (statistical or exact tier)
    snnbench sweep SCENARIO|FILE       resumable sweeps over N_pop, simtime and backends
    snnbench fit                       cost models per backend and phase, crossovers
    snnbench recommend SCENARIO        which backend at a size: ranked predictions, memory, validation
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
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Callable, NoReturn

from . import __version__, present
from .backends import backend_class, backend_names
from .io import FORMATS
from .interrupts import EXIT_INTERRUPTED, Interrupted, handling_interrupts
from .scenario import Overrides, ScenarioError, list_scenarios, load_scenario, resolve
from .present import results_table
from .record import RunRecord
from .store import ResultStore, StoreError, StoreWarning, dumps, read_records

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


def _int_at_least(minimum: int):
    """An argparse type: an integer >= `minimum`."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
        return value
    return parse


positive_int = _int_at_least(1)
non_negative_int = _int_at_least(0)


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
                     k_scale=getattr(args, "K_scale", None), slice=getattr(args, "slice", None),
                     final_weights=True if getattr(args, "final_weights", False) else None,
                     plasticity="off" if getattr(args, "static_synapses", False) else None)


STATIC_HELP = ("plasticity off: every plastic projection static at its initial weights (the same network and draws; "
               "recorded as the override plasticity=off)")


def _add_override_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("overrides")
    g.add_argument("--N-pop", dest="N_pop", type=positive_int, metavar="N",
                   help="total neurons (scales every scaling population; rebuilds a built SONATA column at N cells)")
    g.add_argument("--scale", type=positive_float, help="scale factor for population sizes (instead of --N-pop)")
    g.add_argument("--K-scale", dest="K_scale", type=positive_float, metavar="K_S",
                   help="scale every in-degree (weights and DC follow as the scenario's [scaling] says)")
    g.add_argument("--simtime", type=positive_float, metavar="MS", help="biological time to simulate, ms")
    g.add_argument("--seed", type=non_negative_int, help="random seed (connectivity, initial values, sources)")
    g.add_argument("--dt", type=positive_float, metavar="MS", help="time step, ms")
    g.add_argument("--slice", metavar="SPEC", help="cut a SONATA circuit: radius=R or n=N, optionally with ,x=X,z=Z "
                   "(the x-z plane; docs/sonata.md)")
    g.add_argument("--final-weights", action="store_true",
                   help="also record every synapse's weight of each plastic projection at simtime (as validate does)")
    g.add_argument("--static-synapses", action="store_true", help=STATIC_HELP)


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


def _print_lines(lines: list[str]) -> None:
    print("\n".join(lines))


def _err(message: str) -> None:
    try:
        print(f"snnbench: {message}", file=sys.stderr)
    except OSError:  # no terminal any more (SIGHUP): the exit status still tells
        pass


# ------------------------------------------------------------------------------ list


@command("list")
def cmd_list(args: argparse.Namespace) -> int:
    show_all = not (args.scenarios or args.backends or args.options or args.matrix)
    backends = [(name, backend_class(name)) for name in backend_names()]
    if args.matrix:
        _print_lines(present.support_matrix_lines(backends))
        return EXIT_OK
    _print_lines(present.list_lines(list_scenarios() if args.scenarios or show_all else None,
                                    backends if args.backends or show_all else None,
                                    backends if args.options else None))
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
    _print_lines(present.show_lines(scenario, resolved))
    return EXIT_OK


# ------------------------------------------------------------------------------ run


def print_summary(records: list[RunRecord], results_dir: str) -> None:
    """A summary in the style of PyNN's VAbenchmarks.py (`present.run_summary_lines`)."""
    _print_lines(present.run_summary_lines(records, str(ResultStore(results_dir).runs_file)))


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
    preflight(spec)  # bad settings, scenario or size: exit 2 before anything is created, announced or run
    store = ResultStore(_results_dir(args.results))

    def announce(i: int, n: int) -> None:
        if not args.json:
            print(f"snnbench: run {i + 1}/{n}: {args.scenario} on {args.backend} ...", file=sys.stderr, flush=True)

    records = run_repeated(spec, store, args.repeat, before_each=announce)
    if args.json:
        print(dumps(records[0]) if len(records) == 1 else "[" + ",".join(dumps(r) for r in records) + "]")
    else:
        print_summary(records, args.results)
    return EXIT_OK if all(r.ok for r in records) else EXIT_FAILED


# ------------------------------------------------------------------------------ validate


def print_validation(record: dict[str, Any]) -> None:
    _print_lines(present.validation_lines(record))


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
            threads=args.threads, reference_threads=args.reference_threads, connectivity=args.connectivity,
            store=ResultStore(_results_dir(args.results)),
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
    from .cluster import ClusterError, config_from_options
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
            if args.static_synapses and args.plasticity:
                raise SweepInputError("--static-synapses: give it or --plasticity, not both")
            plasticity = ["off"] if args.static_synapses else [v.strip() for v in (args.plasticity or "on").split(",")]
            design = design_from_options(scenario=args.target, backends=args.backends, N_pop=args.N_pop,
                                         simtime=args.simtime, plasticity=plasticity, repeat=args.repeat, threads=args.threads,
                                         connectivity=args.connectivity, format=args.format, timeout=args.timeout)
        except SweepInputError as exc:
            _err(f"invalid sweep: {exc}")
            return EXIT_BAD_INPUT
        sweep = expand([design], args.name or "")
    store = ResultStore(_results_dir(args.results, write=not args.dry_run))
    try:  # --cluster and its options over the sweep file's [cluster] table (snnbench.cluster)
        cluster = config_from_options(vars(args), sweep.cluster)
    except ClusterError as exc:
        _err(str(exc))
        return EXIT_BAD_INPUT
    if args.dry_run:
        todo, done = plan(sweep, store, args.retry_failed, any_machine=cluster is not None)
        lines = present.sweep_plan_lines(sweep.name, len(sweep.points), todo, done)
        if cluster is not None:
            lines[0] += f" on {cluster.spec}"
        _print_lines(lines)
        return EXIT_OK
    try:
        outcome = run_sweep(sweep, store, retry_failed=args.retry_failed, show_progress=not args.json, force=args.force,
                            cluster=cluster)
    except ClusterError as exc:  # the cluster cannot run these points (checked before any is submitted)
        _err(str(exc))
        return EXIT_BAD_INPUT
    if args.json:
        print(dumps(outcome))
    else:
        print(present.sweep_outcome_line(outcome, str(store.runs_file)))
    return EXIT_OK if outcome["failed"] == 0 else EXIT_FAILED


# ------------------------------------------------------------------------------ fit


@command("fit")
def cmd_fit(args: argparse.Namespace) -> int:
    from .fit import PHASES, fit_report

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
    if not report["models"] and not report["plasticity"]:
        _err(f"no runs to fit in {ResultStore(args.results).runs_file} (run a sweep first)")
        return EXIT_FAILED
    predictions = [(n, t if t is not None else report["simtimes"][-1]) for n, t in predictions]
    if args.json:
        out = {k: v for k, v in report.items() if k not in ("models", "crossovers", "plasticity")}
        out["models"] = [m.as_dict() for m in report["models"]]
        out["plasticity"] = [m.as_dict() for m in report["plasticity"]]
        out["crossovers"] = [c.as_dict() for c in report["crossovers"]]
        out["predictions"] = [
            {"backend": m.backend, "phase": m.phase, "N_pop": n, "simtime": t, "unit": m.unit,
             **{k: float(v[0]) for k, v in m.predict(n, t).items()}}
            for n, t in predictions for m in report["models"]
        ]
        print(dumps(out))
        return EXIT_OK
    _print_lines(present.fit_lines(report, predictions))
    return EXIT_OK


# ------------------------------------------------------------------------------ recommend


@command("recommend")
def cmd_recommend(args: argparse.Namespace) -> int:
    from .provenance import machine
    from .recommend import NoRuns, memory_budget, recommend, validations_path

    results = _results_dir(args.results, write=False)
    store = ResultStore(results)
    if not store.runs_file.exists():
        raise BadInput(f"--results {args.results}: no {store.runs_file.name} there (no runs stored)")
    validations_file = validations_path(results, args.validations)
    if args.validations is not None and not validations_file.exists():
        raise BadInput(f"--validations {args.validations}: no such file (a validations.jsonl, or a results directory holding one)")
    N_pop, simtime = args.N_pop, args.simtime
    if N_pop is None or simtime is None:  # the scenario's own size (a ScenarioError is bad input)
        resolved = resolve(load_scenario(args.scenario), Overrides())
        N_pop = N_pop or resolved.N_pop
        simtime = simtime or resolved.simtime
    runs = store.runs()
    scenario = args.scenario
    if scenario not in {r.scenario for r in runs}:
        by_id = Path(scenario).stem if scenario.endswith(".toml") else None  # a scenario file: its id
        if by_id in {r.scenario for r in runs}:
            scenario = by_id
        else:
            held = ", ".join(sorted({r.scenario for r in runs})) or "none"
            raise BadInput(f"no runs of scenario {args.scenario} in {store.runs_file} (it holds: {held})")
    budget, source = memory_budget(args.memory)
    validations = read_records(validations_file, "validation") if validations_file.exists() else []
    try:
        rec = recommend(runs, validations, scenario, N_pop, simtime, memory_budget_bytes=budget, memory_source=source,
                        runs_file=str(store.runs_file), validations_file=str(validations_file)
                        + ("" if validations_file.exists() else " (absent)"), this_machine=machine()["machine_id"])
    except NoRuns as exc:
        raise BadInput(str(exc)) from None
    if args.json:
        print(dumps(rec.as_dict()))
    else:
        _print_lines(present.recommend_lines(rec))
    return EXIT_OK


# ------------------------------------------------------------------------------ report


@command("report")
def cmd_report(args: argparse.Namespace) -> int:
    from .recommend import validations_path
    from .report import build_report

    results = _results_dir(args.results, write=False)
    store = ResultStore(results)
    validations_file = validations_path(results, args.validations)
    if args.validations is not None and not validations_file.exists():
        raise BadInput(f"--validations {args.validations}: no such file (a validations.jsonl, or a results directory holding one)")
    out = _results_dir(args.out, "--out")
    try:
        path = build_report(store, out, args.scenario, args.title, validations_file)
    except ValueError as exc:
        _err(str(exc))
        return EXIT_FAILED
    print(f"report written to {path}")
    return EXIT_OK


# ------------------------------------------------------------------------------ table


@command("table")
def cmd_table(args: argparse.Namespace) -> int:
    records = ResultStore(_results_dir(args.results, write=False)).runs()
    if args.scenario:
        records = [r for r in records if r.scenario == args.scenario]
    header, rows = results_table(records)
    if not rows:
        _err(f"no successful runs in {ResultStore(args.results).runs_file}")
        return EXIT_FAILED
    _print_lines(present.table_lines(header, rows, args.markdown))
    return EXIT_OK


# ------------------------------------------------------------------------------ pointnet


@command("pointnet")
def cmd_pointnet(args: argparse.Namespace) -> int:
    import numpy as np

    from .sonata.reference import compare_with_pointnet

    simulation = Path(args.simulation)
    if not simulation.is_file():
        _err(f"{simulation}: no such file (a SONATA simulation config, e.g. config.simulation.json)")
        return EXIT_BAD_INPUT
    backends = tuple(b.strip() for b in args.backends.split(",") if b.strip())
    unknown = [b for b in backends if b not in backend_names()]
    if unknown or not backends:
        _err(f"option --backends: unknown backend(s) {', '.join(unknown) or '(none given)'} (known: {', '.join(backend_names())})")
        return EXIT_BAD_INPUT
    out = Path(args.out)
    result = compare_with_pointnet(simulation.resolve(), out, list(range(1, args.seeds + 1)), args.simtime, args.transient,
                                   backends=backends, dt=args.dt)
    passed = {b: bool(v.passed) for b, v in result["verdicts"].items()}
    if args.json:
        print(dumps({"verdicts": {b: v.as_dict() for b, v in result["verdicts"].items()}, "passed": passed,
                     "rates": result["rates"]}))
    else:
        who = ["bmtk pointnet", *backends]
        rows = [[pop, *(f"{np.mean(r[w]):.2f} ± {np.std(r[w]):.2f}" if w in r else "-" for w in who)]
                for pop, r in result["rates"].items()]
        _print_lines(present.table_lines(["node type", *(f"{w} (Hz)" for w in who)], rows, markdown=args.markdown))
        for b, ok in passed.items():
            print(f"{b}: {'PASS' if ok else 'FAIL'} against bmtk pointnet ({args.seeds} input seeds; files in {out})")
    return EXIT_OK if all(passed.values()) else EXIT_FAILED


# ------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="snnbench", description="Benchmark spiking-network simulators on scenarios written once.")
    parser.add_argument("--version", action="version", version=f"snnbench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="scenarios and backends (with availability)")
    p.add_argument("--scenarios", action="store_true", help="only scenarios")
    p.add_argument("--backends", action="store_true", help="only backends")
    p.add_argument("--options", action="store_true", help="each backend's options: type, default, what it does")
    p.add_argument("--matrix", action="store_true", help="which backend runs which cell type, as a Markdown table (the README's)")

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
    p = sub.add_parser("validate", help="does a backend reproduce a reference backend? (docs/validation.md)")
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
    p.add_argument("--threads", type=positive_int, help="threads per candidate run (default: the machine's cores, within the backend's limit)")
    p.add_argument("--reference-threads", type=positive_int, metavar="N",
                   help="threads per reference run (default: the machine's cores, within the reference's limit)")
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
    p.add_argument("--plasticity", metavar="on,off",
                   help="on (as the scenario says), off (its plastic projections static), or on,off for both, crossed "
                        "like --N-pop (default on)")
    p.add_argument("--static-synapses", action="store_true", help="the same as --plasticity off")
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
    g = p.add_argument_group("cluster (Dask distributed; docs/cluster.md)",
                             "Each point is still one isolated measured process, started on a worker; its data files "
                             "and log come back to this client with the record, which alone writes the store.")
    g.add_argument("--cluster", metavar="SPEC",
                   help="local[:workers] (processes on this machine), tcp://host:port (a running scheduler), "
                        "slurm[:jobs] (dask-jobqueue) or none (overrides the sweep file's [cluster])")
    g.add_argument("--pack", type=int, metavar="K", help="runs sharing each core (default 1: timed runs never share a core)")
    g.add_argument("--cluster-cores", type=int, metavar="N",
                   help="cores per worker (local) or per Slurm job (Slurm default: your jobqueue config, else a whole node)")
    g.add_argument("--cluster-memory", metavar="SIZE",
                   help="memory per worker (local) or per Slurm job, e.g. 16GiB (Slurm default: as --cluster-cores)")
    g.add_argument("--slurm-queue", metavar="PARTITION")
    g.add_argument("--slurm-account", metavar="ACCOUNT")
    g.add_argument("--slurm-walltime", metavar="HH:MM:SS", help="per job (dask-jobqueue's default otherwise)")
    g.add_argument("--slurm-directive", action="append", metavar="LINE", help="an extra #SBATCH line (repeatable), e.g. '--constraint=cpu'")
    g.add_argument("--cluster-interface", metavar="IFACE", help="network interface for the scheduler and Slurm workers, e.g. ib0")

    p = sub.add_parser("fit", help="cost models per backend and phase, with crossovers")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--scenario", help="the scenario whose runs are fitted (needed when the store holds several)")
    p.add_argument("--phase", help="comma-separated phases (build, compile, sim, write, total, memory)")
    p.add_argument("--predict", action="append", metavar="N[,SIMTIME]", help="predict cost at this size (repeatable)")
    p.add_argument("--include-cold", action="store_true", help="also fit runs whose code cache was cold")
    p.add_argument("--json", action="store_true", help="machine-readable output, each model with its r2")

    p = sub.add_parser("recommend", help="which backend at this size: ranked on the fitted models, with validation")
    p.add_argument("scenario", help="scenario id (as stored in the runs)")
    p.add_argument("--N-pop", dest="N_pop", type=positive_int, metavar="N", help="network size (default: the scenario's)")
    p.add_argument("--simtime", type=positive_float, metavar="MS", help="biological time, ms (default: the scenario's)")
    p.add_argument("--results", default="results", help="results directory whose runs are used (default ./results)")
    p.add_argument("--validations", metavar="PATH",
                   help="validations.jsonl, or a results directory holding one (default: the --results directory's)")
    p.add_argument("--memory", type=positive_float, metavar="GiB", help="memory budget (default: this machine's RAM)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("report", help="a self-contained HTML report of the stored runs")
    p.add_argument("--results", default="results", help="results directory (default ./results)")
    p.add_argument("--out", default="reports/latest", help="output directory (default reports/latest)")
    p.add_argument("--scenario", help="report only this scenario (default: every scenario, with an index page when there are several)")
    p.add_argument("--validations", metavar="PATH",
                   help="validations.jsonl, or a results directory holding one (default: the --results directory's)")
    p.add_argument("--title", help="page title")

    p = sub.add_parser("pointnet", help="a SONATA network run by bmtk's pointnet and by snnbench's backends: rates and verdicts per node type")
    p.add_argument("simulation", help="the SONATA simulation config (its inputs are redrawn per seed, same size and rate)")
    p.add_argument("--backends", default="nest,numba", help="comma-separated backends (default nest,numba)")
    p.add_argument("--seeds", type=positive_int, default=6, help="input seeds, each its own Poisson spike files (default 6)")
    p.add_argument("--simtime", type=positive_float, default=1000.0, metavar="MS")
    p.add_argument("--transient", type=float, default=100.0, metavar="MS", help="left out of the statistics (default 100)")
    p.add_argument("--dt", type=positive_float, default=0.1, metavar="MS", help="for every simulator (default 0.1)")
    p.add_argument("--out", default="results/pointnet", help="folder for the configs, spike files, runs and records")
    p.add_argument("--markdown", action="store_true", help="the rates as a Markdown table")
    p.add_argument("--json", action="store_true", help="verdicts and rates as JSON")

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
