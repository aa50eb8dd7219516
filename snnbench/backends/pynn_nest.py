"""pynn.nest: the same scenario through PyNN 0.13 on NEST 3.10, to measure what PyNN costs.

The network is the one `nest.py` builds, made with PyNN's API instead of PyNEST's:

    every cell type                 PyNN's standard cells with the scenario's parameters and
                                    initial values as they are (PyNN units); pyNN.nest maps them
                                    to iaf_cond_exp, iaf_psc_exp, iaf_psc_alpha, iaf_cond_alpha,
                                    aeif_cond_exp, izhikevich, hh_cond_exp_traub and converts the
                                    units itself (IF_curr_delta refused: pyNN.nest 0.13's class
                                    cannot initialise or record v)
    inhibitory weights              PyNN's convention (negative currents, positive conductances;
                                    pyNN.nest flips the sign of conductances for NEST)
    SpikeSourcePoisson (native)     pyNN.nest: poisson_generator -> parrot_neuron (min_delay hop)
    SpikeSourceArray, exact Poisson pyNN.nest: spike_generator -> parrot_neuron; PyNN shifts the
                                    generator's times back by min_delay so that the parrots fire
                                    at the given times (with precise_times off, see `build`; a
                                    spike at t <= min_delay cannot be expressed: dropped, counted)
    connectors (native)             FixedProbabilityConnector, FixedNumberPreConnector,
                                    FixedTotalNumberConnector, OneToOneConnector,
                                    AllToAllConnector (an explicit list, like every projection
                                    built from the harness's arrays: FromListConnector), with
                                    pyNN.random.NumpyRNG and RandomDistribution for weights,
                                    delays and initial v, drawn in Python by PyNN as in
                                    VAbenchmarks.py; one NumpyRNG per random item (see `_rng`)
    exact mode                      FromListConnector with every realised (pre, post, weight,
                                    delay), initial v from the realised array, and a
                                    SpikeSourceArray with the realised spikes for every source

Settings: setup(timestep=dt, min_delay=dt, threads, rng_seed, spike_precision="on_grid").
min_delay = dt because the nest adapter's generator->parrot hop of one dt makes NEST's own
min_delay dt too, so both run the same kernel communication interval. "on_grid" because
pyNN.nest's default ("off_grid") would substitute the precise-timing models iaf_psc_exp_ps and
poisson_generator_ps: a different model from the nest adapter's.

Time conventions are NEST's (it is NEST underneath): spikes stamped at the end of their step;
v sampled at k*dt. PyNN's get_data also returns the initial value at t = 0: `collect` drops it
(snnbench's convention is k = 1..n_steps) and records that as a translation. PyNN runs one
min_delay past simtime so that NEST hands over all recorded data, and keeps only t <= simtime.

Writing: pickle and nix go through PyNN's own `Population.write_data` (neo PickleIO / NixIO),
one file per recording population at `stem.<population>.pkl` / `.nix` (as VAbenchmarks.py
writes; see `write_native` for why not one Assembly file); parquet and none use snnbench's
writers. Each file has PyNN's layout plus flat annotations (dt, simtime, the population's size,
cell type and recorded counts) that let `snnbench.io.read_output` / `read_outputs` read it.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..scenario.model import CELL_TYPES, DistanceDelay, FromList, NormalClipped, Uniform
from ..scenario.resolve import ResolvedScenario
from ._pynn_common import PyNNBackend, to_ms
from .nest import plasticity_problems

# The longest distance on the wrapped unit square (a distance-dependent delay's bound).
_MAX_TORUS_DISTANCE = math.sqrt(0.5)

# Messages that are noise here, each for a known, harmless reason (see _silence_known_noise).
_PYNN_EXTENSION_WARNINGS = (
    r"(Problem running cmake|Unable to compile NEST extensions|Unable to install NEST extensions"
    r"|Cannot find nest-config)"
)
_NEST_DEPRECATION_WARNINGS = (r"\s*\w+\(\) is deprecated and will be removed", r"\s*Provided for backward compatibility only")


class _DropUnsettableSynapticCurrent(logging.Filter):
    """pyNN.nest logs a warning for the initial synaptic currents (isyn_exc/isyn_inh) and
    conductances (gsyn_exc/gsyn_inh), which NEST's models do not let anyone set; they start at 0
    in NEST, which is PyNN's initial value."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        return not msg.startswith(tuple(f"NEST does not allow setting an initial value for {v}" for v in ("I_syn_", "g_ex", "g_in")))


def _silence_known_noise() -> None:
    """Silence what pyNN.nest and NEST print on every run that says nothing about the run.

    - `import pyNN.nest` tries to build PyNN's optional NEST extension (cmake + make) at every
      import; the wheel's nest-config names the build machine's compiler, so cmake fails and
      PyNN warns. The extension adds non-standard models only; the standard models used here
      do not need it (whether it loaded is recorded in backend_info).
    - NEST 3.10 deprecates SetStatus()/GetStatus() and set_verbosity(), which PyNN 0.13 still
      calls; the calls work and the values are the same.
    Only these messages, matched by text and by the module that issues them, are dropped;
    any other warning and every error still reaches the log.
    """
    warnings.filterwarnings("ignore", message=_PYNN_EXTENSION_WARNINGS, category=UserWarning, module=r"pyNN\.nest")
    for message in _NEST_DEPRECATION_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning, module=r"nest\.lib\.hl_api_helper")
    pynn_log = logging.getLogger("PyNN")
    if not any(isinstance(f, _DropUnsettableSynapticCurrent) for f in pynn_log.filters):
        pynn_log.addFilter(_DropUnsettableSynapticCurrent())


class PyNNNestBackend(PyNNBackend):
    name = "pynn.nest"
    title = "PyNN on NEST"
    distribution = "pynn"
    module = "pyNN"
    where = "CPU (OpenMP threads)"
    packages = ("pynn", "nest-simulator", "neo", "lazyarray")
    delay_grid_by = "NEST"
    # SpikeSourceArray: a time given k times is k spikes of NEST's spike_generator; SpikeSourcePoisson:
    # poisson_generator; both through parrot neurons, which pass the multiplicity on.
    source_multiplicity = True
    # PyNN's standard STDPMechanism; NEST's power-law rule has no PyNN standard model.
    plasticity_rules = ("AdditiveWeightDependence", "MultiplicativeWeightDependence", "AdditivePotentiationMultiplicativeDepression")
    plasticity_refusal = "PyNN has no standard model of NEST's stdp_pl_synapse_hom; use the nest backend"
    # PyNN's own classes; pyNN.nest maps them to the NEST models the nest adapter uses
    cell_types = tuple(t for t in CELL_TYPES if t not in ("IF_curr_delta", "GLIF_curr_alpha"))
    cell_type_refusals = {"IF_curr_delta": "pyNN.nest 0.13's IF_curr_delta has no variable map (PyNN's v -> NEST's V_m), "
                          "so its v can be neither initialised nor recorded (NEST: 'unknown recordable v')",
                          "GLIF_curr_alpha": "PyNN has no standard GLIF cell type, and no pyNN.nest native_cell_type "
                          "translation of glif_psc (its receptor ports per projection) is written here: use the nest backend"}

    def supports(self, resolved: ResolvedScenario, mode: str) -> list[str]:
        # pyNN.nest raises for what NEST's stdp_synapse cannot express (w_min != 0, axonal delays)
        problems = [p for p in plasticity_problems(resolved) if "stdp_pl_synapse_hom" not in p]
        for proj in resolved.projections:
            if proj.spec.synapse is not None and resolved.populations[proj.post].cell_type == "Izhikevich":
                problems.append(f"projection {proj.label}: plastic synapse onto Izhikevich: pyNN.nest 0.13 scales the weight "
                                "by the cell's receptor_scale (0.001, to mV) but not the weight dependence's w_max (x 1000 "
                                "only), so the rule would run with w_max and its steps 1000 times too large")
        return super().supports(resolved, mode) + problems

    @classmethod
    def available(cls) -> tuple[bool, str]:
        ok, why = super().available()
        if ok and importlib.util.find_spec("nest") is None:
            return False, f"pyNN.nest needs NEST: the Python package 'nest-simulator' is not installed; {cls.install_hint}"
        return ok, why

    def load(self) -> None:
        os.environ.setdefault("PYNEST_QUIET", "1")  # no NEST banner in the run log
        _silence_known_noise()
        import neo
        import pyNN.nest as sim
        import nest
        from pyNN.random import NumpyRNG, RandomDistribution

        self.sim, self.nest, self.neo = sim, nest, neo
        self.NumpyRNG, self.RandomDistribution = NumpyRNG, RandomDistribution
        self.info["pynn_nest_extensions_loaded"] = bool(sim.simulator.state.extensions_loaded)

    # ------------------------------------------------------------------ the template's hooks

    def setup(self, resolved: ResolvedScenario) -> None:
        super().setup(resolved)
        sim = self.sim
        dt = resolved.dt
        sim.setup(
            timestep=dt, min_delay=dt, max_delay=self._max_delay(resolved),
            threads=self.threads, rng_seed=resolved.seed % (2**31 - 2) + 1,
            spike_precision="on_grid", verbosity="error",
        )
        self.translate("spike_precision", "pyNN.nest setup(spike_precision='on_grid'): iaf_cond_exp, iaf_psc_exp and "
                       "poisson_generator, as the nest adapter (PyNN's default 'off_grid' would use the *_ps models)")
        self.translate("min_delay", f"setup(min_delay={dt:g} ms = dt): the source->parrot hop and the recorders' "
                       "connections use it, as the nest adapter's generator->parrot hop does")
        # pyNN.nest's setup sets spike_generator's precise_times = True even with on-grid spikes,
        # and gives the generator each SpikeSourceArray time minus min_delay, computed in floating
        # point: 83.1 - 0.1 = 83.00000000000001, which precise_times puts into the step after 83.0,
        # so the parrot fires one dt late (101 of 2062 input spikes in single-neuron). On the grid,
        # NEST rounds each time to the nearest tic instead, which is what on-grid times mean.
        self.nest.SetDefaults("spike_generator", {"precise_times": False})
        self.info["threads_used"] = int(sim.simulator.state.threads)
        self.info["spike_precision"] = sim.simulator.state.spike_precision
        self.info["min_delay_ms"] = float(sim.get_min_delay())
        if not self.exact:
            self.translate("NumpyRNG", "one pyNN.random.NumpyRNG per random item (connector, weights, delays, initial v), "
                           "seeded from the run's seed and the item's name: PyNN 0.13 with lazyarray 0.7 draws "
                           "connection maps and synapse parameters from a deep copy of the NumpyRNG it is given, so "
                           "one shared NumpyRNG (as in VAbenchmarks.py) gives projections of the same shape the same "
                           "random numbers (VA COBA: E->E onto E cells 0-799 repeats E->I, weights included)")
        self.synapses: dict[str, int] = {}

    def _max_delay(self, resolved: ResolvedScenario) -> float:
        """The longest delay in the network, on the dt grid (PyNN's setup needs one)."""
        dt = resolved.dt
        longest = dt
        if self.exact:
            for p in self.network.projections:
                if p.size:
                    longest = max(longest, float(np.rint(p.delay.max() / dt)) * dt)
            return longest
        for proj in resolved.projections:
            d = proj.delay
            if isinstance(proj.connector, FromList) and proj.connector.connections and len(proj.connector.connections[0]) == 4:
                high = max(row[3] for row in proj.connector.connections)
            elif isinstance(d, float):
                high = d
            elif isinstance(d, DistanceDelay):
                high = d.offset + (_MAX_TORUS_DISTANCE / d.velocity if math.isfinite(d.velocity) else 0.0)
            elif isinstance(d, Uniform):
                high = d.high
            elif isinstance(d, NormalClipped) and math.isfinite(d.high):
                high = d.high
            else:  # an unbounded normal: far beyond anything NumpyRNG will draw
                high = d.mu + 10 * d.sigma
            longest = max(longest, (math.floor(high / dt) + 1) * dt)
        return longest

    def create_cells(self, name, pop, v_init) -> None:
        # NEST counts the refractory period in whole steps
        if hasattr(pop.spec.parameters, "tau_refrac"):  # Izhikevich and HH_cond_exp have none
            self.refractory_steps(name, pop.spec.parameters.tau_refrac)
        super().create_cells(name, pop, v_init)

    def create_poisson_source(self, name, pop) -> bool:
        sim, dt, window = self.sim, self.resolved.dt, self.poisson_window(pop)
        self.translate(
            "SpikeSourcePoisson",
            f"{name}: pyNN.nest poisson_generator -> parrot_neuron (one train per source; the hop adds {dt:g} ms); "
            "pyNN.nest sets the generator's origin to 1 ms, so the source is active in "
            f"({window.start + 1:g}, {window.stop + 1:g}] ms (what pyNN.nest users get; not compensated)",
        )
        self.pops[name] = sim.Population(pop.size, sim.SpikeSourcePoisson(**self._poisson_parameters(pop)), label=name)
        return True

    def create_array_source(self, name, pop, steps):
        sim, dt = self.sim, self.resolved.dt
        # pyNN.nest sends SpikeSourceArray spikes through parrot neurons and gives the
        # spike_generator each time minus min_delay; NEST rejects times <= 0, so a spike at
        # t <= min_delay (here: the first step) cannot be expressed.
        early = sum(int(np.count_nonzero(s <= 1)) for s in steps)
        if early:
            steps = [s[s > 1] for s in steps]
            self.translate(
                "SpikeSourceArray",
                f"{name}: {early} spike(s) at t = {dt:g} ms dropped: pyNN.nest feeds spike_generator times minus "
                f"min_delay ({dt:g} ms) and NEST rejects t <= 0",
                dropped=early,
            )
        self.translate("SpikeSourceArray", f"{name}: pyNN.nest spike_generator -> parrot_neuron, times shifted back by "
                       "min_delay so that the parrots fire at the given times; spike_generator precise_times = False "
                       "(pyNN.nest's setup sets True, with which a time - min_delay that lands a rounding error past a "
                       "grid point fires one dt late)")
        from pyNN.parameters import Sequence

        times = [Sequence(s * dt) for s in steps]
        self.pops[name] = sim.Population(pop.size, sim.SpikeSourceArray(spike_times=times), label=name)
        return steps

    def _count_synapses(self, label: str, make):
        # Counted as nest.py counts them (free); PyNN's Projection.size() asks NEST for every
        # connection (0.5 s for VA COBA), which is not a cost a PyNN user pays.
        before = self.nest.num_connections
        projection = make()
        self.synapses[label] = self.nest.num_connections - before
        return projection

    def synapse_count(self, label: str) -> int:
        return self.synapses.get(label, 0)

    def before_collect(self) -> None:
        super().before_collect()
        if any(p.n_record_v for p in self.resolved.populations.values()):
            self.translate("v_times", "PyNN's get_data returns v at t = 0 (the initial value) and at k*dt; the t = 0 "
                           "sample is dropped (snnbench's convention: k = 1..n_steps)")

    def read_spikes(self, name, pop):
        # PyNN hands spikes over as neo's multiplexed SpikeTrainList (NEST ids, times):
        # read the arrays as they are instead of making a SpikeTrain per cell.
        ids, times = self._segment(name).spiketrains.multiplexed
        if not len(ids):
            return np.empty(0, np.int64), np.empty(0)
        index = np.asarray(self.pops[name].id_to_index(np.asarray(ids, dtype=np.int64)), dtype=np.int64)
        return index, np.asarray(times.magnitude, dtype=float) * to_ms(times)

    def read_v(self, name, pop):
        signal = next(s for s in self._segment(name).analogsignals if s.name == "v")
        _, times, v = _v_after_t0(signal, self.resolved.n_steps, self.resolved.dt, self.resolved.simtime)
        return times, v

    # ------------------------------------------------------------------ run

    def run(self) -> None:
        self.run_sampling_weights(self.sim.run)

    # ------------------------------------------------------------------ write

    def write_native(self, fmt: str, stem: str, annotations: dict[str, Any]) -> list[str] | None:
        """pickle and nix through PyNN's own Population.write_data (neo PickleIO / NixIO).

        One file per recording population, `stem.<population>.pkl` / `.nix`, as PyNN's
        VAbenchmarks.py writes them. Not one file through an Assembly: Assembly.write_data merges
        the populations' blocks with neo's Block.merge, which turns PyNN's multiplexed spike
        arrays into one SpikeTrain per cell (appended one by one, each checked against all
        before it): 0.85-0.97 s instead of 0.04 s for VA COBA's pickle, and a 4x larger file.
        """
        if fmt not in ("pickle", "nix"):
            return None
        base = {k: v if isinstance(v, (str, int, float, bool)) else str(v) for k, v in annotations.items() if v is not None}
        files = []
        for name in self.recording:
            path = Path(f"{stem}.{name}{'.pkl' if fmt == 'pickle' else '.nix'}")
            path.parent.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.unlink()
            meta = {**base, **self.file_annotations(name)}
            if fmt == "pickle":
                self.pops[name].write_data(self.neo.io.PickleIO(str(path)), annotations=meta)
            else:
                io = self.neo.io.NixIO(str(path), mode="ow")
                try:
                    self.pops[name].write_data(io, annotations=meta)
                finally:
                    io.close()
            files.append(str(path))
        return files

    def file_annotations(self, name: str) -> dict[str, Any]:
        """Flat annotations that let snnbench.io.read_output read PyNN's layout back."""
        pop = self.resolved.populations[name]
        return {
            "layout": "pyNN", "simtime_ms": self.resolved.simtime, "dt_ms": self.resolved.dt, "populations": name,
            f"size_{name}": pop.size, f"cell_type_{name}": pop.cell_type,
            f"record_spikes_{name}": pop.n_record_spikes, f"record_v_{name}": pop.n_record_v,
        }

    def close(self) -> None:
        if hasattr(self, "sim"):
            self.sim.end()


def _v_after_t0(signal, n_steps: int, dt: float, simtime: float):
    """(v_index, v_times, v) of a PyNN 'v' signal, without its t = 0 sample.

    PyNN runs one min_delay past simtime so that NEST has delivered every sample up to simtime;
    this checks that it did (n_steps samples after t = 0, the last at simtime).
    """
    times = np.asarray(signal.times.rescale("ms").magnitude, dtype=float)
    v = np.asarray(signal.rescale("mV").magnitude, dtype=float)
    keep = times > 0.5 * dt
    times, v = times[keep], v[keep]
    if times.size != n_steps or abs(times[-1] - simtime) > 1e-6 * max(1.0, simtime):
        raise RuntimeError(
            f"PyNN returned {times.size} v samples after t = 0 (last at {times[-1] if times.size else None} ms); "
            f"expected {n_steps}, the last at {simtime} ms")
    index = np.asarray(signal.array_annotations["channel_index"], dtype=np.int64)
    order = np.argsort(index, kind="stable")
    return index[order], times, v[:, order].copy()
