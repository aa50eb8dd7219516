"""What the PyNN-based adapters (pynn.nest, spinnaker) share: one scenario item -> one PyNN call.

Each adapter subclasses `PyNNBackend`, sets `self.sim` (the pyNN.<simulator> module),
`self.RandomDistribution`, `self.resolved`, `self.pops` (name -> Population) and implements its
own cells, sources and setup. Shared here:

    _create_populations  cells, then sources, into self.pops
    _native_poisson      a SpikeSourcePoisson's parameters when the simulator draws its spikes
    _value        a constant or a scenario distribution as a PyNN value (RandomDistribution)
    _rng          the RNG of one random item (a seeded NumpyRNG; an adapter whose simulator
                  seeds random items its own way returns None)
    _connector    the scenario's connectors as PyNN connectors (native mode)
    _connect      one projection: native connector, explicit list, or the harness's arrays
    _synapse      StaticSynapse with the scenario's weight and delay
    _delay        a constant delay put on the dt grid (recorded), or a distribution
    _record       record spikes / v of the first n cells of each population (whole populations
                  when all cells are recorded)
    to_ms         the factor to ms of a neo quantity's unit
"""

from __future__ import annotations

import functools
import math
from typing import Any, ClassVar

import numpy as np

from ..scenario.model import (
    AllToAll,
    FixedInDegree,
    FixedProbability,
    FixedTotalNumber,
    FromList,
    Normal,
    NormalClipped,
    OneToOne,
    PoissonSourcePopulation,
    Uniform,
)
from ..scenario.realise import Network, rng_for
from .base import Backend


class PyNNBackend(Backend):
    """Base of the adapters that drive a simulator through PyNN's API."""

    delay_grid_by: ClassVar[str] = "the simulator"  # who puts drawn delays on the dt grid (for the record)

    def _create_populations(self, network: Network | None) -> None:
        """self.pops: the cell populations, then the sources (each adapter's _create_cells / _create_source)."""
        self.pops: dict[str, Any] = {}
        self.projections: dict[str, Any] = {}
        for name, pop in self.resolved.cells.items():
            self.pops[name] = self._create_cells(name, pop, network)
        for name, pop in self.resolved.sources.items():
            self.pops[name] = self._create_source(name, pop, network)

    def _native_poisson(self, pop, network: Network | None) -> dict[str, float] | None:
        """SpikeSourcePoisson parameters for the simulator's own generator (native mode), else None:
        realised spike times are handed over as a SpikeSourceArray."""
        if not isinstance(pop.spec, PoissonSourcePopulation) or network is not None:
            return None
        prm = pop.spec.parameters
        params = {"rate": prm.rate, "start": prm.start}
        if math.isfinite(prm.duration):
            params["duration"] = prm.duration
        return params

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

    def _connector(self, conn, label: str):
        sim, rng = self.sim, self._rng("edges", label)
        allow_self = getattr(conn, "allow_self_connections", True)
        if isinstance(conn, FixedProbability):
            return sim.FixedProbabilityConnector(conn.p, allow_self_connections=allow_self, rng=rng)
        if isinstance(conn, FixedInDegree):
            return sim.FixedNumberPreConnector(conn.n, allow_self_connections=allow_self,
                                               with_replacement=conn.with_replacement, rng=rng)
        if isinstance(conn, FixedTotalNumber):
            return sim.FixedTotalNumberConnector(conn.n, allow_self_connections=allow_self,
                                                 with_replacement=conn.with_replacement, rng=rng)
        if isinstance(conn, OneToOne):
            return sim.OneToOneConnector()
        if isinstance(conn, AllToAll):
            return sim.AllToAllConnector(allow_self_connections=allow_self)
        raise TypeError(conn)

    def _connect(self, proj, network: Network | None):
        sim, dt = self.sim, self.resolved.dt
        pre, post = self.pops[proj.pre], self.pops[proj.post]
        conn = proj.connector
        if network is not None or (self.needs_harness_arrays(proj) and not isinstance(conn, FromList)):
            arrays = self.harness_arrays(proj, self.resolved, network)
            delays = self.delay_steps(arrays.delay, dt, proj.label) * dt
            rows = np.column_stack([arrays.pre_idx, arrays.post_idx, arrays.weight, delays]).astype(float)
            connector = sim.FromListConnector(rows, column_names=("weight", "delay"))
            synapse = sim.StaticSynapse()
        elif isinstance(conn, FromList):
            rows = np.asarray(conn.connections, dtype=float)
            if rows.shape[1:] == (4,):
                rows[:, 3] = self.delay_steps(rows[:, 3], dt, proj.label) * dt
                connector = sim.FromListConnector(rows, column_names=("weight", "delay"))
                synapse = sim.StaticSynapse()
            else:
                connector = sim.FromListConnector(rows.reshape(-1, 2))
                synapse = self._synapse(proj)
        else:
            connector = self._connector(conn, proj.label)
            synapse = self._synapse(proj)
        return sim.Projection(pre, post, connector, synapse_type=synapse, receptor_type=proj.receptor, label=proj.label)

    def _synapse(self, proj):
        weight = self._value(proj.weight, "weights", proj.label)
        return self.sim.StaticSynapse(weight=weight, delay=self._delay(proj))

    def _delay(self, proj):
        dt, delay = self.resolved.dt, proj.delay
        if isinstance(delay, float):
            on_grid = max(1, round(delay / dt)) * dt
            if abs(on_grid - delay) > 1e-9:
                self.translate("delay", f"{proj.label}: {delay} ms put on the {dt} ms grid ({on_grid} ms)")
            return on_grid
        self.translate("delay", f"{proj.label}: delays drawn from a distribution; {self.delay_grid_by} puts each on the {dt} ms grid")
        return self._value(delay, "delays", proj.label)

    def _record(self) -> None:
        self.recording: list[str] = []
        for name, pop in self.resolved.populations.items():
            cells = self.pops[name]
            n_spk, n_v = pop.n_record_spikes, pop.n_record_v
            if n_spk:
                (cells if n_spk == pop.size else cells[:n_spk]).record("spikes")
            if n_v:
                (cells if n_v == pop.size else cells[:n_v]).record("v")
            if n_spk or n_v:
                self.recording.append(name)


def to_ms(quantity) -> float:
    """The factor to ms of a quantity's unit (quantities parses unit names slowly: once per unit)."""
    return _ms_factor(quantity.dimensionality.string)


@functools.lru_cache(maxsize=None)
def _ms_factor(unit: str) -> float:
    import quantities as pq

    return float(pq.Quantity(1.0, unit).rescale(pq.ms).magnitude)
