"""The run record: one typed definition of what a measured run stores, and of "the same configuration".

A run record is one line of `runs.jsonl` (see `snnbench.store`). It is built in one place,
`RunRecord.assemble` (the parent's header + the child's `ChildResult` + what the parent watched),
read back by `snnbench.store` through the same model, and read by every tool (table, fit,
report, sweep resume, validation reuse) through its attributes.

Schema versions (the `schema` field; a record without one is version 1):

- 1: records written before this module: a dict built in the runner, the worker and the
  summary; fields absent when a run failed early. They load unchanged.
- 2: written through `RunRecord`: the same field names, every declared field present (null
  when it does not apply).

Field names on disk never change between versions, so tools that read the JSON keep working.
Unknown fields are kept (a newer snnbench, another branch's additions) and written back as they
were. Numbers are strict ("1.5" is not a number): a line whose fields have the wrong type is
skipped by the store's readers with a warning, never half-read.

For callers written against the dict records, every model here also answers `record["name"]`,
`record.get("name")` and `"name" in record` with the JSON field names.

"The same configuration" (`RunRecord.configuration_key`): two runs measure the same thing when
they ran the same scenario content (`scenario_hash`: the validated scenario, not its file
name) with the same overrides, on the same backend at the same version, on the same machine,
with the same threads, connectivity mode, data format and backend options (the `asv` marker of
older records is a tag, not an option). The repeat index and the run's time are never part
of it: repeats are measurements of one configuration. Per use:

- sweep resume and claims, validation reuse: the whole key (the seed, an override, included:
  another seed is another network); a sweep point adds its repeat index to claim one repeat;
- table and report rows: the whole key (rows are repeats of one configuration);
- fit: the key without the size and the seed (`size=False, seed=False`): a cost model spans
  N_pop and simtime (its variables) and pools seeds as repeats. The plasticity override stays in
  every key: a run with its plastic projections static (`--static-synapses`) is a configuration
  of its own, never pooled with the plastic one; `snnbench.fit.plasticity_models` fits the two
  together on purpose (`plastic_twin`).
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from typing import Annotated, Any, Iterable, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

SCHEMA_VERSION = 2

Number = Union[int, float]
Positive = Annotated[Number, Field(gt=0)]
NonNegative = Annotated[Number, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]

# Overrides that set the size of a run (the variables of a cost model), and the seed.
SIZE_OVERRIDES = ("N_pop", "scale", "simtime")
SEED_OVERRIDES = ("seed",)
# Options that are markers of older records, not backend options (asv's is a tag now).
MARKER_OPTIONS = ("asv",)


class RecordPart(BaseModel):
    """A part of a record: strict types, unknown fields kept, and read-only dict-style access."""

    model_config = ConfigDict(extra="allow", strict=True)

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        extra = self.model_extra or {}
        if key in extra:
            return extra[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self.model_fields_set or key in (self.model_extra or {})

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the field names on disk): the fields that were given, as they were given."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Phase(RecordPart):
    """One measured phase (import, compile, realise, build, sim, collect, write)."""

    wall_s: NonNegative
    cpu_s: Optional[Number] = None
    peak_rss_bytes: Optional[NonNegative] = None
    children_peak_rss_bytes: Optional[NonNegative] = None
    stages: Optional[dict[str, Any]] = None  # the simulator's own timers inside the phase

    @property
    def peak_bytes(self) -> float:
        """This process's peak and its children's (compilers, a standalone binary)."""
        return (self.peak_rss_bytes or 0) + (self.children_peak_rss_bytes or 0)


class Failure(RecordPart):
    kind: Optional[str] = None  # exception, crash, timeout, oom, unsupported, unavailable, interrupted
    message: Optional[str] = None
    phase: Optional[str] = None  # the phase it happened in
    log_tail: Optional[str] = None
    traceback: Optional[str] = None


class Resolved(RecordPart):
    """The run settings after overrides and scaling."""

    N_pop: Annotated[int, Field(gt=0)]
    simtime: Positive
    transient: Optional[Number] = None
    dt: Optional[Number] = None
    scale: Optional[Number] = None
    seed: Optional[int] = None
    cut: Optional[str] = None  # how a SONATA circuit was sliced (--slice), with the sizes before and after
    # "on" or "off" (--static-synapses) where the scenario has plastic projections; absent otherwise
    plasticity: Optional[str] = None


class PopulationResult(RecordPart):
    cell_type: str
    size: Count
    spikes: NonNegative
    recorded: Count
    rate_hz: Optional[Number] = None  # None: no spikes came back (e.g. a virtual SpiNNaker board)
    rate_hz_after_transient: Optional[Number] = None

    @property
    def is_source(self) -> bool:
        return self.cell_type.startswith("SpikeSource")

    @property
    def estimated_spikes(self) -> float:
        """Spikes of the whole population (counts of a partly recorded one scaled up)."""
        return self.spikes * (self.size / self.recorded) if self.recorded else 0.0


class Data(RecordPart):
    format: str
    files: list[str]


class Repeat(RecordPart):
    index: Optional[int] = None
    group: Optional[str] = None
    of: Optional[int] = None


class Figures(RecordPart):
    """What `snnbench.summary.summarise` measures of a successful run's output."""

    neurons: Optional[int] = None
    sources: Optional[int] = None
    synapses: Optional[NonNegative] = None
    synapses_per_projection: Optional[dict[str, Any]] = None
    populations: Optional[dict[str, PopulationResult]] = None
    synaptic_events: Optional[Number] = None
    # the synaptic events of plastic projections alone (0 with none, or with plasticity off); absent
    # from records written before it existed
    plastic_synaptic_events: Optional[Number] = None
    resolved: Optional[Resolved] = None
    weights: Optional[dict[str, Any]] = None  # plastic projections' recorded weights: mean, min, max per time


def _every_field(model: BaseModel) -> dict[str, Any]:
    """The JSON form: every declared field (null where it does not apply); its parts as given."""
    given = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    every = model.model_dump(mode="json", by_alias=True)
    return {key: given.get(key, value) for key, value in every.items()}


class ChildResult(Figures):
    """What the worker process reports (written as JSON, read back by the runner)."""

    def to_dict(self) -> dict[str, Any]:
        return _every_field(self)

    status: Literal["ok", "failed"] = "failed"
    failure: Optional[Failure] = None
    phases: dict[str, Phase] = Field(default_factory=dict)
    translations: list[dict[str, Any]] = Field(default_factory=list)
    backend_info: dict[str, Any] = Field(default_factory=dict)
    estimates: Optional[dict[str, Any]] = None
    validation: Optional[dict[str, Any]] = None
    provenance: Optional[dict[str, Any]] = None
    data: Optional[Data] = None


@dataclass(frozen=True, order=True)
class ConfigurationKey:
    """What makes two runs measurements of the same thing (see the module's docstring)."""

    scenario_hash: str
    overrides: tuple[tuple[str, str], ...]
    backend: str
    backend_version: str
    machine_id: str
    threads: int
    connectivity: str
    format: str
    options: tuple[tuple[str, str], ...]

    def __str__(self) -> str:
        """A stable text form (claim files are named by it)."""
        return json.dumps([self.scenario_hash, self.overrides, self.backend, self.backend_version, self.machine_id,
                           self.threads, self.connectivity, self.format, self.options], separators=(",", ":"))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def configuration_key(*, scenario_hash: str | None, overrides: dict[str, Any] | None, backend: str,
                      backend_version: str | None, machine_id: str | None, threads: int | None,
                      connectivity: str | None, format: str | None, options: dict[str, Any] | None,
                      size: bool = True, seed: bool = True) -> ConfigurationKey:
    """The key from its parts (a sweep point has no record yet: it asks with what it will run).

    `size=False` leaves out N_pop, scale and simtime, `seed=False` the seed (fit pools them).
    Values are compared as text (JSON), so 1 and 1.0 differ only where JSON does.
    """
    left_out = (() if size else SIZE_OVERRIDES) + (() if seed else SEED_OVERRIDES)
    return ConfigurationKey(
        scenario_hash=scenario_hash or "",
        overrides=tuple(sorted((k, _text(v)) for k, v in (overrides or {}).items() if k not in left_out and v is not None)),
        backend=backend,
        backend_version=backend_version or "",
        machine_id=machine_id or "",
        threads=threads if threads is not None else 1,
        connectivity=connectivity or "native",
        format=format or "-",
        options=tuple(sorted((k, _text(v)) for k, v in (options or {}).items() if k not in MARKER_OPTIONS)),
    )


class RunRecord(RecordPart):
    """One measured run, ok or failed: a line of runs.jsonl."""

    schema_: int = Field(default=1, alias="schema")  # absent: a version-1 record
    kind: Literal["run"] = "run"
    run_id: str
    timestamp: str
    status: str
    scenario: str
    backend: str
    phases: dict[str, Phase]
    scenario_title: Optional[str] = None
    scenario_file: Optional[str] = None
    scenario_hash: Optional[str] = None
    overrides: Optional[dict[str, Any]] = None
    backend_version: Optional[str] = None
    connectivity: Optional[str] = None
    threads: Optional[int] = None
    format: Optional[str] = None
    options: Optional[dict[str, Any]] = None
    timeout_s: Optional[Number] = None
    repeat: Optional[Repeat] = None
    tags: Optional[dict[str, Any]] = None
    failure: Optional[Failure] = None
    translations: Optional[list[dict[str, Any]]] = None
    backend_info: Optional[dict[str, Any]] = None
    estimates: Optional[dict[str, Any]] = None
    validation: Optional[dict[str, Any]] = None
    provenance: Optional[dict[str, Any]] = None
    data: Optional[Data] = None
    # the figures of a successful run (snnbench.summary)
    neurons: Optional[int] = None
    sources: Optional[int] = None
    synapses: Optional[NonNegative] = None
    synapses_per_projection: Optional[dict[str, Any]] = None
    populations: Optional[dict[str, PopulationResult]] = None
    synaptic_events: Optional[Number] = None
    plastic_synaptic_events: Optional[Number] = None
    resolved: Optional[Resolved] = None
    weights: Optional[dict[str, Any]] = None
    # what the parent measured and derived
    realtime_factor: Optional[Number] = None
    process_tree_peak_rss_bytes: Optional[NonNegative] = None
    peak_rss_bytes: Optional[NonNegative] = None
    machine_id: Optional[str] = None
    log: Optional[str] = None

    model_config = ConfigDict(extra="allow", strict=True, populate_by_name=True)

    def __getitem__(self, key: str) -> Any:
        return self.schema_ if key == "schema" else super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        return ("schema_" in self.model_fields_set) if key == "schema" else super().__contains__(key)

    @model_validator(mode="after")
    def _ok_runs_have_their_figures(self) -> RunRecord:
        if self.status == "ok":
            missing = [name for name in ("resolved", "populations", "synapses", "peak_rss_bytes") if getattr(self, name) is None]
            if missing:
                raise ValueError(f"a successful run without {', '.join(missing)}")
        return self

    # -------------------------------------------------------------- reading

    @classmethod
    def from_json(cls, value: dict[str, Any] | RunRecord) -> RunRecord:
        """A record from its JSON form (pydantic.ValidationError if a field has the wrong type)."""
        return value if isinstance(value, RunRecord) else cls.model_validate(value)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def failure_kind(self) -> str | None:
        return self.failure.kind if self.failure else None

    @property
    def cell_populations(self) -> dict[str, PopulationResult]:
        """The populations of neurons (spike sources left out)."""
        return {n: p for n, p in (self.populations or {}).items() if not p.is_source}

    @property
    def N_pop(self) -> int | None:
        return self.resolved.N_pop if self.resolved else None

    @property
    def static_synapses(self) -> bool:
        """Whether the run made the scenario's plastic projections static (--static-synapses)."""
        return (self.overrides or {}).get("plasticity") == "off"

    @property
    def simtime(self) -> float | None:
        return self.resolved.simtime if self.resolved else None

    @property
    def data_format(self) -> str:
        return (self.data.format if self.data else None) or self.format or "-"

    @property
    def data_files(self) -> list[str]:
        return list(self.data.files) if self.data else []

    def wall_s(self, phase: str) -> float | None:
        """Wall time of a phase; None if the run did not have it."""
        p = self.phases.get(phase)
        return p.wall_s if p is not None else None

    def rate_hz(self, population: str) -> float | None:
        p = (self.populations or {}).get(population)
        return p.rate_hz if p is not None else None

    def option_items(self) -> dict[str, Any]:
        """The backend options (older records' markers such as asv left out)."""
        return {k: v for k, v in (self.options or {}).items() if k not in MARKER_OPTIONS}

    def configuration_key(self, *, size: bool = True, seed: bool = True) -> ConfigurationKey:
        return configuration_key(
            scenario_hash=self.scenario_hash, overrides=self.overrides, backend=self.backend,
            backend_version=self.backend_version, machine_id=self.machine_id, threads=self.threads,
            connectivity=self.connectivity, format=self.format or self.data_format,
            options=self.options, size=size, seed=seed)

    def to_dict(self) -> dict[str, Any]:
        return _every_field(self)

    # -------------------------------------------------------------- building

    @classmethod
    def assemble(cls, header: dict[str, Any], child: ChildResult, *, tree_peak_rss_bytes: float | None,
                 log: str | None, simtime_ms: float) -> RunRecord:
        """The one place a record is put together: the parent's header (what was asked), the
        child's result, and what the parent saw (peak memory of the process tree, the log)."""
        fields = dict(header)
        fields.update({name: getattr(child, name) for name in type(child).model_fields})
        fields["schema"] = SCHEMA_VERSION
        fields["process_tree_peak_rss_bytes"] = tree_peak_rss_bytes
        fields["log"] = log
        fields["peak_rss_bytes"] = max((p.peak_bytes for p in child.phases.values()), default=0)
        sim = child.phases.get("sim")
        fields["realtime_factor"] = sim.wall_s / (simtime_ms / 1000.0) if child.status == "ok" and sim is not None else None
        fields["machine_id"] = ((child.provenance or {}).get("machine") or {}).get("machine_id")
        return cls.model_validate(fields, strict=False)


def new_timestamp() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------ validation records


class ExactCell(RecordPart):
    population: str
    index: int
    spikes_x: int
    spikes_y: int
    passed: bool


class Statistic(RecordPart):
    population: str
    statistic: str
    d_xy_mean: Number
    limit: Number
    passed: bool


class ProjectionStatistic(RecordPart):
    projection: str
    statistic: str
    d_xy_mean: Number
    limit: Number
    passed: bool


class RateComparison(RecordPart):
    population: str
    mean_x: Number
    mean_y: Number
    passed: bool


class Statistical(RecordPart):
    statistics: list[Statistic]
    rates: list[RateComparison]
    projections: list[ProjectionStatistic] = []  # plastic projections' final weights (records since 2026-12-03)
    candidate_seeds: Optional[int] = None
    reference_seeds: Optional[int] = None
    notes: list[str] = []


class Exact(RecordPart):
    cells: list[ExactCell]


class ValidationRecord(RecordPart):
    """One `snnbench validate` outcome: a line of validations.jsonl."""

    kind: Literal["validation"]
    scenario: str
    candidate: str
    reference: str
    candidate_version: Optional[str] = None
    reference_version: Optional[str] = None
    tier: Literal["exact", "statistical"]
    passed: bool
    verdict: str
    timestamp: str
    statistical: Optional[Statistical] = None
    exact: Optional[Exact] = None


def describe_problem(exc: ValidationError) -> str:
    """The first problem of a validation error as 'field.path: what is wrong'."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in ("int", "float"))))
    return f"{where or 'record'}: {err['msg']}"


def as_run_records(records: Iterable[dict[str, Any] | RunRecord]) -> list[RunRecord]:
    """Records as RunRecords (dicts validated; a dict with a wrong shape raises ValidationError)."""
    return [RunRecord.from_json(r) for r in records]


def is_static(key: ConfigurationKey) -> bool:
    """Whether a configuration ran with plasticity off (--static-synapses)."""
    return ("plasticity", "off") in key.overrides


def plastic_twin(key: ConfigurationKey) -> ConfigurationKey:
    """The configuration with the scenario's plasticity on: `key` without its plasticity override."""
    import dataclasses

    return dataclasses.replace(key, overrides=tuple(kv for kv in key.overrides if kv[0] != "plasticity"))


def configuration_labels(records: Iterable[RunRecord], *, size: bool = False, seed: bool = False) -> dict[ConfigurationKey, str]:
    """A short readable name for each configuration among `records`.

    The backend, `@Nt` for threads other than 1, `[k=v]` for its options, ` exact` for exact
    connectivity, ` static synapses` for a run with plasticity off (never mistaken for the plastic
    network it was made from); where two configurations would read the same, what tells them apart is added
    (backend version, data format, machine, scenario, overrides).
    """
    keys = sorted({r.configuration_key(size=size, seed=seed) for r in records})
    base = {}
    for k in keys:
        label = k.backend
        if k.threads != 1:
            label += f"@{k.threads}t"
        if k.options:
            label += "[" + ",".join(f"{name}={value}" for name, value in k.options) + "]"
        if k.connectivity != "native":
            label += f" {k.connectivity}"
        if is_static(k):
            label += " static synapses"
        base[k] = label
    labels = dict(base)
    for extra in ("backend_version", "format", "machine_id", "scenario_hash", "overrides"):
        clashes: dict[str, list[ConfigurationKey]] = {}
        for k, label in labels.items():
            clashes.setdefault(label, []).append(k)
        for label, ks in clashes.items():
            if len(ks) > 1 and len({getattr(k, extra) for k in ks}) > 1:
                for k in ks:
                    value = getattr(k, extra)
                    text = ",".join(f"{n}={v}" for n, v in value) if extra == "overrides" else str(value)
                    labels[k] = f"{label} ({text})" if extra != "backend_version" else f"{label} {text}"
    return labels


__all__ = [
    "SCHEMA_VERSION", "RecordPart", "Phase", "Failure", "Resolved", "PopulationResult", "Data", "Repeat", "Figures",
    "ChildResult", "RunRecord", "ConfigurationKey", "configuration_key", "configuration_labels", "as_run_records",
    "is_static", "plastic_twin",
    "ValidationRecord", "ValidationError", "describe_problem", "new_timestamp",
]
