"""Published figures that measure what snnbench measures, kept in one place with their sources.

Two kinds, each labelled with the hardware it was measured on (a figure without its machine is
not comparable with ours):

- `MODELS`: per-phase cost models of the seed form T = a N + b N simtime / 1000 (ms; N = N_pop,
  simtime in ms) fitted by the OpSNN measurements of PyNN on NEST and on SpiNNaker;
- `RATES`: wall-clock seconds per second of biological time for the Vogels-Abbott COBA network
  (4000 cells), one figure per simulator.

`comparisons` sets each beside the same quantity in a results store (our model's coefficients,
or our median sim time per biological second at the same size and threads), and `overlays`
gives the report's scaling figures the published lines and points to draw beside ours.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from .record import RunRecord

OPSNN = ("OpSNN measurements of PyNN on NEST and on SpiNNaker (brainhack project; author and year not recorded "
         "in the figures we have)")
COBA_SOURCE = ("Ahmad N., Isbister J.B., Smithe T.St.C., Stringer S.M. (2018), Spike: a GPU optimised spiking neural network s"
               "imulator, bioRxiv 461160: the Vogels-Abbott benchmark with the same weight matrices loaded by every simulator, one thread of an Intel i7-4770K, GPUs an NVIDIA GTX 1070; every simulator but NEST integrates by forward Euler")


@dataclass(frozen=True)
class PublishedModel:
    """T = a N + b N simtime / 1000 (ms) for one phase."""

    label: str  # what it is, for tables and legends
    backends: tuple[str, ...]  # snnbench backends measuring the same thing, best match first
    phase: str  # sim, write
    a_ms_per_neuron: float
    b_ms_per_neuron_per_s: float  # per second of biological time
    hardware: str
    source: str
    format: str | None = None  # the data format, for the write phase

    def predict_ms(self, N: float, simtime_ms: float) -> float:
        return self.a_ms_per_neuron * N + self.b_ms_per_neuron_per_s * N * simtime_ms / 1000.0


@dataclass(frozen=True)
class PublishedRate:
    """Wall-clock seconds of simulation per second of biological time."""

    label: str
    backends: tuple[str, ...]
    scenario: str
    N_pop: int
    threads: int | None  # None: a GPU
    seconds_per_biological_second: float
    hardware: str
    source: str


MODELS = (
    PublishedModel("NEST sim (through PyNN)", ("pynn.nest", "nest"), "sim", -0.007, 2.841, "hardware not stated", OPSNN),
    PublishedModel("NIX writing (PyNN on NEST)", ("pynn.nest", "nest"), "write", 19.2, 0.13, "hardware not stated", OPSNN, "nix"),
    PublishedModel("SpiNNaker sim", ("spinnaker",), "sim", 24.5, 6.5, "a SpiNNaker machine (board not stated)", OPSNN),
)

RATES = (
    PublishedRate("GeNN", ("genn.cuda",), "vogels-abbott-coba", 4000, None, 0.084, "NVIDIA GTX 1070 GPU", COBA_SOURCE),
    PublishedRate("Brian2 standalone", ("brian2.standalone",), "vogels-abbott-coba", 4000, 1, 0.25,
                  "Intel i7-4770K, 1 thread", COBA_SOURCE),
    PublishedRate("ANNarchy", ("annarchy",), "vogels-abbott-coba", 4000, 1, 0.47, "Intel i7-4770K, 1 thread", COBA_SOURCE),
    PublishedRate("NEST", ("nest",), "vogels-abbott-coba", 4000, 1, 15.4, "Intel i7-4770K, 1 thread", COBA_SOURCE),
)


def _machine(records: list[RunRecord]) -> str:
    cpus = sorted({((r.provenance or {}).get("machine") or {}).get("cpu") or "?" for r in records})
    return ", ".join(cpus)


def comparisons(records: list[RunRecord], models: list[Any], scenario: str) -> list[dict[str, Any]]:
    """Each published figure beside ours (None where this store does not measure it, with why).

    Models: our fitted model, in the same phase, of the first matching backend (one thread
    preferred; for writing, runs in the same data format); its N and N*simtime coefficients are
    the comparable ones. Rates: the median sim wall time per biological second of our runs of
    that backend on the same scenario, at the same N_pop and threads.
    """
    from .fit import Configurations

    ok = [r for r in records if r.ok and r.scenario == scenario]
    label = Configurations(ok) if ok else None
    described: dict[str, dict[str, Any]] = {}  # configuration label -> backend, threads, formats
    for r in ok:
        d = described.setdefault(label(r), {"backend": r.backend, "threads": r.threads or 1, "formats": set(), "runs": []})
        d["formats"].add(r.data_format)
        d["runs"].append(r)
    rows = []
    for p in MODELS:
        ours, why = None, f"no {p.phase}-phase model of {' or '.join(p.backends)} in these runs" + (
            f" written as {p.format}" if p.format else "")
        candidates = sorted((m for m in models if m.phase == p.phase and m.backend in described
                             and described[m.backend]["backend"] in p.backends
                             and (p.format is None or described[m.backend]["formats"] == {p.format})),
                            key=lambda m: (p.backends.index(described[m.backend]["backend"]), described[m.backend]["threads"]))
        if candidates:
            m = candidates[0]
            coef = {c.term: c.value for c in m.coefficients}
            ours = {"configuration": m.backend, "a_ms_per_neuron": coef.get("N"),
                    "b_ms_per_neuron_per_s": coef["N*simtime"] * 1000 if "N*simtime" in coef else None,
                    "model": m.formula(), "machine": _machine(described[m.backend]["runs"])}
        rows.append({"kind": "model", "published": p, "ours": ours, "why_not": None if ours else why})
    for p in RATES:
        ours, why = None, f"no runs of {' or '.join(p.backends)} at N_pop {p.N_pop:,}" + (
            f" with {p.threads} thread(s)" if p.threads else "") + " in these runs"
        if scenario != p.scenario:
            why = f"a figure for {p.scenario}, not {scenario}"
        else:
            for backend in p.backends:
                runs = [r for r in ok if r.backend == backend and r.resolved.N_pop == p.N_pop
                        and (p.threads is None or (r.threads or 1) == p.threads) and r.wall_s("sim") is not None]
                if runs:
                    values = [r.wall_s("sim") / (r.resolved.simtime / 1000.0) for r in runs]
                    ours = {"backend": backend, "median": statistics.median(values), "min": min(values), "max": max(values),
                            "n": len(values), "machine": _machine(runs)}
                    break
        rows.append({"kind": "rate", "published": p, "ours": ours, "why_not": None if ours else why})
    return rows


def overlays(scenario: str, backends_shown: set[str], phase: str) -> tuple[list[PublishedModel], list[PublishedRate]]:
    """The published models and rates to draw in a `phase` scaling figure whose points come from
    `backends_shown` (backend names): only beside a backend we measured."""
    models = [p for p in MODELS if p.phase == phase and p.format is None and set(p.backends) & backends_shown]
    rates = [p for p in RATES if phase == "sim" and p.scenario == scenario and set(p.backends) & backends_shown]
    return models, rates
