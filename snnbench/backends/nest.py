"""nest: NEST through PyNEST (the `nest-simulator` wheel), OpenMP threads.

Translation of the PyNN standard models (PyNN units -> NEST units):
    IF_cond_exp -> iaf_cond_exp   (C_m pF = 1000 cm, g_L nS = C_m / tau_m, weights nS = 1000 uS)
    IF_curr_exp -> iaf_psc_exp    (C_m pF = 1000 cm, weights pA = 1000 nA)
    inhibitory synapses: negative NEST weights (NEST routes them to the inhibitory receptor)
    SpikeSourcePoisson (native) -> poisson_generator -> parrot_neuron, one train per source
        shared by all its targets, as pyNN.nest does; the generator->parrot hop adds one dt.
    SpikeSourcePoisson (exact), SpikeSourceArray -> spike_generator with the realised times.
Connectors (native): pairwise_bernoulli, fixed_indegree, fixed_total_number, one_to_one,
all_to_all, with NEST's own random parameters for weights, delays and initial V. Populations on
a grid are created at their positions (nest.spatial.free on the wrapped unit square, in
snnbench's cell order), and gaussian_in_degree becomes NEST's spatial fixed_indegree with a
Gaussian kernel on distance, distance-dependent delays a NEST spatial parameter.
Exact mode: every edge, weight, delay and initial V from the harness's realisation.
"""

from __future__ import annotations

import math
import os

import numpy as np

from ..output import PopulationOutput, SimulationOutput, spikes_from_steps
from ..scenario.model import (
    AllToAll,
    DistanceDelay,
    FixedInDegree,
    FixedProbability,
    FixedTotalNumber,
    FromList,
    GaussianInDegree,
    Normal,
    NormalClipped,
    OneToOne,
    PoissonSourcePopulation,
    Uniform,
)
from ..scenario.realise import Network, positions
from ..scenario.resolve import ResolvedScenario
from .base import NATIVE_CONNECTORS, Backend

NEST_MODELS = {"IF_cond_exp": "iaf_cond_exp", "IF_curr_exp": "iaf_psc_exp"}


def nest_cell_parameters(cell_type: str, p) -> dict[str, float]:
    """PyNN parameters (nF, ms, mV, nA) -> NEST parameters (pF, ms, mV, pA, nS)."""
    params = {
        "C_m": p.cm * 1000.0,
        "E_L": p.v_rest,
        "V_reset": p.v_reset,
        "V_th": p.v_thresh,
        "t_ref": p.tau_refrac,
        "tau_syn_ex": p.tau_syn_E,
        "tau_syn_in": p.tau_syn_I,
        "I_e": p.i_offset * 1000.0,
    }
    if cell_type == "IF_cond_exp":
        params.update(g_L=p.cm * 1000.0 / p.tau_m, E_ex=p.e_rev_E, E_in=p.e_rev_I)
    else:
        params["tau_m"] = p.tau_m
    return params


def weight_factor(cell_type: str, receptor: str) -> float:
    """Multiply a PyNN weight by this to get NEST's (unit and sign)."""
    sign = -1.0 if (cell_type == "IF_cond_exp" and receptor == "inhibitory") else 1.0
    return 1000.0 * sign


class NestBackend(Backend):
    name = "nest"
    title = "NEST via PyNEST"
    distribution = "nest-simulator"
    module = "nest"
    where = "CPU (OpenMP threads)"
    native_connectors = NATIVE_CONNECTORS + (GaussianInDegree,)
    native_distance_delays = True

    def load(self) -> None:
        os.environ.setdefault("PYNEST_QUIET", "1")  # no banner in the run log
        import nest

        self.nest = nest
        nest.verbosity = nest.VerbosityLevel.ERROR

    # ------------------------------------------------------------------ build

    def build(self, resolved: ResolvedScenario, mode: str, network: Network | None) -> None:
        nest = self.nest
        self.resolved, self.mode, self.network = resolved, mode, network
        dt = resolved.dt
        nest.ResetKernel()
        nest.SetKernelStatus({
            "resolution": dt,
            "local_num_threads": self.threads,
            "rng_seed": resolved.seed % (2**31 - 2) + 1,
            "print_time": False,
        })
        self.info["threads_used"] = nest.GetKernelStatus("local_num_threads")
        self.nodes, self.recorders, self.meters, self.synapses = {}, {}, {}, {}
        self.source_steps: dict[str, list[np.ndarray]] = {}  # spike_generator sources: times known
        self.spatial: set[str] = set()  # populations created with positions (NEST spatial connections)
        for name, pop in resolved.cells.items():
            params = nest_cell_parameters(pop.cell_type, pop.spec.parameters)
            if pop.grid_shape is not None and network is None:
                layout = nest.spatial.free(pos=positions(pop.grid_shape).tolist(), extent=[1.0, 1.0], edge_wrap=True)
                nodes = nest.Create(NEST_MODELS[pop.cell_type], params=params, positions=layout)
                self.spatial.add(name)
            else:
                nodes = nest.Create(NEST_MODELS[pop.cell_type], pop.size, params=params)
            if network is not None:
                nodes.V_m = network.populations[name].v_init
            else:
                v = pop.spec.initial_values.v
                nodes.V_m = self._nest_value(pop.spec.parameters.v_rest if v is None else v, 1.0)
            self.nodes[name] = nodes
        for name, pop in resolved.sources.items():
            self.nodes[name] = self._create_source(name, pop, network)
        for proj in resolved.projections:
            before = nest.num_connections
            self._connect(proj, network)
            self.synapses[proj.label] = nest.num_connections - before
        self._create_recorders()

    def _create_source(self, name, pop, network):
        nest, dt = self.nest, self.resolved.dt
        if isinstance(pop.spec, PoissonSourcePopulation) and network is None:
            prm = pop.spec.parameters
            gen_params = {"rate": prm.rate, "start": prm.start}
            if math.isfinite(prm.duration):
                gen_params["stop"] = prm.start + prm.duration
            gens = nest.Create("poisson_generator", pop.size, params=gen_params)
            parrots = nest.Create("parrot_neuron", pop.size)
            nest.Connect(gens, parrots, "one_to_one", syn_spec={"delay": dt})
            self.translate(
                "SpikeSourcePoisson",
                f"{name}: poisson_generator -> parrot_neuron (one train per source, as pyNN.nest); the hop adds {dt} ms",
            )
            return parrots
        # A spike_generator sends the same times to every target: one node per source.
        steps = network.populations[name].spike_steps if network is not None else self._array_steps(pop)
        gens = nest.Create("spike_generator", pop.size)
        gens.set([{"spike_times": (s * dt).tolist()} for s in steps])
        self.source_steps[name] = steps
        return gens

    def _array_steps(self, pop):
        from ..scenario.realise import realise_spike_steps, rng_for

        return realise_spike_steps(pop, self.resolved, rng_for(self.resolved.seed, "spikes", pop.name))

    def _nest_value(self, value, factor: float):
        """A constant or a scenario distribution as a NEST value or random parameter."""
        nest = self.nest
        if isinstance(value, (int, float)):
            return float(value) * factor
        if isinstance(value, Uniform):
            lo, hi = sorted((value.low * factor, value.high * factor))
            return nest.random.uniform(min=lo, max=hi)
        if isinstance(value, Normal):
            return nest.random.normal(mean=value.mu * factor, std=value.sigma * abs(factor))
        if isinstance(value, NormalClipped):
            lo, hi = sorted((value.low * factor, value.high * factor))
            normal = nest.random.normal(mean=value.mu * factor, std=value.sigma * abs(factor))
            return nest.math.redraw(normal, min=lo, max=hi)
        raise TypeError(value)

    def _connect(self, proj, network: Network | None) -> None:
        nest, dt = self.nest, self.resolved.dt
        pre, post = self.nodes[proj.pre], self.nodes[proj.post]
        post_type = self.resolved.populations[proj.post].cell_type
        factor = weight_factor(post_type, proj.receptor)
        conn = proj.connector
        # spike_generator sources have no positions (a parrot layer would shift them by dt): a
        # distance-dependent projection from one is built from the harness's realisation
        unplaced = isinstance(conn, GaussianInDegree) and network is None and not {proj.pre, proj.post} <= self.spatial
        if network is not None or unplaced or self.needs_harness_arrays(proj):
            why = (f"gaussian_in_degree from {proj.pre}, which NEST holds without positions (spike_generator)"
                   if unplaced else None)
            arrays = self.harness_arrays(proj, self.resolved, network, why=why)
            if arrays.size == 0:
                return
            steps = self.delay_steps(arrays.delay, dt, proj.label)
            pre_ids = np.asarray(pre.tolist(), dtype=np.int64)[arrays.pre_idx]
            post_ids = np.asarray(post.tolist(), dtype=np.int64)[arrays.post_idx]
            nest.Connect(pre_ids, post_ids, "one_to_one", syn_spec={
                "synapse_model": "static_synapse", "weight": arrays.weight * factor, "delay": steps * dt,
            })
            return
        allow_self = getattr(conn, "allow_self_connections", True)
        if isinstance(conn, FixedProbability):
            spec = {"rule": "pairwise_bernoulli", "p": conn.p, "allow_autapses": allow_self}
        elif isinstance(conn, FixedInDegree):
            spec = {"rule": "fixed_indegree", "indegree": conn.n, "allow_autapses": allow_self, "allow_multapses": conn.with_replacement}
        elif isinstance(conn, FixedTotalNumber):
            spec = {"rule": "fixed_total_number", "N": conn.n, "allow_autapses": allow_self, "allow_multapses": conn.with_replacement}
        elif isinstance(conn, OneToOne):
            spec = {"rule": "one_to_one"}
        elif isinstance(conn, AllToAll):
            spec = {"rule": "all_to_all", "allow_autapses": allow_self}
        elif isinstance(conn, GaussianInDegree):
            # sources drawn with probability proportional to a Gaussian of their distance: the
            # distribution of Gaussian offsets snapped to the grid, up to the discretisation
            kernel = nest.spatial_distributions.gaussian(nest.spatial.distance, std=conn.sigma)
            spec = {"rule": "fixed_indegree", "indegree": conn.n, "p": kernel, "allow_autapses": allow_self,
                    "allow_multapses": True}
        else:
            raise TypeError(conn)
        delay = proj.delay
        if isinstance(delay, DistanceDelay):
            if math.isfinite(delay.velocity):  # NEST rounds each delay to the grid itself
                delay_value = nest.spatial.distance / delay.velocity + delay.offset
            else:
                delay = delay.offset
        if isinstance(delay, float):
            on_grid = max(1, round(delay / dt)) * dt
            if abs(on_grid - delay) > 1e-9:
                self.translate("delay", f"{proj.label}: {delay} ms put on the {dt} ms grid ({on_grid} ms)")
            delay_value = on_grid
        elif not isinstance(delay, DistanceDelay):
            delay_value = self._nest_value(delay, 1.0)
        syn = {"synapse_model": "static_synapse", "weight": self._nest_value(proj.weight, factor), "delay": delay_value}
        nest.Connect(pre, post, spec, syn_spec=syn)

    def _create_recorders(self) -> None:
        nest, dt = self.nest, self.resolved.dt
        for name, pop in self.resolved.populations.items():
            n_spk, n_v = pop.n_record_spikes, pop.n_record_v
            nodes = self.nodes[name]
            if n_spk and name not in self.source_steps:  # generators' spikes are known: no recorder needed
                rec = nest.Create("spike_recorder")
                nest.Connect(nodes[:n_spk], rec)
                self.recorders[name] = rec
            if n_v:
                mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": dt})
                nest.Connect(mm, nodes[:n_v])
                self.meters[name] = mm

    # ------------------------------------------------------------------ run, collect

    def run(self) -> None:
        self.nest.Simulate(self.resolved.simtime)

    def collect(self) -> SimulationOutput:
        resolved, dt = self.resolved, self.resolved.dt
        simtime = resolved.simtime
        if self.meters:
            # NEST hands a multimeter its last min_delay of samples only on the next update:
            # advance by min_delay to flush them, and keep nothing after simtime.
            self.nest.Simulate(self.nest.GetKernelStatus("min_delay"))
        out = {}
        for name, pop in resolved.populations.items():
            nodes = self.nodes[name]
            first = nodes[0].global_id
            recorded = np.arange(pop.n_record_spikes, dtype=np.int64)
            if name in self.recorders:
                ev = self.recorders[name].get("events")
                index = np.asarray(ev["senders"], dtype=np.int64) - first
                times = np.asarray(ev["times"], dtype=float)
                keep = times <= simtime + 1e-9
                index, times = index[keep], times[keep]
            elif name in self.source_steps:  # spike_generator sources: the times are known
                index, times = spikes_from_steps(self.source_steps[name], recorded, dt)
            else:
                index, times = np.empty(0, np.int64), np.empty(0)
            po = PopulationOutput(name, pop.size, pop.cell_type, recorded, index, times)
            if name in self.meters:
                ev = self.meters[name].get("events")
                senders = np.asarray(ev["senders"], dtype=np.int64) - first
                t = np.asarray(ev["times"], dtype=float)
                vm = np.asarray(ev["V_m"], dtype=float)
                keep = t <= simtime + 1e-9
                senders, t, vm = senders[keep], t[keep], vm[keep]
                order = np.lexsort((t, senders))
                k = pop.n_record_v
                po.v_index = np.arange(k, dtype=np.int64)
                po.v = vm[order].reshape(k, -1).T.copy()
                po.v_times = t[order][: po.v.shape[0]]
            out[name] = po
        return SimulationOutput(simtime=resolved.simtime, dt=dt, populations=out, synapses=dict(self.synapses))

    def close(self) -> None:
        if hasattr(self, "nest"):
            self.nest.ResetKernel()
