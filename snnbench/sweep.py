"""Sweeps: many isolated, measured runs over N_pop, simtime and backends, resumable.

    snnbench sweep vogels-abbott-coba --backends numba,nest --N-pop 500:8000:6 --simtime 250,500,1000 --repeat 3
    snnbench sweep sweeps/va-scaling.toml

`--N-pop start:stop:count` is log-spaced (numpy.geomspace, rounded: scaling studies are read
on log axes); `start:stop:count:lin` is linear; `a,b,c` lists the values. A sweep file (TOML)
describes larger designs: one or more `[[design]]` tables, each with its own scenario, backends,
N_pop, simtime, plasticity, repeat, threads and options. `plasticity = ["on", "off"]` (command
line: `--plasticity on,off`, or `--static-synapses` for "off" alone) crosses like N_pop: "off"
runs the same network with its plastic projections static (`Overrides.plasticity`), so that one
sweep measures both paths side by side and `snnbench fit` can tell plasticity's own cost.

Every point is one isolated run (snnbench.runner), so a crash, a hang past `timeout` or an
out-of-memory run is recorded as a failed run and the sweep goes on. Points are run round by
round (every configuration once, then every configuration again...), so that drift of a
shared machine spreads over all backends alike. Re-running the same sweep skips points already
recorded with the same configuration (`RunRecord.configuration_key`: scenario content,
overrides, backend version, machine, threads, connectivity, format and options); failed
points count as recorded too, unless --retry-failed; a run stopped by Ctrl-C (kind
"interrupted") never does.

Several sweeps may share one store (two shells, two jobs): each point is claimed in the store
(`ResultStore.claim`) before it runs and released after its record is appended, and a point
claimed by another live process is left to it. A point is what the store says it is, machine
included (a timing belongs to its machine), so sweeps on two machines each measure their own
points and contend only where their machine ids agree. `run_point` runs one point (claim, check,
run, record, release): the sweep loop calls it.

With a cluster (`--cluster`, or a `[cluster]` table in the sweep file; snnbench.cluster), the
points run on Dask workers instead, each still one isolated run; the client claims each point
just before submitting it, appends its record as it comes back and releases the claim. A point
then counts as recorded whichever machine measured it (where a point will run is not known in
advance), and its claim is machine-free too.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .backends import backend_class, backend_names
from .cluster import ClusterConfig
from .interrupts import Interrupted
from .provenance import machine
from .record import ConfigurationKey, RunRecord, configuration_key
from .runner import RunSpec, check_memory, run_isolated
from .scenario import Overrides, ScenarioError, find_scenario, load_scenario, resolve
from .scenario.errors import from_validation_error
from .scenario.load import read_text
from .store import ResultStore

MAX_POINTS = 100_000  # a typo such as --repeat 3000000 is refused, not expanded


class SweepInputError(ValueError):
    """A sweep given on the command line that cannot be run; the message names the option."""


def parse_n_pop(spec: str | list[int]) -> list[int]:
    """'500:8000:6' (log-spaced), '500:8000:6:lin', '500,1000' or a list -> sorted unique ints."""
    if isinstance(spec, list):
        values = [int(v) for v in spec]
    elif ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("lin", "log")):
            raise ValueError(f"expected start:stop:count[:lin|log], got {spec!r}")
        try:
            start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"expected numbers in start:stop:count, got {spec!r}") from None
        if not (np.isfinite(start) and np.isfinite(stop)) or start <= 0 or stop < start or not 1 <= count <= 10_000:
            raise ValueError(f"expected finite 0 < start <= stop and 1 <= count <= 10000, got {spec!r}")
        space = np.linspace if len(parts) == 4 and parts[3] == "lin" else np.geomspace
        values = [int(round(v)) for v in space(start, stop, count)]
    else:
        try:
            values = [int(v) for v in spec.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"expected whole numbers a,b,c or start:stop:count, got {spec!r}") from None
    if not values or min(values) < 1:
        raise ValueError(f"N_pop values must be >= 1, got {spec!r}")
    return sorted(set(values))


def parse_floats(spec: str | list[float]) -> list[float]:
    try:
        values = [float(v) for v in spec] if isinstance(spec, list) else [float(v) for v in spec.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"expected comma-separated numbers, got {spec!r}") from None
    if not values or min(values) <= 0 or not all(np.isfinite(values)):
        raise ValueError(f"expected finite positive values, got {spec!r}")
    return sorted(set(values))


class Design(BaseModel):
    """One block of a sweep: the cross product of its backends, N_pop and simtime values."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    scenario: str
    backends: list[str] = Field(min_length=1)
    N_pop: Union[str, list[int]]
    simtime: Union[str, list[float], None] = None
    # "on": as the scenario says; "off": its plastic projections static (--static-synapses)
    plasticity: list[Literal["on", "off"]] = Field(default_factory=lambda: ["on"], min_length=1)
    repeat: int = Field(default=3, ge=1)
    threads: int = Field(default=1, ge=1)
    connectivity: Literal["native", "exact"] = "native"
    format: Literal["pickle", "nix", "parquet", "sonata", "none"] = "parquet"
    timeout: float = Field(default=1800.0, gt=0)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per backend

    @field_validator("backends")
    @classmethod
    def _known_backends(cls, v):
        known = backend_names()
        for name in v:
            if name not in known:
                raise ValueError(f"unknown backend {name!r}; expected one of: {', '.join(known)}")
        return v

    @field_validator("N_pop")
    @classmethod
    def _n_pop(cls, v):
        parse_n_pop(v)
        return v

    @field_validator("simtime")
    @classmethod
    def _simtime(cls, v):
        if v is not None:
            parse_floats(v)
        return v


class SweepFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = ""
    design: list[Design] = Field(min_length=1)
    cluster: ClusterConfig | None = None


@dataclass(frozen=True)
class Point:
    scenario: str
    backend: str
    N_pop: int
    simtime: float
    repeat: int  # index of this repeat, 0-based
    threads: int
    connectivity: str
    format: str
    timeout: float
    options: tuple = ()
    plasticity: str = "on"

    @property
    def overrides(self) -> Overrides:
        return Overrides(N_pop=self.N_pop, simtime=self.simtime, plasticity=self.plasticity)

    def spec(self) -> RunSpec:
        return RunSpec(scenario=self.scenario, backend=self.backend, overrides=self.overrides,
                       threads=self.threads, connectivity=self.connectivity, format=self.format, timeout=self.timeout,
                       options=dict(self.options))

    @property
    def label(self) -> str:
        static = " static synapses" if self.plasticity == "off" else ""
        return f"{self.backend} N={self.N_pop} T={self.simtime:g}ms{static} #{self.repeat + 1}"


@dataclass
class Sweep:
    name: str
    designs: list[Design]
    points: list[Point] = field(default_factory=list)
    cluster: ClusterConfig | None = None  # the sweep file's [cluster] table


_OPTION_OF = {"backends": "--backends", "N_pop": "--N-pop", "simtime": "--simtime", "plasticity": "--plasticity", "repeat": "--repeat",
              "threads": "--threads", "timeout": "--timeout", "connectivity": "--connectivity", "format": "--format"}


def design_from_options(**fields: Any) -> Design:
    """A Design from command-line options; SweepInputError names the option that is wrong."""
    fields["backends"] = [b.strip() for b in str(fields["backends"]).split(",")]
    try:
        return Design(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        option = _OPTION_OF.get(str(err["loc"][0]), str(err["loc"][0])) if err["loc"] else "sweep"
        msg = err["msg"].removeprefix("Value error, ")
        raise SweepInputError(f"{option}: {msg}") from None


def expand(designs: list[Design], name: str = "") -> Sweep:
    """Every point of every design, ordered round by round (repeat index outermost)."""
    points = []
    total = 0
    for d in designs:
        n_simtimes = len(parse_floats(d.simtime)) if d.simtime is not None else 1
        total += d.repeat * n_simtimes * len(parse_n_pop(d.N_pop)) * len(d.backends) * len(set(d.plasticity))
    if total > MAX_POINTS:
        raise ScenarioError(name or "sweep", [("", f"{total:,} points; a sweep of more than {MAX_POINTS:,} is refused")])
    for d in designs:
        scenario = load_scenario(d.scenario)
        simtimes = parse_floats(d.simtime) if d.simtime is not None else [scenario.run.simtime]
        for backend in d.backends:  # unknown names and bad options fail here, before anything runs
            backend_class(backend).check_options(d.options.get(backend, {}))
        for rep in range(d.repeat):
            for simtime in simtimes:
                for n in parse_n_pop(d.N_pop):
                    for plasticity in dict.fromkeys(d.plasticity):  # the file's order, each once
                        for backend in d.backends:
                            options = tuple(sorted(d.options.get(backend, {}).items()))
                            points.append(Point(d.scenario, backend, n, simtime, rep, d.threads, d.connectivity,
                                                d.format, d.timeout, options, plasticity))
    for p in points:  # every point must be a valid scenario override (simtime on the dt grid, plasticity off...)
        resolve(load_scenario(p.scenario), p.overrides)
    points.sort(key=lambda p: p.repeat)  # stable: round by round
    return Sweep(name=name or "-".join(sorted({d.scenario for d in designs})), designs=designs, points=points)


def load_sweep_file(path: str | Path) -> Sweep:
    path = find_scenario(path)  # an existing file (or a ScenarioError naming it)
    try:
        data = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [("", f"not valid TOML: {exc}")]) from None
    except RecursionError:
        raise ScenarioError(path, [("", "not usable TOML: nested too deeply")]) from None
    try:
        parsed = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None
    problems = [(f"design[{i}].options.{backend}", problem) for i, d in enumerate(parsed.design)
                for backend, options in d.options.items() for problem in _option_problems(d, backend, options)]
    if problems:
        raise ScenarioError(path, problems)
    sweep = expand(parsed.design, parsed.name or path.stem)
    sweep.cluster = parsed.cluster
    return sweep


def _option_problems(design: Design, backend: str, options: dict[str, Any]) -> list[str]:
    """A sweep file's options for one backend, checked against that backend's declarations."""
    if backend not in design.backends:
        return [f"options for backend {backend!r}, which this design does not run (backends: {', '.join(design.backends)})"]
    cls = backend_class(backend)
    return [f"{problem} ({cls.describe_options()})" for problem in cls.option_problems(options)]


def _counts_as_done(record: RunRecord, retry_failed: bool) -> bool:
    """A record that makes its point done: ok, or failed unless retried; never an interrupted run."""
    if record.kind != "run":
        return False
    if record.ok:
        return True
    return not retry_failed and record.failure_kind != "interrupted"


def point_key(point: Point, scenario_hash: str | None = None, machine_id: str | None = None) -> ConfigurationKey:
    """The configuration a point will run (`RunRecord.configuration_key` of its records, seed included)."""
    spec = point.spec()
    return configuration_key(
        scenario_hash=scenario_hash or resolve(load_scenario(point.scenario)).hash, overrides=spec.overrides.as_dict(),
        backend=point.backend, backend_version=backend_class(point.backend).version(),
        machine_id=machine_id or machine()["machine_id"], threads=point.threads, connectivity=point.connectivity,
        format=point.format, options=spec.options)


def claim_key(point: Point, key: ConfigurationKey | None = None) -> str:
    """The string a point is claimed under: its configuration and its repeat index."""
    return f"{key or point_key(point)}#{point.repeat}"


def _machine_free(key: ConfigurationKey) -> ConfigurationKey:
    """A configuration without its machine: cluster sweeps match records of any machine."""
    return dataclasses.replace(key, machine_id="any machine")


def _same(key: ConfigurationKey) -> ConfigurationKey:
    return key


def plan(sweep: Sweep, store: ResultStore, retry_failed: bool = False,
         any_machine: bool = False) -> tuple[list[Point], list[Point]]:
    """(points to run, points already recorded) for this machine (or any: cluster sweeps) and these backend versions.

    A configuration with n records has n of its repeats done: first those whose repeat index is
    recorded (a cluster completes points out of order), then the lowest others.
    """
    which = _machine_free if any_machine else _same
    counts: dict[ConfigurationKey, int] = {}
    indices: dict[ConfigurationKey, set] = {}
    for r in store.runs():
        if _counts_as_done(r, retry_failed):
            key = which(r.configuration_key())
            counts[key] = counts.get(key, 0) + 1
            indices.setdefault(key, set()).add(r.repeat.index if r.repeat is not None else None)
    mid = machine()["machine_id"]
    hashes: dict[str, str] = {}
    groups: dict[ConfigurationKey, list[Point]] = {}
    for p in sweep.points:
        if p.scenario not in hashes:
            hashes[p.scenario] = resolve(load_scenario(p.scenario)).hash
        groups.setdefault(which(point_key(p, hashes[p.scenario], mid)), []).append(p)
    recorded: set[int] = set()
    for key, points in groups.items():
        first = sorted(points, key=lambda p: (p.repeat not in indices.get(key, ()), p.repeat))
        recorded.update(id(p) for p in first[:counts.get(key, 0)])
    todo = [p for p in sweep.points if id(p) not in recorded]
    done = [p for p in sweep.points if id(p) in recorded]
    return todo, done


def _already_recorded(store: ResultStore, point: Point, key: ConfigurationKey, retry_failed: bool,
                      any_machine: bool = False) -> bool:
    """Whether this repeat of the point has a record (another sweep may have made it meanwhile)."""
    which = _machine_free if any_machine else _same
    return any(r.repeat is not None and r.repeat.index == point.repeat and _counts_as_done(r, retry_failed)
               and which(r.configuration_key()) == which(key) for r in store.runs())


def run_point(point: Point, store: ResultStore, sweep_name: str, retry_failed: bool = False,
              force: bool = False) -> RunRecord | None:
    """Run one point of a sweep and append its record; None if it is not this process's to run.

    The point is claimed first (None: another live sweep holds it), then checked against the
    store again (None: it was recorded since it was planned), then run as an isolated run,
    recorded, and the claim released. A claim whose owner dies is taken over by the next sweep.
    """
    key = point_key(point)
    claim = store.claim(claim_key(point, key))
    if claim is None:
        return None
    with claim:
        if _already_recorded(store, point, key, retry_failed):
            return None
        spec = point.spec()
        spec.force = force
        return run_isolated(spec, store, repeat={"index": point.repeat}, tags={"sweep": sweep_name})


def claim_for_cluster(store: ResultStore, retry_failed: bool = False):
    """The cluster path's `acquire`: claim a point (machine-free) before it is submitted; its release, or None."""
    def acquire(point: Point):
        key = _machine_free(point_key(point))
        claim = store.claim(claim_key(point, key))
        if claim is None:
            return None
        if _already_recorded(store, point, key, retry_failed, any_machine=True):
            claim.release()
            return None
        return claim.release
    return acquire


def check_sweep_memory(points: list[Point]) -> None:
    """Refuse the sweep before anything runs if one of its points cannot fit (runner.check_memory)."""
    seen = set()
    for p in points:
        if (p.scenario, p.N_pop, p.simtime, p.plasticity) in seen:
            continue
        seen.add((p.scenario, p.N_pop, p.simtime, p.plasticity))
        check_memory(resolve(load_scenario(p.scenario), p.overrides), None)


def run_sweep(sweep: Sweep, store: ResultStore, retry_failed: bool = False, show_progress: bool = True,
              force: bool = False, cluster: ClusterConfig | None = None) -> dict[str, Any]:
    """Run every point not yet recorded; return counts. Failed runs are recorded and skipped over.

    `cluster`: run the points on Dask (snnbench.cluster); None runs them here, one after another.
    The sweep file's own table is `sweep.cluster`; the command line passes it (or overrides it).

    Interrupted (Ctrl-C, SIGTERM) propagates with a note of the points done; those stay done and
    the same command resumes with the rest.
    """
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    todo, done = plan(sweep, store, retry_failed, any_machine=cluster is not None)
    if not force:
        check_sweep_memory(todo)
    outcome = {"name": sweep.name, "points": len(sweep.points), "skipped": len(done), "ok": 0, "failed": 0,
               "claimed_elsewhere": 0, "failures": []}
    console = Console(stderr=True)
    if done:
        console.print(f"sweep {sweep.name}: {len(done)} of {len(sweep.points)} points already recorded, {len(todo)} to run")
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=not show_progress, transient=False) as progress:
        task = progress.add_task(sweep.name, total=len(todo))

        def recorded(point: Point, record: RunRecord | None) -> None:
            if record is None:
                outcome["claimed_elsewhere"] += 1
            elif record.ok:
                outcome["ok"] += 1
            else:
                outcome["failed"] += 1
                f = record.failure
                why = f"[{f.kind}] {f.message}" if f else "[?] no failure recorded"
                outcome["failures"].append(f"{point.label}: {why}")
                console.print(f"[red]failed[/red] {point.label}: {why}")
            progress.advance(task)

        if cluster is not None:  # Dask workers run the points; records stream back in completion order
            from .cluster import run_points

            progress.update(task, description=f"{sweep.name} on {cluster.spec}")
            try:
                run_points(todo, store, sweep.name, cluster, recorded, say=console.print, force=force,
                           acquire=claim_for_cluster(store, retry_failed), on_skipped=lambda p: recorded(p, None))
            except Interrupted as exc:
                finished = outcome["ok"] + outcome["failed"]
                exc.add_detail(f"sweep {sweep.name}: {finished} points recorded now, {len(done)} before; the points in "
                               "flight on the cluster were dropped (the same command resumes)")
                raise
            return outcome
        for point in todo:
            progress.update(task, description=f"{sweep.name}: {point.label}")
            try:
                recorded(point, run_point(point, store, sweep.name, retry_failed, force))
            except Interrupted as exc:
                finished = outcome["ok"] + outcome["failed"]
                exc.add_detail(f"sweep {sweep.name}: {finished} points run now, {len(done)} before, "
                               f"{len(todo) - finished} left (the same command resumes)")
                raise
    return outcome
