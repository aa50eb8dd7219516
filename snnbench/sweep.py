"""Sweeps: many isolated, measured runs over N_pop, simtime and backends, resumable.

    snnbench sweep vogels-abbott-coba --backends numba,nest --N-pop 500:8000:6 --simtime 250,500,1000 --repeat 3
    snnbench sweep sweeps/va-scaling.toml

`--N-pop start:stop:count` is log-spaced (numpy.geomspace, rounded: scaling studies are read
on log axes); `start:stop:count:lin` is linear; `a,b,c` lists the values. A sweep file (TOML)
describes larger designs: one or more `[[design]]` tables, each with its own scenario, backends,
N_pop, simtime, repeat, threads and options.

Every point is one isolated run (snnbench.runner), so a crash, a hang past `timeout` or an
out-of-memory run is recorded as a failed run and the sweep goes on. Points are run round by
round (every configuration once, then every configuration again...), so that drift of a
shared machine spreads over all backends alike. Re-running the same sweep skips points already
recorded with the same scenario content, overrides, backend version, machine, threads,
connectivity and format (failed points too, unless --retry-failed).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .backends import backend_class
from .provenance import machine
from .runner import RunSpec, run_isolated
from .scenario import Overrides, ScenarioError, load_scenario, resolve
from .scenario.errors import from_validation_error
from .store import ResultStore


def parse_n_pop(spec: str | list[int]) -> list[int]:
    """'500:8000:6' (log-spaced), '500:8000:6:lin', '500,1000' or a list -> sorted unique ints."""
    if isinstance(spec, list):
        values = [int(v) for v in spec]
    elif ":" in spec:
        parts = spec.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("lin", "log")):
            raise ValueError(f"expected start:stop:count[:lin|log], got {spec!r}")
        start, stop, count = float(parts[0]), float(parts[1]), int(parts[2])
        if start <= 0 or stop < start or count < 1:
            raise ValueError(f"expected 0 < start <= stop and count >= 1, got {spec!r}")
        space = np.linspace if len(parts) == 4 and parts[3] == "lin" else np.geomspace
        values = [int(round(v)) for v in space(start, stop, count)]
    else:
        values = [int(v) for v in spec.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise ValueError(f"N_pop values must be >= 1, got {spec!r}")
    return sorted(set(values))


def parse_floats(spec: str | list[float]) -> list[float]:
    values = [float(v) for v in spec] if isinstance(spec, list) else [float(v) for v in spec.split(",") if v.strip()]
    if not values or min(values) <= 0:
        raise ValueError(f"expected positive values, got {spec!r}")
    return sorted(set(values))


class Design(BaseModel):
    """One block of a sweep: the cross product of its backends, N_pop and simtime values."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    backends: list[str] = Field(min_length=1)
    N_pop: Union[str, list[int]]
    simtime: Union[str, list[float], None] = None
    repeat: int = Field(default=3, ge=1)
    threads: int = Field(default=1, ge=1)
    connectivity: Literal["native", "exact"] = "native"
    format: Literal["pickle", "nix", "parquet", "none"] = "parquet"
    timeout: float = Field(default=1800.0, gt=0)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)  # per backend

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

    def spec(self) -> RunSpec:
        return RunSpec(scenario=self.scenario, backend=self.backend, overrides=Overrides(N_pop=self.N_pop, simtime=self.simtime),
                       threads=self.threads, connectivity=self.connectivity, format=self.format, timeout=self.timeout,
                       options=dict(self.options))

    @property
    def label(self) -> str:
        return f"{self.backend} N={self.N_pop} T={self.simtime:g}ms #{self.repeat + 1}"


@dataclass
class Sweep:
    name: str
    designs: list[Design]
    points: list[Point] = field(default_factory=list)


def expand(designs: list[Design], name: str = "") -> Sweep:
    """Every point of every design, ordered round by round (repeat index outermost)."""
    points = []
    for d in designs:
        scenario = load_scenario(d.scenario)
        simtimes = parse_floats(d.simtime) if d.simtime is not None else [scenario.run.simtime]
        for backend in d.backends:  # unknown names and bad options fail here, before anything runs
            backend_class(backend).check_options(d.options.get(backend, {}))
        for rep in range(d.repeat):
            for simtime in simtimes:
                for n in parse_n_pop(d.N_pop):
                    for backend in d.backends:
                        options = tuple(sorted(d.options.get(backend, {}).items()))
                        points.append(Point(d.scenario, backend, n, simtime, rep, d.threads, d.connectivity,
                                            d.format, d.timeout, options))
    for p in points:  # every point must be a valid scenario override (simtime on the dt grid, ...)
        resolve(load_scenario(p.scenario), Overrides(N_pop=p.N_pop, simtime=p.simtime))
    points.sort(key=lambda p: p.repeat)  # stable: round by round
    return Sweep(name=name or "-".join(sorted({d.scenario for d in designs})), designs=designs, points=points)


def load_sweep_file(path: str | Path) -> Sweep:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(path, [("", f"not valid TOML: {exc}")]) from None
    try:
        parsed = SweepFile.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None
    problems = [(f"design[{i}].options.{backend}", problem) for i, d in enumerate(parsed.design)
                for backend, options in d.options.items() for problem in _option_problems(d, backend, options)]
    if problems:
        raise ScenarioError(path, problems)
    return expand(parsed.design, parsed.name or path.stem)


def _option_problems(design: Design, backend: str, options: dict[str, Any]) -> list[str]:
    """A sweep file's options for one backend, checked against that backend's declarations."""
    if backend not in design.backends:
        return [f"options for backend {backend!r}, which this design does not run (backends: {', '.join(design.backends)})"]
    cls = backend_class(backend)
    return [f"{problem} ({cls.describe_options()})" for problem in cls.option_problems(options)]


def _key(record: dict[str, Any]) -> tuple:
    return (record.get("scenario_hash"), record.get("backend"), record.get("backend_version"), record.get("machine_id"),
            record.get("threads"), record.get("connectivity"), record.get("format"),
            tuple(sorted((record.get("overrides") or {}).items())),
            tuple(sorted((k, str(v)) for k, v in (record.get("options") or {}).items())))


def plan(sweep: Sweep, store: ResultStore, retry_failed: bool = False) -> tuple[list[Point], list[Point]]:
    """(points to run, points already recorded) for this machine and these backend versions."""
    counts: dict[tuple, int] = {}
    for r in store.runs():
        if r.get("kind") == "run" and (r.get("status") == "ok" or not retry_failed):
            counts[_key(r)] = counts.get(_key(r), 0) + 1
    mid = machine()["machine_id"]
    hashes: dict[str, str] = {}
    todo, done = [], []
    for p in sweep.points:
        if p.scenario not in hashes:
            hashes[p.scenario] = resolve(load_scenario(p.scenario)).hash
        spec = p.spec()
        key = (hashes[p.scenario], p.backend, backend_class(p.backend).version(), mid, p.threads, p.connectivity, p.format,
               tuple(sorted(spec.overrides.as_dict().items())), tuple(sorted((k, str(v)) for k, v in spec.options.items())))
        if p.repeat < counts.get(key, 0):
            done.append(p)
        else:
            todo.append(p)
    return todo, done


def run_sweep(sweep: Sweep, store: ResultStore, retry_failed: bool = False, show_progress: bool = True) -> dict[str, Any]:
    """Run every point not yet recorded; return counts. Failed runs are recorded and skipped over."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    todo, done = plan(sweep, store, retry_failed)
    outcome = {"name": sweep.name, "points": len(sweep.points), "skipped": len(done), "ok": 0, "failed": 0, "failures": []}
    console = Console(stderr=True)
    if done:
        console.print(f"sweep {sweep.name}: {len(done)} of {len(sweep.points)} points already recorded, {len(todo)} to run")
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, disable=not show_progress, transient=False) as progress:
        task = progress.add_task(sweep.name, total=len(todo))
        for point in todo:
            progress.update(task, description=f"{sweep.name}: {point.label}")
            record = run_isolated(point.spec(), store, repeat={"index": point.repeat},
                                  tags={"sweep": sweep.name})
            if record["status"] == "ok":
                outcome["ok"] += 1
            else:
                outcome["failed"] += 1
                f = record.get("failure") or {}
                outcome["failures"].append(f"{point.label}: [{f.get('kind')}] {f.get('message')}")
                console.print(f"[red]failed[/red] {point.label}: [{f.get('kind')}] {f.get('message')}")
            progress.advance(task)
    return outcome
