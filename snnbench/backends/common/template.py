"""The template adapter: `build()` and `collect()` written once, small hooks per simulator.

As PyNN's `common/` does for `pyNN.nest` and `pyNN.brian2`, `SimulatorBackend` walks the resolved
scenario and takes every decision the adapters share; a simulator module implements only what
differs between simulators. What the template decides:

  * initial v: the harness's realised values in exact mode (an array), else the scenario's value
    (a constant, or a distribution the simulator draws itself), v_rest when the scenario gives none;
  * sources: a SpikeSourcePoisson in native mode goes to the simulator's own generator when the
    adapter has one (`create_poisson_source` returns True); every other source (exact mode,
    SpikeSourceArray, event streams) gets the realised spike steps (t = step * dt, >= 1), and their
    spikes are known without recording them;
  * connections: exact mode, an explicit list, a connector outside `native_connectors`, a
    distance-dependent delay the simulator cannot express, or an adapter's own reason
    (`why_not_native`) -> the harness's arrays (recorded), with delays put on the dt grid;
    otherwise `connect_native`, which may still return False (then the arrays, recorded);
  * delays and refractory periods on the dt grid (`constant_delay_steps`, `refractory_steps`),
    each rounding recorded;
  * recording: the first n cells of each population, spikes and/or v, as the scenario says;
  * collecting: spikes and v cut at simtime, sorted, into SimulationOutput; with `has_output`
    False (a virtual SpiNNaker board: nothing ran) no cell counts as recorded (rates n/a, not 0 Hz).

Hooks (all but the optional ones must be implemented):

    setup(resolved)                          reset the simulator, set dt, threads, seed     optional
    create_cells(name, pop, v_init)          v_init: np.ndarray (exact) or the scenario value
    create_poisson_source(name, pop) -> bool the simulator's own Poisson generator           optional (False)
    create_array_source(name, pop, steps)    steps: per source, sorted int64 spike steps, a step
                                             repeated once per spike it carries (only for a backend
                                             declaring `source_multiplicity`); may return the steps
                                             the simulator really emits (None: as given)
    why_not_native(proj) -> str | None       an adapter's reason to use the arrays           optional
    connect_native(proj) -> bool             False: fall back to the arrays (recorded)          optional (False)
    connect_arrays(proj, arrays, steps)      edges, weights, delays (in steps) of the harness
    record(name, pop, n_spikes, n_v)         record spikes / v of the first n cells
    finish_build()                           anything after the network is complete           optional
    read_spikes(name, pop) -> (index, t ms)  recorded spikes, local indices, NEST's time stamps
    read_v(name, pop) -> (t ms, v)           v of the first n_v cells, shape (samples, n_v)
    synapse_count(label) -> int              synapses created for one projection
    before_collect()                         e.g. flush the simulator's recorders            optional
    read_weights(proj) -> (pre, post, w)     every synapse of a plastic projection, now, PyNN units   (plastic)

Weights of plastic projections at recording times: a simulator that can stop and resume runs
`self.run_sampling_weights(advance)` in its run() (advance(ms) simulates that long; the weights
are read with `read_weights` at each recording time, in any order of synapses, the same set each
time: `weight_matrix` puts each sample in the first's order); one that cannot (Brian2 standalone)
overrides `weight_matrix(proj)` with its own recorder's samples. `collect()` turns them into
the output's `WeightSamples` (all synapses, or a histogram above the scenario's max_synapses).
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ...output import PopulationOutput, SimulationOutput, WeightSamples, spikes_from_steps
from ...scenario.model import DistanceDelay, PoissonSourcePopulation
from ...scenario.realise import Network, ProjectionArrays, realise_spike_steps, rng_for, step_multiplicity
from ...scenario.resolve import ResolvedPopulation, ResolvedScenario
from ..base import GIVEN_CONNECTORS, Backend
from .translations import constant_delay_steps, refractory_steps

_AT_SIMTIME = 1e-9  # ms: a sample stamped simtime (up to rounding) is kept


def aligned_weights(pre: np.ndarray, post: np.ndarray, sample: tuple[np.ndarray, np.ndarray, np.ndarray],
                    label: str) -> np.ndarray:
    """A weight sample's weights in the synapse order of (pre, post). A simulator may hand its
    synapses in another order at each read (NEST: each thread appends its connections when it
    finishes); multapses keep their relative order (a stable sort), as one simulator reads them."""
    p, q, w = sample
    if np.array_equal(p, pre) and np.array_equal(q, post):
        return w
    first, this = np.lexsort((post, pre)), np.lexsort((q, p))
    if p.size != pre.size or not (np.array_equal(p[this], pre[first]) and np.array_equal(q[this], post[first])):
        raise RuntimeError(f"{label}: the synapses read at two recording times differ")
    out = np.empty_like(w)
    out[first] = w[this]
    return out


@dataclass(frozen=True)
class PoissonWindow:
    """A SpikeSourcePoisson's parameters for a simulator's own generator (native mode)."""

    rate: float  # Hz
    start: float  # ms
    duration: float  # ms, may be inf

    @property
    def stop(self) -> float:
        return self.start + self.duration

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.duration)



def weight_output(proj, pre: np.ndarray, post: np.ndarray, weights: np.ndarray) -> WeightSamples:
    """The output's WeightSamples of one recorded projection from every synapse's (pre, post) and its
    weights at the recording times (shape (times, synapses)): all of them, or a histogram above the
    scenario's max_synapses, and the first k synapses' trajectories in (pre, post) order."""
    spec = proj.spec.record.weights
    order = np.lexsort((post, pre))  # (pre, post) order; a stable sort keeps multapses as read
    weights = weights[:, order]
    k = min(spec.synapses, order.size)
    out = WeightSamples(times=np.asarray(spec.times, float), chosen=np.stack([pre[order][:k], post[order][:k]], axis=1),
                        trajectory=weights[:, :k].copy())
    if order.size <= spec.max_synapses:
        out.values = weights
    else:
        w_min, w_max = proj.spec.synapse.bounds
        high = w_max if np.isfinite(w_max) else max(float(weights.max()), w_min + 1e-12)
        out.bin_edges = np.linspace(w_min, high, spec.bins + 1)
        out.counts = np.stack([np.histogram(np.clip(row, w_min, high), out.bin_edges)[0] for row in weights]).astype(np.int64)
    return out


class SimulatorBackend(Backend):
    """A Backend whose build() and collect() are the template's; see the module docstring."""

    # Record sources whose spikes the harness realised, and read them back from the simulator.
    record_known_sources: ClassVar[bool] = False
    # False when the simulator produced no spike or v data (set by the adapter before collect()).
    has_output: bool = True

    # ------------------------------------------------------------------ build

    def build(self, resolved: ResolvedScenario, mode: str, network: Network | None) -> None:
        self.resolved, self.mode, self.network = resolved, mode, network
        # Sources whose spike steps the harness realised: their spikes are known, never recorded.
        self.source_steps: dict[str, list[np.ndarray]] = {}
        self.setup(resolved)
        for name, pop in resolved.cells.items():
            self.create_cells(name, pop, self.initial_v(name, pop))
        for name, pop in resolved.sources.items():
            if self.exact or not isinstance(pop.spec, PoissonSourcePopulation) or not self.create_poisson_source(name, pop):
                steps = self.spike_steps(name, pop)
                if not isinstance(pop.spec, PoissonSourcePopulation):
                    self._record_array_grid(name, steps)
                emitted = self.create_array_source(name, pop, steps)
                self.source_steps[name] = steps if emitted is None else emitted
        for proj in resolved.projections:
            self._connect(proj)
        for name, pop in resolved.populations.items():
            known = name in self.source_steps and not self.record_known_sources
            n_spikes = 0 if known else pop.n_record_spikes
            n_v = 0 if pop.is_source else pop.n_record_v
            if n_spikes or n_v:
                self.record(name, pop, n_spikes, n_v)
        self._weight_samples: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        self.finish_build()

    @property
    def exact(self) -> bool:
        """True in exact mode: every random item comes from the harness's realisation."""
        return self.network is not None

    def initial_v(self, name: str, pop: ResolvedPopulation):
        """The realised initial v (array, exact mode), else the scenario's value (v_rest if none)."""
        if self.exact:
            return self.network.populations[name].v_init
        v = pop.spec.initial_values.v
        return pop.spec.parameters.resting_v if v is None else v

    def _record_array_grid(self, name: str, steps: list[np.ndarray]) -> None:
        # The grid rule changes what a simulator is given when times share a step: say so.
        shared = [step_multiplicity(s)[1] for s in steps if s.size > 1]
        extra = sum(int((c - 1).sum()) for c in shared)
        if extra:
            self.translate("SpikeSourceArray", f"{name}: times put on the {self.resolved.dt:g} ms grid as NEST's "
                           f"spike_generator stamps them; {extra} spike(s) share a step with another of their "
                           f"source (up to {max(int(c.max()) for c in shared)} in one step), each delivered",
                           shared_step_spikes=extra)

    def spike_steps(self, name: str, pop: ResolvedPopulation) -> list[np.ndarray]:
        """The realised spike steps of a source (the same in both modes for a SpikeSourceArray)."""
        if self.exact:
            return self.network.populations[name].spike_steps
        return realise_spike_steps(pop, self.resolved, rng_for(self.resolved.seed, "spikes", pop.name))

    @staticmethod
    def poisson_window(pop: ResolvedPopulation) -> PoissonWindow:
        prm = pop.spec.parameters
        return PoissonWindow(rate=prm.rate, start=prm.start, duration=prm.duration)

    def _connect(self, proj) -> None:
        why = self.fallback_reason(proj)
        if why is None and self.connect_native(proj):
            return
        arrays = self.harness_arrays(proj, self.resolved, self.network, why=why or None)
        if arrays.size:
            self.connect_arrays(proj, arrays, self.delay_steps(arrays.delay, self.resolved.dt, proj.label))

    def fallback_reason(self, proj) -> str | None:
        """None when `proj` may be connected natively; else why it is built from the harness's arrays
        ("" for exact mode and explicit lists, which are not fallbacks and are not recorded as such)."""
        if self.exact or isinstance(proj.connector, GIVEN_CONNECTORS):
            return ""
        if not isinstance(proj.connector, self.native_connectors):
            return f"no native equivalent of {proj.connector.type}"
        if isinstance(proj.delay, DistanceDelay) and not self.native_distance_delays:
            return f"no native equivalent of {proj.connector.type} with distance-dependent delays"
        return self.why_not_native(proj)

    def constant_delay_steps(self, delay: float, label: str) -> int:
        return constant_delay_steps(delay, self.resolved.dt, label, self.translations)

    def refractory_steps(self, name: str, tau_refrac: float) -> int:
        return refractory_steps(tau_refrac, self.resolved.dt, name, self.translations)

    # ------------------------------------------------------------------ weights of plastic projections

    def weight_recordings(self) -> list:
        """The projections whose weights the scenario records."""
        return [proj for proj in self.resolved.projections if proj.spec.record.weights is not None]

    def weight_steps(self, proj) -> list[int]:
        return [int(round(t / self.resolved.dt)) for t in proj.spec.record.weights.times]

    def run_sampling_weights(self, advance) -> None:
        """Simulate simtime in segments ending at the weight-recording times (advance(ms) runs one
        segment), reading every recorded projection's weights at each of its times."""
        dt, n_steps = self.resolved.dt, self.resolved.n_steps
        wanted = {proj.label: (proj, set(self.weight_steps(proj))) for proj in self.weight_recordings()}
        done = 0
        for stop in sorted(set().union(*(steps for _, steps in wanted.values()))) + [n_steps]:
            if stop > done:
                advance(round((stop - done) * dt, 9))
                done = stop
            for label, (proj, steps) in wanted.items():
                if stop in steps:
                    pre, post, w = self.read_weights(proj)
                    self._weight_samples.setdefault(label, []).append(
                        (np.asarray(pre, np.int64), np.asarray(post, np.int64), np.asarray(w, float)))
                    steps.discard(stop)

    def weight_matrix(self, proj) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post, weights of shape (times, synapses)) of one recorded projection."""
        samples = self._weight_samples.get(proj.label, [])
        if len(samples) != len(proj.spec.record.weights.times):
            raise RuntimeError(f"{proj.label}: {len(samples)} weight samples for {len(proj.spec.record.weights.times)} "
                               "recording times (run() must call run_sampling_weights)")
        pre, post = samples[0][0], samples[0][1]
        return pre, post, np.stack([aligned_weights(pre, post, sample, proj.label) for sample in samples])

    def read_weights(self, proj) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(pre, post local indices, weight in PyNN units) of every synapse of a plastic projection, now."""
        raise NotImplementedError(f"{self.name} cannot read weights")

    def _weight_output(self, proj) -> WeightSamples:
        return weight_output(proj, *self.weight_matrix(proj))

    # ------------------------------------------------------------------ collect

    def collect(self) -> SimulationOutput:
        resolved, dt = self.resolved, self.resolved.dt
        self.before_collect()
        out = {}
        for name, pop in resolved.populations.items():
            recorded = np.arange(pop.n_record_spikes if self.has_output else 0, dtype=np.int64)
            if not self.has_output:
                index, times = np.empty(0, np.int64), np.empty(0)
            elif name in self.source_steps and not self.record_known_sources:
                index, times = spikes_from_steps(self.source_steps[name], recorded, dt)
            elif recorded.size:
                index, times = self.read_spikes(name, pop)
                index, times = np.asarray(index, dtype=np.int64), np.asarray(times, dtype=float)
                keep = times <= resolved.simtime + _AT_SIMTIME
                order = np.lexsort((index[keep], times[keep]))
                index, times = index[keep][order], times[keep][order]
            else:
                index, times = np.empty(0, np.int64), np.empty(0)
            po = PopulationOutput(name, pop.size, pop.cell_type, recorded, index, times)
            if pop.n_record_v and not pop.is_source and self.has_output:
                t, v = self.read_v(name, pop)
                t, v = np.asarray(t, dtype=float), np.asarray(v, dtype=float)
                keep = t <= resolved.simtime + _AT_SIMTIME
                po.v_index = np.arange(pop.n_record_v, dtype=np.int64)
                po.v_times, po.v = t[keep], v[keep]
            out[name] = po
        synapses = {proj.label: int(self.synapse_count(proj.label)) for proj in resolved.projections}
        weights = {proj.label: self._weight_output(proj) for proj in self.weight_recordings()} if self.has_output else {}
        return SimulationOutput(simtime=resolved.simtime, dt=dt, populations=out, synapses=synapses, weights=weights)

    # ------------------------------------------------------------------ the hooks

    def setup(self, resolved: ResolvedScenario) -> None:
        """Reset the simulator and set dt, threads and seed (before anything is created)."""

    @abstractmethod
    def create_cells(self, name: str, pop: ResolvedPopulation, v_init: Any) -> None:
        """Create a cell population; v_init is an array (exact mode) or a constant or distribution."""

    def create_poisson_source(self, name: str, pop: ResolvedPopulation) -> bool:
        """Create a SpikeSourcePoisson with the simulator's own generator (`self.poisson_window(pop)`);
        False: the simulator has none, the harness's realised spikes are used."""
        return False

    @abstractmethod
    def create_array_source(self, name: str, pop: ResolvedPopulation, steps: list[np.ndarray]) -> None:
        """Create a source emitting the given spike steps (a spike at step m has time m * dt)."""

    def why_not_native(self, proj) -> str | None:
        """A reason of the adapter's own to build `proj` from the harness's arrays; None: native."""
        return None

    def connect_native(self, proj) -> bool:
        """Connect with the simulator's own connector and random numbers; False (a simulator without
        connectors of its own): the harness's arrays, recorded as a translation."""
        return False

    @abstractmethod
    def connect_arrays(self, proj, arrays: ProjectionArrays, delay_steps: np.ndarray) -> None:
        """Connect the harness's edges with its weights and delays (in steps of dt, >= 1)."""

    @abstractmethod
    def record(self, name: str, pop: ResolvedPopulation, n_spikes: int, n_v: int) -> None:
        """Record the spikes of the first n_spikes cells and v of the first n_v cells."""

    def finish_build(self) -> None:
        """Anything after the network is complete (e.g. assemble a Brian2 Network)."""

    def before_collect(self) -> None:
        """Anything before the results are read (e.g. flush the recorders)."""

    @abstractmethod
    def read_spikes(self, name: str, pop: ResolvedPopulation) -> tuple[np.ndarray, np.ndarray]:
        """(local index, time ms) of the recorded spikes, stamped at the end of their step (as NEST)."""

    @abstractmethod
    def read_v(self, name: str, pop: ResolvedPopulation) -> tuple[np.ndarray, np.ndarray]:
        """(sample times ms, v mV of shape (samples, n_v)); samples at k dt, k = 1..n_steps."""

    @abstractmethod
    def synapse_count(self, label: str) -> int:
        """The number of synapses created for one projection (0 when none)."""
