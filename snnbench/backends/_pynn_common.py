"""What the PyNN-based adapters (pynn.nest, spinnaker) share: the template's hooks as PyNN calls.

`PyNNBackend` is a `SimulatorBackend` (common/template.py): the template decides what is native
and what comes from the harness's arrays; here each decision becomes one PyNN call. Each adapter
sets `self.sim` (the pyNN.<simulator> module) and `self.RandomDistribution` in load(), calls
`super().setup()` from its own setup(), and implements its sources (create_poisson_source,
create_array_source). Shared here:

    create_cells  a Population of the PyNN standard cell, v initialised (`_initial_v`: an array,
                  or a PyNN value; the type's other initial values as they are;
                  `_population_kwargs`: extra Population arguments)
    _value        a constant or a scenario distribution as a PyNN value (RandomDistribution)
    _rng          the RNG of one random item (a seeded NumpyRNG; an adapter whose simulator
                  seeds random items its own way returns None)
    connect_native   the scenario's connector as PyNN's, StaticSynapse with its weight and delay
    connect_arrays   FromListConnector with the harness's weights and delays (on the dt grid)
    _project      sim.Projection, counted by `_count_synapses` (an adapter's cheap count, if any)
    record        spikes / v of the first n cells of each population (whole populations when all
                  cells are recorded); sources too (`record_known_sources`): PyNN's write_data
                  writes what PyNN recorded
    _segment      the neo Segment of one population, read once per collect
    to_ms         the factor to ms of a neo quantity's unit
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np

from ..scenario.model import Normal, NormalClipped, Uniform
from ..scenario.realise import rng_for
from .common.template import SimulatorBackend


# PyNN's connector for each connector type: (sim, conn, self connections allowed, rng) -> Connector.
PYNN_CONNECTORS = {
    "fixed_probability": lambda sim, conn, allow_self, rng: sim.FixedProbabilityConnector(
        conn.p, allow_self_connections=allow_self, rng=rng),
    "fixed_in_degree": lambda sim, conn, allow_self, rng: sim.FixedNumberPreConnector(
        conn.n, allow_self_connections=allow_self, with_replacement=conn.with_replacement, rng=rng),
    "fixed_total_number": lambda sim, conn, allow_self, rng: sim.FixedTotalNumberConnector(
        conn.n, allow_self_connections=allow_self, with_replacement=conn.with_replacement, rng=rng),
    "one_to_one": lambda sim, conn, allow_self, rng: sim.OneToOneConnector(),
    "all_to_all": lambda sim, conn, allow_self, rng: sim.AllToAllConnector(allow_self_connections=allow_self),
}


class PyNNBackend(SimulatorBackend):
    """Base of the adapters that drive a simulator through PyNN's API."""

    delay_grid_by: ClassVar[str] = "the simulator"  # who puts drawn delays on the dt grid (for the record)
    record_known_sources = True

    def setup(self, resolved) -> None:
        self.pops: dict[str, Any] = {}
        self.projections: dict[str, Any] = {}
        self.recording: list[str] = []
        self._segments: dict[str, Any] = {}

    # ------------------------------------------------------------------ cells

    def _population_kwargs(self, name: str) -> dict[str, Any]:
        """Extra arguments of sim.Population for population `name`."""
        return {}

    def _initial_v(self, v_init, name: str):
        """The realised array (exact mode), else the scenario's value as a PyNN value."""
        return v_init if isinstance(v_init, np.ndarray) else self._value(v_init, "v_init", name)

    def create_cells(self, name, pop, v_init) -> None:
        sim = self.sim
        cells = sim.Population(pop.size, getattr(sim, pop.cell_type)(**pop.spec.parameters.model_dump()), label=name,
                               **self._population_kwargs(name))
        others = {k: v for k, v in pop.spec.initial_values.model_dump().items() if k != "v"}  # w, u, m, h, n
        cells.initialize(v=self._initial_v(v_init, name), **others)
        self.pops[name] = cells

    def _poisson_parameters(self, pop) -> dict[str, float]:
        """A SpikeSourcePoisson's parameters for PyNN (duration only when finite)."""
        window = self.poisson_window(pop)
        params = {"rate": window.rate, "start": window.start}
        if window.bounded:
            params["duration"] = window.duration
        return params

    # ------------------------------------------------------------------ values

    def _rng(self, *keys: str):
        """A NumpyRNG of its own for one random item, seeded from the run's seed and the item's name.

        Not one NumpyRNG for everything: PyNN 0.13's connectors evaluate their random connection
        map and synapse parameters through lazyarray, which deep-copies the RandomDistribution
        and with it the NumpyRNG, so the generator passed in never advances and every projection
        of the same shape would draw the same numbers.
        """
        seed = int(rng_for(self.resolved.seed, self.name, *keys).integers(1, 2**31 - 1))
        return self.NumpyRNG(seed=seed)

    def _value(self, value, *keys: str):
        """A constant or a scenario distribution as a PyNN value (RandomDistribution on a NumpyRNG)."""
        RD = self.RandomDistribution
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, Uniform):
            return RD("uniform", low=value.low, high=value.high, rng=self._rng(*keys))
        if isinstance(value, Normal):
            return RD("normal", mu=value.mu, sigma=value.sigma, rng=self._rng(*keys))
        if isinstance(value, NormalClipped):
            return RD("normal_clipped", mu=value.mu, sigma=value.sigma, low=value.low, high=value.high, rng=self._rng(*keys))
        raise TypeError(value)

    # ------------------------------------------------------------------ connections

    def _connector(self, conn, label: str):
        """The scenario's connector as PyNN's; None when PyNN has none (the template then uses the arrays)."""
        make = PYNN_CONNECTORS.get(conn.type)
        if make is None:
            return None
        return make(self.sim, conn, getattr(conn, "allow_self_connections", True), self._rng("edges", label))

    def connect_native(self, proj) -> bool:
        connector = self._connector(proj.connector, proj.label)
        if connector is None:
            return False
        self._project(proj, connector, self._synapse(proj))
        return True

    def connect_arrays(self, proj, arrays, delay_steps) -> None:
        rows = np.column_stack([arrays.pre_idx, arrays.post_idx, arrays.weight, delay_steps * self.resolved.dt]).astype(float)
        synapse = self.sim.StaticSynapse() if proj.spec.synapse is None else self._plastic_synapse(proj, None, None)
        self._project(proj, self.sim.FromListConnector(rows, column_names=("weight", "delay")), synapse)

    def _project(self, proj, connector, synapse) -> None:
        sim = self.sim
        make = lambda: sim.Projection(self.pops[proj.pre], self.pops[proj.post], connector, synapse_type=synapse,  # noqa: E731
                                      receptor_type=proj.receptor, label=proj.label)
        self.projections[proj.label] = self._count_synapses(proj.label, make)

    def _count_synapses(self, label: str, make):
        """Make one projection (`make()`) and return it; an adapter that can count its synapses
        cheaply does so here."""
        return make()

    def _synapse(self, proj):
        weight = self._value(proj.weight, "weights", proj.label)
        if proj.spec.synapse is not None:
            return self._plastic_synapse(proj, weight, self._delay(proj))
        return self.sim.StaticSynapse(weight=weight, delay=self._delay(proj))

    def _plastic_synapse(self, proj, weight, delay):
        """PyNN's own STDPMechanism with the scenario's components (weight and delay None: from the list)."""
        sim, syn = self.sim, proj.spec.synapse
        td, wd = syn.timing_dependence, syn.weight_dependence
        timing = sim.SpikePairRule(tau_plus=td.tau_plus, tau_minus=td.tau_minus, A_plus=td.A_plus, A_minus=td.A_minus)
        weights = getattr(sim, wd.type)(w_min=wd.w_min, w_max=wd.w_max)
        given = {k: v for k, v in (("weight", weight), ("delay", delay)) if v is not None}
        return sim.STDPMechanism(timing_dependence=timing, weight_dependence=weights,
                                 dendritic_delay_fraction=syn.dendritic_delay_fraction, **given)

    def read_weights(self, proj):
        rows = np.asarray(self.projections[proj.label].get("weight", format="list"), dtype=float).reshape(-1, 3)
        return rows[:, 0].astype(np.int64), rows[:, 1].astype(np.int64), rows[:, 2]

    def _delay(self, proj):
        dt, delay = self.resolved.dt, proj.delay
        if isinstance(delay, float):
            return self.constant_delay_steps(delay, proj.label) * dt
        self.translate("delay", f"{proj.label}: delays drawn from a distribution; {self.delay_grid_by} puts each on the {dt} ms grid")
        return self._value(delay, "delays", proj.label)

    # ------------------------------------------------------------------ recording

    def record(self, name, pop, n_spikes, n_v) -> None:
        cells = self.pops[name]
        if n_spikes:
            (cells if n_spikes == pop.size else cells[:n_spikes]).record("spikes")
        if n_v:
            (cells if n_v == pop.size else cells[:n_v]).record("v")
        self.recording.append(name)

    def _segment(self, name: str):
        """The neo Segment PyNN returns for one population (read once per collect)."""
        if name not in self._segments:
            self._segments[name] = self.pops[name].get_data(gather=True, clear=False).segments[0]
        return self._segments[name]

    def before_collect(self) -> None:
        self._segments = {}


def to_ms(quantity) -> float:
    """The factor to ms of a quantity's unit (quantities parses unit names slowly: once per unit)."""
    return _ms_factor(quantity.dimensionality.string)


@functools.lru_cache(maxsize=None)
def _ms_factor(unit: str) -> float:
    import quantities as pq

    return float(pq.Quantity(1.0, unit).rescale(pq.ms).magnitude)
