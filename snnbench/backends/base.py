"""The backend adapter contract.

A backend translates a resolved scenario into one simulator. The runner calls, each phase
timed and measured in a fresh child process:

    load()                         import the simulator                       phase "import"
    compile(resolved)              JIT / code generation, where there is any  phase "compile"
    build(resolved, mode, network) create cells, sources, connections         phase "build"
    run()                          simulate resolved.simtime                  phase "sim"
    collect() -> SimulationOutput  spikes and v as arrays                     phase "collect"
    write_native(fmt, stem, ...)   the simulator's own writer, if it has one  phase "write"

A backend whose code generation needs the built network (Brian2, GeNN) sets
`compile_after_build = True`: its compile phase then runs between build and sim. A backend
that writes some formats through its own API (PyNN's `write_data`) returns the files from
`write_native`; otherwise (None) snnbench's writers write the collected arrays.

Three optional outputs, each copied into the run record by the worker only when set:
`phase_stages` (record["phases"][phase]["stages"]: sub-phases the simulator measures itself,
e.g. sPyNNaker's Mapping/Loading/Running stages inside "sim", in seconds), `estimates`
(record["estimates"]: figures that could not be measured here, each labelled as a model's
estimate, never stored as phases) and `validation` (record["validation"] = {"possible": False,
"why": ...} when a run's output cannot be validated). `validation_possible(options)` says the
same before anything runs, so that `snnbench validate` refuses with the reason.

Options. A backend declares the options it reads (`accepted_options`: name, type, default, doc,
allowed values); `check_options()` validates a run's options against them in the parent, before
any run starts (`snnbench run/validate/sweep`, the asv suites), from the class alone, so a
backend whose simulator is not installed validates its options too. `option(name)` reads one,
falling back to its declared default. A backend reads no option it does not declare.

Registry facts are class attributes too: `name`, `packages` (reported in every run's
provenance) and `runs_on` (CPU, GPU, board); `snnbench.backends` registers each class once.

`available()` and `supports()` say, before anything runs, whether the backend can run a
scenario and why not. Every change the backend makes to the model on its way to the simulator
(dt rounded, delays put on a grid, a model substituted) is recorded with `translate()` (into the
run's `Translations` log, common/translations.py) and lands in the run record; a backend never
changes the model silently.

Most adapters do not write build() and collect() themselves: `common.template.SimulatorBackend`
walks the scenario, takes the decisions every adapter shares and calls small per-simulator hooks.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..output import SimulationOutput
from ..scenario.model import (
    AllToAll,
    DistanceDelay,
    FixedInDegree,
    FixedProbability,
    FixedTotalNumber,
    FromList,
    GaussianInDegree,
    OneToOne,
    SonataEdges,
)
from ..scenario.realise import Network, ProjectionArrays, array_multiplicity, spikes_per_step
from ..scenario.resolve import ResolvedScenario
from .common import translations as shared
from .common.translations import Translations

CONNECTIVITY_MODES = ("native", "exact")
ALL_CONNECTORS = (FixedProbability, FixedInDegree, FixedTotalNumber, GaussianInDegree, OneToOne, AllToAll, FromList,
                  SonataEdges)
# Connectors whose edges are given, not drawn: always built from the harness's arrays, in both modes.
GIVEN_CONNECTORS = (FromList, SonataEdges)
NATIVE_CONNECTORS = (FixedProbability, FixedInDegree, FixedTotalNumber, OneToOne, AllToAll)


class BackendUnavailable(RuntimeError):
    """The backend's package is missing or cannot run here; the message says why."""


class OptionError(ValueError):
    """A run's backend options do not match the backend's declarations (bad input: exit 2)."""


RUNS_ON = ("CPU", "GPU", "board")  # where a backend's simulation runs (`Backend.runs_on`)
_OPTION_TYPES = {bool: "bool", int: "int", float: "float", str: "str"}


@dataclass(frozen=True)
class Option:
    """One option a backend reads: `snnbench run --option NAME=VALUE`, a sweep file's
    `options.<backend>`, `RunSpec.options`. `default` None means the backend derives it (the doc
    says how). Options are scalars (bool, int, float, str) with at most a set of choices or a
    minimum, so the checks are written out here: each message has to fit snnbench's one-line form.
    """

    name: str
    type: type  # bool, int, float or str
    default: Any
    doc: str
    choices: tuple = ()  # the allowed values, when there is a fixed set
    minimum: float | None = None

    def __post_init__(self):
        if self.type not in _OPTION_TYPES:
            raise TypeError(f"option {self.name}: type must be one of bool, int, float, str, not {self.type!r}")

    def describe(self) -> str:
        """`cache (str: warm|cold, default warm)`: the option's name, type and default on one line."""
        kind = _OPTION_TYPES[self.type]
        if self.choices:
            kind += ": " + "|".join(str(c) for c in self.choices)
        elif self.minimum is not None:
            kind += f" >= {self.minimum:g}"
        default = "" if self.default is None else f", default {self.default}"
        return f"{self.name} ({kind}{default})"

    def problem(self, value: Any) -> str | None:
        """Why `value` is not acceptable for this option; None when it is."""
        ok_types = (int, float) if self.type is float else (self.type,)
        if (isinstance(value, bool) and self.type is not bool) or not isinstance(value, ok_types):
            return f"option {self.name}={value!r}: expected {_OPTION_TYPES[self.type]}"
        if self.choices and value not in self.choices:
            return f"option {self.name}={value!r}: expected one of {', '.join(str(c) for c in self.choices)}"
        if self.minimum is not None and value < self.minimum:
            return f"option {self.name}={value!r}: expected a value >= {self.minimum:g}"
        return None

    def parse(self, text: str) -> Any:
        """The value of `--option NAME=TEXT`, read as this option's type (unparseable text is
        returned as it is, for `problem()` to name)."""
        if self.type is str:
            return text
        if self.type is bool:
            return {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}.get(text.lower(), text)
        try:
            return self.type(text)
        except ValueError:
            return text


class Backend(ABC):
    name: ClassVar[str]
    title: ClassVar[str]
    distribution: ClassVar[str]  # the PyPI distribution whose version is reported
    module: ClassVar[str]  # the module whose presence makes the backend available
    install_hint: ClassVar[str] = "run the README's install command (bash install.sh)"
    where: ClassVar[str] = "CPU"  # in words, for `snnbench list`
    runs_on: ClassVar[tuple[str, ...]] = ("CPU",)  # of RUNS_ON: where the simulation runs
    # PyPI distributions reported with every run of this backend (provenance); default: `distribution`.
    packages: ClassVar[tuple[str, ...]] = ()
    # The options this backend reads (validated before any run; `snnbench list --options`).
    accepted_options: ClassVar[tuple[Option, ...]] = ()
    cell_types: ClassVar[tuple[str, ...]] = ("IF_cond_exp", "IF_curr_exp")
    # Why each PyNN cell type the backend does not declare cannot be run (what the simulator lacks):
    # the reason `supports()` gives with the refusal.
    cell_type_refusals: ClassVar[dict[str, str]] = {}
    source_types: ClassVar[tuple[str, ...]] = ("SpikeSourcePoisson", "SpikeSourceArray")
    connectors: ClassVar[tuple[type, ...]] = ALL_CONNECTORS
    # Connectors the simulator draws itself in native mode; the others (and distance-dependent
    # delays, unless `native_distance_delays`) are built from the harness's realised arrays.
    native_connectors: ClassVar[tuple[type, ...]] = NATIVE_CONNECTORS
    native_distance_delays: ClassVar[bool] = False
    connectivity_modes: ClassVar[tuple[str, ...]] = CONNECTIVITY_MODES
    # Whether a source may deliver several spikes in one step (a SpikeSourcePoisson with
    # rate x dt > 1, NEST's poisson_generator semantics); False: such a scenario is refused.
    source_multiplicity: ClassVar[bool] = False
    one_spike_per_step: ClassVar[str] = "delivers at most one spike per source and step"  # why not, in the refusal
    max_threads: ClassVar[int | None] = None  # None: any
    # Plastic synapses it runs (of scenario.model.PLASTICITY_RULES: the weight dependences of
    # PyNN's STDPMechanism, stdp_pl_synapse_hom) and, for the others, why not.
    plasticity_rules: ClassVar[tuple[str, ...]] = ()
    plasticity_refusal: ClassVar[str] = "this adapter builds static synapses only"
    compile_after_build: ClassVar[bool] = False  # code generation needs the built network
    uses_child_processes: ClassVar[bool] = False  # the simulation runs in a process of its own

    def __init__(self, threads: int = 1, options: dict[str, Any] | None = None):
        self.threads = threads
        self.options = dict(options or {})
        self.translations = Translations()  # a list of {"what", "detail", ...}: the record's "translations"
        self.info: dict[str, Any] = {}  # backend facts for the record (cache state, devices, ...)
        # Measured sub-phases the simulator reports itself, per snnbench phase (record["phases"][phase]["stages"]).
        self.phase_stages: dict[str, dict[str, Any]] = {}
        # Modelled figures for what could not be measured here (record["estimates"]; never mixed with phases).
        self.estimates: dict[str, Any] = {}
        # None: the run's output can be validated; else {"possible": False, "why": ...} (record["validation"]).
        self.validation: dict[str, Any] | None = None

    # ------------------------------------------------------------------ availability

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """(True, version) or (False, the reason, with what would make it available)."""
        if importlib.util.find_spec(cls.module) is None:
            return False, f"Python package {cls.distribution!r} is not installed; {cls.install_hint}"
        return True, f"{cls.distribution} {cls.version()}"

    @classmethod
    def version(cls) -> str:
        try:
            return importlib.metadata.version(cls.distribution)
        except importlib.metadata.PackageNotFoundError:
            return "unknown"

    @classmethod
    def provenance_packages(cls) -> tuple[str, ...]:
        return cls.packages or (cls.distribution,)

    # ------------------------------------------------------------------ options

    @classmethod
    def declared_option(cls, name: str) -> Option | None:
        return next((o for o in cls.accepted_options if o.name == name), None)

    @classmethod
    def describe_options(cls) -> str:
        """The accepted options with their types and defaults, on one line."""
        if not cls.accepted_options:
            return f"{cls.name} accepts no options"
        return f"{cls.name} accepts: " + ", ".join(o.describe() for o in cls.accepted_options)

    @classmethod
    def option_problems(cls, options: dict[str, Any] | None) -> list[str]:
        """One line per option that is unknown to this backend or has a value it does not accept."""
        problems = []
        for key, value in (options or {}).items():
            declared = cls.declared_option(key)
            if declared is None:
                problems.append(f"unknown option {key!r}")
            elif (why := declared.problem(value)) is not None:
                problems.append(why)
        return problems

    @classmethod
    def check_options(cls, options: dict[str, Any] | None) -> None:
        """Raise OptionError (one line: the problems, then what is accepted) unless every option is valid."""
        problems = cls.option_problems(options)
        if problems:
            raise OptionError(f"backend {cls.name}: {'; '.join(problems)} ({cls.describe_options()})")

    def option(self, name: str) -> Any:
        """The value of a declared option for this run: as given, else its declared default."""
        declared = self.declared_option(name)
        if declared is None:
            raise KeyError(f"{self.name} reads an option it does not declare: {name!r}")
        return self.options.get(name, declared.default)

    @classmethod
    def validation_possible(cls, options: dict[str, Any] | None = None) -> tuple[bool, str]:
        """(False, why) when this backend's runs cannot be validated here (e.g. no spike data)."""
        return True, ""

    def supports(self, resolved: ResolvedScenario, mode: str) -> list[str]:
        """Everything in `resolved` this backend cannot express; empty when it can run it."""
        problems = [f"{p} ({self.describe_options()})" for p in self.option_problems(self.options)]
        if mode not in self.connectivity_modes:
            problems.append(f"connectivity mode {mode!r} is not supported (supported: {', '.join(self.connectivity_modes)})")
        if self.max_threads is not None and self.threads > self.max_threads:
            problems.append(f"at most {self.max_threads} thread(s) supported, {self.threads} asked for")
        for name, pop in resolved.populations.items():
            allowed = self.source_types if pop.is_source else self.cell_types
            if pop.cell_type not in allowed:
                why = self.cell_type_refusals.get(pop.cell_type)
                problems.append(f"population {name}: cell type {pop.cell_type} is not supported" + (f": {why}" if why else ""))
        for proj in resolved.projections:
            if not isinstance(proj.connector, self.connectors):
                problems.append(f"projection {proj.label}: connector {proj.connector.type} is not supported")
            synapse = proj.spec.synapse
            if synapse is not None and synapse.rule not in self.plasticity_rules:
                problems.append(f"projection {proj.label}: plastic synapse {synapse.describe} is not supported ({self.plasticity_refusal})")
        return problems + self.scenario_problems(resolved, self.options)

    @classmethod
    def scenario_problems(cls, resolved: ResolvedScenario, options: dict[str, Any] | None) -> list[str]:
        """What of `resolved` (with the run's options) this backend refuses whatever the run:
        checked with the scenario, before any run starts (bad input). `supports()` includes them."""
        return cls.multiplicity_problems(resolved) + cls.option_scenario_problems(resolved, options)

    @classmethod
    def option_scenario_problems(cls, resolved: ResolvedScenario, options: dict[str, Any] | None) -> list[str]:
        """What a run's options ask of `resolved` that this backend cannot do (an integration method
        for a cell type it has no such scheme for): checked with the scenario, before any run (bad input)."""
        return []

    @classmethod
    def multiplicity_problems(cls, resolved: ResolvedScenario) -> list[str]:
        """The sources that need several spikes per step when this backend delivers one at most
        (checked with the scenario, before any run: bad input)."""
        if cls.source_multiplicity:
            return []
        problems = []
        for name, pop in resolved.sources.items():
            p = spikes_per_step(pop.spec, resolved.dt)
            if p > 1:
                problems.append(
                    f"population {name}: {pop.cell_type} at {pop.spec.parameters.rate:g} Hz has rate x dt = {p:g} "
                    f"> 1 spike per {resolved.dt:g} ms step; {cls.name} {cls.one_spike_per_step} (use a smaller dt, more "
                    "sources at a lower rate, or a backend that takes several spikes per step)")
            k, when = array_multiplicity(pop, resolved)
            if k > 1:  # NEST's spike_generator delivers each of them: merging would change the input
                problems.append(
                    f"population {name}: {pop.cell_type} gives one source {k} spikes in the {resolved.dt:g} ms step "
                    f"ending at {when:g} ms (two times in one step are two spikes, as NEST's spike_generator "
                    f"delivers them); {cls.name} {cls.one_spike_per_step} (use a smaller dt or a backend that takes "
                    "several spikes per step)")
        return problems

    # ------------------------------------------------------------------ the phases

    def load(self) -> None:
        """Import the simulator (timed as the 'import' phase)."""

    def compile(self, resolved: ResolvedScenario) -> None:
        """Compile or generate code ahead of the build, where the backend has such a step."""

    @abstractmethod
    def build(self, resolved: ResolvedScenario, mode: str, network: Network | None) -> None:
        """Create the network. `network` holds the realised arrays in exact mode, else None."""

    @abstractmethod
    def run(self) -> None:
        """Simulate resolved.simtime."""

    @abstractmethod
    def collect(self) -> SimulationOutput:
        """Spikes and v of what the scenario records."""

    def write_native(self, fmt: str, stem: str, annotations: dict[str, Any]) -> list[str] | None:
        """Write `fmt` with the simulator's own writer; None: snnbench's writers are used."""
        return None

    def close(self) -> None:
        """Release simulator resources."""

    # ------------------------------------------------------------------ helpers

    def translate(self, what: str, detail: str, **data: Any) -> None:
        """Record one change made to the model on its way to the simulator."""
        self.translations.add(what, detail, **data)

    def needs_harness_arrays(self, proj) -> bool:
        """True when a projection is built from the harness's arrays even in native mode: an
        explicit list, or a connector (or distance-dependent delay) this simulator has no
        native equivalent for. (Adapters on the template get this from its `fallback_reason`.)"""
        if isinstance(proj.connector, GIVEN_CONNECTORS):
            return True
        if not isinstance(proj.connector, self.native_connectors):
            return True
        return isinstance(proj.delay, DistanceDelay) and not self.native_distance_delays

    def harness_arrays(self, proj, resolved: ResolvedScenario, network: Network | None = None,
                       why: str | None = None) -> ProjectionArrays:
        """The realised arrays of one projection (from `network` in exact mode), recording the
        fallback when native mode has to use them (`why`: the reason, when it is not the connector)."""
        return shared.harness_arrays(proj, resolved, network, self.translations, why)

    def delay_steps(self, delays: np.ndarray, dt: float, label: str) -> np.ndarray:
        """Delays put on the dt grid (at least one step), recording the rounding if any."""
        return shared.delay_steps(delays, dt, label, self.translations)
